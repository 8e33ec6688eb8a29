#pragma once
// Base64 (RFC 4648 §4, with padding, no line breaks) for SASL initial responses and AUTH
// LOGIN lines (RFC 4954, RFC 4616).

#include <string>
#include <string_view>

namespace coibridge::core {

std::string base64_encode(std::string_view bytes);

}  // namespace coibridge::core
