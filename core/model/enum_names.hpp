#pragma once
// The text of an enum value from a table of names in the order of its enumerators, for the
// enums whose values are 0, 1, ... . `Last` is the last enumerator: a table that does not
// name every value fails to compile.

#include <array>
#include <cstddef>

namespace coibridge::core {

template <auto Last, std::size_t N>
const char* enum_name(decltype(Last) value, const std::array<const char*, N>& names,
                      const char* otherwise) {
  static_assert(static_cast<std::size_t>(Last) + 1 == N, "one name per enumerator");
  const auto index = static_cast<std::size_t>(value);
  return index < N ? names[index] : otherwise;
}

}  // namespace coibridge::core
