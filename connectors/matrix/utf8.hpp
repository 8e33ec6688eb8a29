#pragma once
// UTF-8 well-formedness (RFC 3629 §4) for text that ends up in Matrix JSON: nlohmann::json
// refuses to serialise a string that is not well-formed, and the HTML parser passes stray
// bytes through unchanged, so text is repaired before it is parsed.

#include <string>
#include <string_view>

namespace coibridge::connectors::matrix {

// Well-formed per RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// The text with every ill-formed sequence and every NUL replaced by U+FFFD, so that it is
// well-formed and fits a C string.
std::string repair_utf8(std::string_view text);

}  // namespace coibridge::connectors::matrix
