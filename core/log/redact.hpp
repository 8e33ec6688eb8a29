#pragma once
// Masking credentials in text bound for logs or error messages (database URLs, HTTP request
// lines and headers, libpq errors).

#include <string>
#include <string_view>

namespace coibridge::core {

// Returns `text` with credential values replaced by "***":
//   - URL passwords, any scheme:  postgresql://user:secret@host/db -> postgresql://user:***@host/db
//   - key=value pairs whose key ends in password, passwd, secret, token or apikey/api_key
//     (case-insensitive), as in libpq conninfo (password=x, password='se cret') and query
//     strings (?access_token=x&since=1 -> ?access_token=***&since=1)
//   - Authorization header values (the scheme word stays) and "Bearer <token>" anywhere
// Text without such patterns is returned unchanged. Redaction is best effort, for defence in
// depth: code must still avoid logging secrets in the first place.
std::string redact_secrets(std::string_view text);

}  // namespace coibridge::core
