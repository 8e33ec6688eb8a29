#pragma once
// ASCII case handling for protocol tokens (IMAP and SMTP keywords, HTTP field names, mail
// domains). Deliberately not locale-aware: protocol grammars are case-insensitive in ASCII
// only (RFC 5234 §2.3), and std::tolower depends on the process locale.

#include <algorithm>
#include <string>
#include <string_view>

namespace coibridge::core::ascii {

constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

inline std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), to_upper);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

}  // namespace coibridge::core::ascii
