#pragma once
// Shared by the config translation units only; not part of the module's API.

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.hpp"

namespace coibridge::core::config_internal {

using Errors = std::vector<ConfigError>;

inline void add_error(Errors& errors, std::string path, int line, std::string message) {
  errors.push_back(ConfigError{std::move(path), line, std::move(message)});
}

// One scalar setting. The YAML walker and the environment overrides both store values through
// `apply`, so a value is validated the same way wherever it comes from.
struct ScalarKey {
  std::string_view section;   // "database"
  std::string_view key;       // "pool_size"
  std::string_view expected;  // "an integer": what a non-scalar YAML node is told to be
  bool secret = false;        // may also be read from the file <key>_file (or <NAME>_FILE) names
  // Stores `text` in `config`, or returns why it is unacceptable. Messages never quote the
  // value: it may be a credential (a database URL with a password, for one).
  std::optional<std::string> (*apply)(std::string_view text, Config& config);
};

std::span<const ScalarKey> scalar_keys();
const ScalarKey* find_scalar_key(std::string_view section, std::string_view key);
bool is_scalar_section(std::string_view section);
std::string key_path(const ScalarKey& key);      // "database.pool_size"
std::string env_var_name(const ScalarKey& key);  // "COIBRIDGE_DATABASE_POOL_SIZE"

// Where a scalar got its final value, so checks that span several keys can blame the right
// source after the file and the environment have both been applied.
struct Origin {
  std::string path;  // key path, or the env var name
  int line = 0;
};
using Origins = std::map<std::string, Origin, std::less<>>;  // by key path

// Value parsers shared by the key table. Each returns the reason for rejecting the text.
std::optional<std::string> parse_integer(std::string_view text, std::int64_t min, std::int64_t max,
                                         std::int64_t& out);
std::optional<std::string> parse_listen(std::string_view text, std::string& host,
                                        std::uint16_t& port);
std::optional<std::string> parse_one_of(std::string_view text,
                                        std::span<const std::string_view> words);

// A word of `words` as the enum value of the same position.
template <class E, std::size_t N>
std::optional<std::string> parse_enum(std::string_view text,
                                      const std::array<std::string_view, N>& words, E& out) {
  if (auto error = parse_one_of(text, words)) return error;
  out = static_cast<E>(std::find(words.begin(), words.end(), text) - words.begin());
  return std::nullopt;
}

// The contents of a secret file (a password, a token) without one trailing newline, or the
// reason it cannot be had. The path may be quoted in errors; the contents never are.
std::optional<std::string> read_secret_file(const std::string& file, std::string& out);

void apply_env_overrides(const EnvLookup& env, Config& config, Origins& origins, Errors& errors);
void check_cross_key_rules(const Config& config, const Origins& origins, Errors& errors);

}  // namespace coibridge::core::config_internal
