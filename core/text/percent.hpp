#pragma once
// Percent-encoding of URI components (RFC 3986 §2.1).

#include <string>
#include <string_view>

namespace coibridge::core {

// Percent-encodes everything but RFC 3986 unreserved characters (§2.3), with upper-case
// digits (§2.1): for one path segment or query value (a Matrix room id, a user id in
// ?user_id=).
std::string url_encode(std::string_view text);

// Decodes "%XX" (either case) in a path segment. A '%' not followed by two hex digits stays
// as it is: a lenient reading, for segments a peer may have left unencoded.
std::string percent_decode(std::string_view text);

}  // namespace coibridge::core
