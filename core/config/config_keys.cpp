#include <array>
#include <cctype>

#include "core/config/config_internal.hpp"

namespace coibridge::core::config_internal {
namespace {

// A day. Longer delays, or bodies over 1 GiB, are far more likely typos than intent.
constexpr std::int64_t kMaxDelayMs = 24LL * 60 * 60 * 1000;
constexpr std::int64_t kMaxBodyBytes = 1LL << 30;

constexpr std::array<std::string_view, 7> kLevels = {"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};
constexpr std::array<std::string_view, 2> kFormats = {"text", "json"};  // in the order of LogOutput

template <typename T>
std::optional<std::string> set_integer(std::string_view text, std::int64_t min, std::int64_t max,
                                       T& out) {
  std::int64_t value = 0;
  if (auto error = parse_integer(text, min, max, value)) return error;
  out = static_cast<T>(value);
  return std::nullopt;
}

std::optional<std::string> set_millis(std::string_view text, std::chrono::milliseconds& out) {
  std::int64_t value = 0;
  if (auto error = parse_integer(text, 1, kMaxDelayMs, value)) return error;
  out = std::chrono::milliseconds(value);
  return std::nullopt;
}

std::optional<std::string> set_word(std::string_view text, std::span<const std::string_view> words,
                                    std::string& out) {
  if (auto error = parse_one_of(text, words)) return error;
  out = std::string(text);
  return std::nullopt;
}

const std::array<ScalarKey, 11> kScalarKeys = {{
    {"database", "url", "a string", true,
     [](std::string_view text, Config& config) -> std::optional<std::string> {
       config.database.url = std::string(text);
       return std::nullopt;
     }},
    {"database", "data_dir", "a string", false,
     [](std::string_view text, Config& config) -> std::optional<std::string> {
       if (text.empty()) return "must not be empty";
       config.database.data_dir = std::string(text);
       return std::nullopt;
     }},
    {"database", "pg_bin_dir", "a string", false,
     [](std::string_view text, Config& config) -> std::optional<std::string> {
       config.database.pg_bin_dir = std::string(text);
       return std::nullopt;
     }},
    {"database", "pool_size", "an integer", false,
     [](std::string_view text, Config& config) {
       return set_integer(text, 1, 64, config.database.pool_size);
     }},
    {"http", "listen", "a string like 127.0.0.1:8480", false,
     [](std::string_view text, Config& config) {
       return parse_listen(text, config.http.host, config.http.port);
     }},
    {"http", "max_body_bytes", "an integer", false,
     [](std::string_view text, Config& config) {
       return set_integer(text, 1, kMaxBodyBytes, config.http.max_body_bytes);
     }},
    {"logging", "level", "a string", false,
     [](std::string_view text, Config& config) {
       return set_word(text, kLevels, config.logging.level);
     }},
    {"logging", "format", "a string", false,
     [](std::string_view text, Config& config) {
       return parse_enum(text, kFormats, config.logging.format);
     }},
    {"delivery", "max_attempts", "an integer", false,
     [](std::string_view text, Config& config) {
       return set_integer(text, 1, 1000, config.delivery.max_attempts);
     }},
    {"delivery", "backoff_initial_ms", "an integer", false,
     [](std::string_view text, Config& config) {
       return set_millis(text, config.delivery.backoff_initial);
     }},
    {"delivery", "backoff_max_ms", "an integer", false,
     [](std::string_view text, Config& config) {
       return set_millis(text, config.delivery.backoff_max);
     }},
}};

}  // namespace

std::span<const ScalarKey> scalar_keys() { return kScalarKeys; }

const ScalarKey* find_scalar_key(std::string_view section, std::string_view key) {
  for (const auto& candidate : kScalarKeys) {
    if (candidate.section == section && candidate.key == key) return &candidate;
  }
  return nullptr;
}

bool is_scalar_section(std::string_view section) {
  for (const auto& candidate : kScalarKeys) {
    if (candidate.section == section) return true;
  }
  return false;
}

std::string key_path(const ScalarKey& key) {
  std::string path(key.section);
  path += '.';
  path += key.key;
  return path;
}

std::string env_var_name(const ScalarKey& key) {
  std::string name = "COIBRIDGE_";
  for (char c : key_path(key)) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

}  // namespace coibridge::core::config_internal
