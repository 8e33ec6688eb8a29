#pragma once
// Hexadecimal digits for the escapes several protocols define: "%XX" in URLs (RFC 3986
// §2.1), "=xx" in Matrix localparts and puppet addresses, lower-case digests.

#include <string>

namespace coibridge::core {

// 0-15, or -1 when `c` is not a hex digit of either case.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Like hex_digit_value for escapes whose canonical form is lower case only: there "=4A" and
// "=4a" must not both decode, or one id would have two spellings.
constexpr int lower_hex_digit_value(char c) {
  return (c >= 'A' && c <= 'F') ? -1 : hex_digit_value(c);
}

enum class HexCase { kLower, kUpper };

// Appends the two hex digits of `byte`.
inline void append_hex(std::string& out, unsigned char byte, HexCase hex_case = HexCase::kLower) {
  const char* digits = hex_case == HexCase::kLower ? "0123456789abcdef" : "0123456789ABCDEF";
  out += digits[byte >> 4];
  out += digits[byte & 0x0F];
}

}  // namespace coibridge::core
