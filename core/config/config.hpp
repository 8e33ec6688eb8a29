#pragma once
// coi-bridge's configuration: the YAML file, then COIBRIDGE_<PATH> environment overrides.
// Connector sections belong to their types (core/config/config_section.hpp).
// Every problem is reported with the key path (and the file line where there is one); a
// configuration with any error is never used.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config/connector_config.hpp"

namespace coibridge::core {

struct AdminToken {
  std::string name;   // shown in logs and the audit log; the token itself never is
  std::string token;  // at least 32 characters
  bool can_read = false;
  bool can_write = false;  // "write" implies read
};

// The log line format (text, json).
enum class LogOutput { kText, kJson };

struct Config {
  struct Database {
    std::string url;                         // empty: embedded PostgreSQL in data_dir
    std::string data_dir = "data/postgres";  // embedded cluster directory (relative to cwd)
    std::string pg_bin_dir;                  // empty: the newest /usr/lib/postgresql/*/bin
    int pool_size = 4;                       // database threads and connections, 1..64
  } database;

  struct Http {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8480;                 // from `listen: host:port`; 0 = any free port
    std::size_t max_body_bytes = 1024 * 1024;  // larger bodies get 413
  } http;

  struct Admin {
    std::vector<AdminToken> tokens;  // at least one
  } admin;

  struct Logging {
    std::string level = "info";  // trace|debug|info|warn|error|critical|off
    LogOutput format = LogOutput::kText;
  } logging;

  struct Delivery {
    int max_attempts = 10;  // then the delivery is dead-lettered, 1..1000
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{300000};
  } delivery;

  // Every instance under connectors:, in file order, each of its type's struct.
  std::vector<ConnectorConfigPtr> connectors;
};

struct ConfigError {
  std::string path;  // "http.listen", "admin.tokens[1].scopes", or the env var name
  int line = 0;      // 1-based line in the file; 0 when not from the file
  std::string message;
};

// "FILE:LINE: PATH: MESSAGE", or "FILE: PATH: MESSAGE" when line is 0. Errors about the file as a
// whole (missing, YAML syntax) have an empty path and read "FILE:LINE: MESSAGE".
std::string format_config_error(const std::string& file, const ConfigError& error);

struct ConfigLoad {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

// `connector_types`: the parser of each connector type by its key under connectors:; a key
// not among them is an error.
ConfigLoad load_config_file(const std::string& path, const EnvLookup& env,
                            const ConnectorConfigParsers& connector_types);
ConfigLoad load_config_text(const std::string& yaml, const EnvLookup& env,
                            const ConnectorConfigParsers& connector_types);

}  // namespace coibridge::core
