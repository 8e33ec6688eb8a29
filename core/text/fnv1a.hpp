#pragma once
// FNV-1a, 64 bits: a stable digest of text for ids derived from other ids (a Message-ID per
// delivery target, a Matrix txnId, a spool file name). The same text gives the same digest in
// every build and on every machine, which std::hash does not promise. Not for anything whose
// collisions an attacker may choose.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace coibridge::core {

inline std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Sixteen lower-case hex digits.
inline std::string hex64(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace coibridge::core
