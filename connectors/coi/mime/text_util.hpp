#pragma once
// Small string helpers shared by the parser and the composer (internal to the module).

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "core/text/ascii.hpp"

namespace coibridge::connectors::coi::mime::detail {

using core::ascii::iequals;
inline std::string lower_ascii(std::string_view s) { return core::ascii::lower(s); }

// The lines of text split at LF, without the LF; a trailing LF gives a last empty line.
inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (;;) {
    const auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(text.substr(start));
      return lines;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The domain of an address is case-insensitive (RFC 5321 §2.4); the local part is kept.
inline std::string normalize_address(std::string_view address) {
  address = trim(address);
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return std::string(address);
  return std::string(address.substr(0, at + 1)) + lower_ascii(address.substr(at + 1));
}

// A group id both specs accept as such: COI wants 12+ characters of [0-9A-Za-z_-]
// (coi-client-spec §"Group Messages"), Delta Chat 11-32 base64url characters (src/tools.rs
// validate_id); 8 to 64 of those characters covers both and keeps junk out.
inline bool valid_group_id(std::string_view id) {
  return id.size() >= 8 && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
         });
}

}  // namespace coibridge::connectors::coi::mime::detail
