#pragma once
// Helpers for tests of configuration sections: the core's and each connector type's.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "core/config/config.hpp"

namespace coibridge::core {

// Readable failure output for error lists.
inline void PrintTo(const ConfigError& error, std::ostream* os) {
  *os << "{" << error.path << " @" << error.line << ": " << error.message << "}";
}

namespace config_test {

inline constexpr const char* kToken = "0123456789abcdef0123456789abcdef";  // 32 characters
inline constexpr const char* kOtherToken = "fedcba9876543210fedcba9876543210";

inline EnvLookup no_env() {
  return [](const std::string&) { return std::optional<std::string>(); };
}

inline EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A valid admin section; tests append other sections after it (it is 5 lines long).
inline std::string admin_section() {
  return std::string("admin:\n  tokens:\n    - name: ops\n      token: ") + kToken +
         "\n      scopes: [read]\n";
}

inline auto error_is(const std::string& path, int line, const std::string& message_part) {
  using ::testing::AllOf;
  using ::testing::Field;
  using ::testing::HasSubstr;
  return AllOf(Field(&ConfigError::path, path), Field(&ConfigError::line, line),
               Field(&ConfigError::message, HasSubstr(message_part)));
}

// One error expected: returns it for further checks.
inline ConfigError single_error(const ConfigLoad& result) {
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(result.errors, ::testing::SizeIs(1));
  return result.errors.empty() ? ConfigError{} : result.errors.front();
}

// The one instance of T a loaded configuration has.
template <class T>
const T& only_instance(const ConfigLoad& result) {
  static const T empty{};
  EXPECT_TRUE(result.config.has_value());
  if (!result.config || result.config->connectors.size() != 1) {
    ADD_FAILURE() << "expected exactly one connector instance";
    return empty;
  }
  const auto* typed = dynamic_cast<const T*>(result.config->connectors.front().get());
  EXPECT_NE(typed, nullptr);
  return typed != nullptr ? *typed : empty;
}

}  // namespace config_test
}  // namespace coibridge::core
