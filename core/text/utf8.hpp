#pragma once
// UTF-8 well-formedness (RFC 3629 §4). Text that ends up in JSON must be well-formed
// (nlohmann::json refuses to serialise anything else), HTML parsers pass stray bytes through
// unchanged, and IMAP mailbox names are converted code point by code point (RFC 3501 §5.1.3).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coibridge::core {

// Well-formed per RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// The text with every ill-formed sequence and every NUL replaced by U+FFFD, so that it is
// well-formed and fits a C string.
std::string repair_utf8(std::string_view text);

// The code points of well-formed text; nullopt when it is not well-formed.
std::optional<std::vector<char32_t>> decode_utf8(std::string_view text);

// Appends the UTF-8 form of `cp`, which must be a Unicode scalar value.
void append_utf8(std::string& out, char32_t cp);
// At most `max_bytes` of the text, cut before a code point, never inside one.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

}  // namespace coibridge::core
