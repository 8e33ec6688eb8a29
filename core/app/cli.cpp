#include "core/app/cli.hpp"

#include <algorithm>

namespace coibridge::app {

namespace {

// "  name           first line\n                 next line\n": the summary column at 17.
std::string command_help(const std::string& name, const std::string& summary) {
  constexpr std::size_t kColumn = 17;
  std::string out = "  " + name;
  if (out.size() + 1 > kColumn) {
    out += "\n";
    out.append(kColumn, ' ');
  } else {
    out.append(kColumn - out.size(), ' ');
  }
  for (char c : summary) {
    out += c;
    if (c == '\n') out.append(kColumn, ' ');
  }
  return out + "\n";
}

}  // namespace

std::string usage_text(const std::vector<VerbHelp>& verbs) {
  std::string commands =
      command_help("run", "start the bridge (default)") +
      command_help("migrate", "apply pending database migrations and exit") +
      command_help("check-config", "validate the configuration, print every problem, and exit");
  for (const auto& verb : verbs) commands += command_help(verb.name, verb.summary);
  commands += command_help("version", "print the version and exit");
  return "Usage: coi-bridge [COMMAND] [--config PATH]\n"
         "\n"
         "Bridges chat over email (COI, Delta Chat) to other chat networks.\n"
         "\n"
         "Commands:\n" +
         commands +
         "\n"
         "Options:\n"
         "  --config PATH  configuration file (default: $COIBRIDGE_CONFIG, else " +
         std::string(kDefaultConfigPath) +
         ")\n"
         "  -h, --help     show this help\n"
         "\n"
         "Exit status: 0 ok, 1 runtime failure, 2 bad usage or configuration.\n";
}

CliParse parse_cli(const std::vector<std::string>& args, const char* env_config,
                   const std::vector<VerbHelp>& verbs) {
  CliParse out;
  out.options.config_path =
      env_config != nullptr && *env_config != '\0' ? env_config : kDefaultConfigPath;
  bool have_command = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out.options.command = Command::kHelp;
      return out;
    }
    if (a == "--config" || a.rfind("--config=", 0) == 0) {
      if (a == "--config") {
        if (i + 1 >= args.size()) {
          out.error = "--config needs a path";
          return out;
        }
        out.options.config_path = args[++i];
      } else {
        out.options.config_path = a.substr(9);
      }
      if (out.options.config_path.empty()) {
        out.error = "--config needs a path";
        return out;
      }
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      out.error = "unknown option '" + a + "'";
      return out;
    }
    if (have_command) {
      out.error = "unexpected argument '" + a + "'";
      return out;
    }
    have_command = true;
    if (a == "run") {
      out.options.command = Command::kRun;
    } else if (a == "migrate") {
      out.options.command = Command::kMigrate;
    } else if (a == "check-config") {
      out.options.command = Command::kCheckConfig;
    } else if (std::any_of(verbs.begin(), verbs.end(),
                           [&a](const VerbHelp& verb) { return verb.name == a; })) {
      out.options.command = Command::kConnectorVerb;
      out.options.verb = a;
    } else if (a == "version") {
      out.options.command = Command::kVersion;
    } else if (a == "help") {
      out.options.command = Command::kHelp;
    } else {
      out.error = "unknown command '" + a + "'";
      return out;
    }
  }
  return out;
}

}  // namespace coibridge::app
