#pragma once
// coi-bridge's configuration: the YAML file, then COIBRIDGE_<PATH> environment overrides.
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

namespace coibridge::core {

struct AdminToken {
  std::string name;   // shown in logs and the audit log; the token itself never is
  std::string token;  // at least 32 characters
  bool can_read = false;
  bool can_write = false;  // "write" implies read
};

// A file-spool connector instance: events in as JSON files, deliveries out as JSON files.
// Used for scripting, diagnostics and tests of the delivery machinery.
struct SpoolConnectorConfig {
  std::string name;        // connector instance name, unique across all connectors
  std::string inbox_dir;   // *.json events dropped here are published, then removed
  std::string outbox_dir;  // each delivery is written here as <event id>.json
};

// How a mail server connection is secured (the words in the config file, in this order:
// implicit, starttls, none). None is for loopback testing only.
enum class MailTls { kImplicit, kStartTls, kNone };
// How remote people appear on the mail side (puppet, relay): see CoiConnectorConfig::identity.
enum class MailIdentity { kPuppet, kRelay };
// The log line format (text, json).
enum class LogOutput { kText, kJson };

// One mail server a COI connector talks to.
struct MailServerConfig {
  std::string host;
  std::uint16_t port = 0;
  MailTls tls = MailTls::kImplicit;
  std::string ca_file;  // empty: the system's CA store
  bool verify_certificate = true;
  std::string username;
  std::string password;
};

// A chat-over-email account the bridge owns (COI and Delta Chat peers reach it by mail).
struct CoiConnectorConfig {
  std::string name;     // connector instance name
  std::string address;  // the bridge account's address, e.g. bridge@example.org
  std::string display_name = "coi-bridge";
  MailServerConfig imap;
  MailServerConfig smtp;
  // How remote people appear on the mail side: "puppet" gives each a plus-address of the
  // bridge account (bridge+<connector>.<id>@domain); "relay" sends from the bridge address
  // with the person's name and a Sender header.
  MailIdentity identity = MailIdentity::kPuppet;
  std::size_t max_message_bytes = 25 * 1024 * 1024;
  // One attachment, either way. A larger one is left out of the relayed message, which says
  // so in its text, rather than failing the whole message.
  std::size_t max_attachment_bytes = 16 * 1024 * 1024;
};

// A Matrix homeserver the bridge is an application service of. The tokens live in the
// registration file (coi-bridge generate-registration writes it; the homeserver loads it):
// one source of truth, so the two sides cannot drift apart unnoticed.
struct MatrixConnectorConfig {
  std::string name;            // connector instance name
  std::string homeserver_url;  // client-server API base, e.g. https://matrix.example.org
  std::string server_name;     // the homeserver's name, the part after ':' in user ids
  std::string registration;    // path of the appservice registration YAML
  std::string url;             // where the homeserver reaches the bridge (registration `url`)
  std::string ghost_prefix = "_coi_";  // ghosts are @<prefix><escaped id>:<server_name>
  std::string bot_localpart = "coibridge";
  std::string dm_connector;  // COI connector that direct chats with ghosts go to
  // Who may use the bot's management commands: a Matrix user id ("@alice:example.org"), a
  // server name ("example.org") or "*" to "user" or "admin"; the most specific entry wins.
  // Unset: users of server_name are "user", nobody is "admin".
  std::optional<std::map<std::string, std::string>> permissions;
  bool public_portals = false;  // rooms for groups on alias query (#<prefix><group>:<server>)
  std::string ca_file;          // empty: the system's CA certificates
  bool verify_certificate = true;
};

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

  struct Connectors {
    std::vector<SpoolConnectorConfig> spool;
    std::vector<CoiConnectorConfig> coi;
    std::vector<MatrixConnectorConfig> matrix;
  } connectors;
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

ConfigLoad load_config_file(const std::string& path, const EnvLookup& env);
ConfigLoad load_config_text(const std::string& yaml, const EnvLookup& env);

}  // namespace coibridge::core
