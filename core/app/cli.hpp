#pragma once
// Command-line parsing for the coi-bridge binary.

#include <string>
#include <vector>

namespace coibridge::app {

// kConnectorVerb: a command of a connector type (CliOptions::verb), such as
// generate-registration of the Matrix connector.
enum class Command { kRun, kMigrate, kCheckConfig, kConnectorVerb, kVersion, kHelp };

struct CliOptions {
  Command command = Command::kRun;
  std::string config_path;  // from --config, else $COIBRIDGE_CONFIG, else kDefaultConfigPath
  std::string verb;         // the connector command's name, for kConnectorVerb
};

// A connector type's command, as the command line knows it.
struct VerbHelp {
  std::string name;
  std::string summary;  // lines without indentation
};

inline constexpr const char* kDefaultConfigPath = "/etc/coi-bridge/coi-bridge.yaml";

// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct CliParse {
  CliOptions options;
  std::string error;  // non-empty: bad usage
};

CliParse parse_cli(const std::vector<std::string>& args, const char* env_config,
                   const std::vector<VerbHelp>& verbs);
std::string usage_text(const std::vector<VerbHelp>& verbs);

}  // namespace coibridge::app
