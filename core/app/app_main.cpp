#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/app/app.hpp"
#include "core/app/cli.hpp"
#include "core/config/config.hpp"
#include "core/log/logging.hpp"

namespace coibridge::app {
namespace {

std::vector<VerbHelp> verbs_of(const core::ConnectorTypes& types) {
  std::vector<VerbHelp> out;
  for (const auto& type : types) {
    for (const auto& verb : type.verbs) out.push_back(VerbHelp{verb.name, verb.summary});
  }
  return out;
}

int run_verb(const core::ConnectorTypes& types, const std::string& name,
             const core::Config& config) {
  const auto found = core::find_verb(types, name);
  std::vector<const core::ConnectorConfig*> instances;
  for (const auto& instance : config.connectors) {
    if (instance->type == found->type->key) instances.push_back(instance.get());
  }
  return found->verb->run(instances);
}

int main_impl(int argc, char** argv, const core::ConnectorTypes& types) {
  const auto verbs = verbs_of(types);
  std::vector<std::string> args(argv + 1, argv + argc);
  const auto cli = parse_cli(args, std::getenv("COIBRIDGE_CONFIG"), verbs);
  if (!cli.error.empty()) {
    std::fprintf(stderr, "coi-bridge: %s\n\n%s", cli.error.c_str(), usage_text(verbs).c_str());
    return kExitUsage;
  }
  switch (cli.options.command) {
    case Command::kHelp:
      std::fputs(usage_text(verbs).c_str(), stdout);
      return kExitOk;
    case Command::kVersion:
      std::printf("coi-bridge %s\n", COIBRIDGE_VERSION);
      return kExitOk;
    default:
      break;
  }

  const auto& path = cli.options.config_path;
  auto load = core::load_config_file(path, core::process_env(), core::config_parsers(types));
  if (!load.errors.empty()) {
    for (const auto& e : load.errors) {
      std::fprintf(stderr, "%s\n", core::format_config_error(path, e).c_str());
    }
    std::fprintf(stderr, "coi-bridge: %zu configuration error(s) in %s\n", load.errors.size(),
                 path.c_str());
    return kExitUsage;
  }
  const core::Config& config = *load.config;
  if (cli.options.command == Command::kCheckConfig) {
    std::printf("%s: configuration is valid\n", path.c_str());
    return kExitOk;
  }
  if (cli.options.command == Command::kConnectorVerb) {
    return run_verb(types, cli.options.verb, config);
  }

  core::init_logging(config.logging.level, config.logging.format == core::LogOutput::kJson
                                               ? core::LogFormat::kJson
                                               : core::LogFormat::kText);
  if (cli.options.command == Command::kMigrate) return run_migrate(config);
  return run_bridge(config, types);
}

}  // namespace

int main(int argc, char** argv, const core::ConnectorTypes& types) {
  try {
    return main_impl(argc, argv, types);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "coi-bridge: fatal: %s\n", e.what());
    return kExitFailure;
  }
}

}  // namespace coibridge::app
