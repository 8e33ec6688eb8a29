// coi-bridge: bridges chat over email (COI, Delta Chat) to other chat networks.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/app/app.hpp"
#include "core/app/cli.hpp"
#include "core/config/config.hpp"
#include "core/log/logging.hpp"

namespace {

using namespace coibridge;

int main_impl(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const auto cli = app::parse_cli(args, std::getenv("COIBRIDGE_CONFIG"));
  if (!cli.error.empty()) {
    std::fprintf(stderr, "coi-bridge: %s\n\n%s", cli.error.c_str(), app::usage_text().c_str());
    return app::kExitUsage;
  }
  switch (cli.options.command) {
    case app::Command::kHelp:
      std::fputs(app::usage_text().c_str(), stdout);
      return app::kExitOk;
    case app::Command::kVersion:
      std::printf("coi-bridge %s\n", COIBRIDGE_VERSION);
      return app::kExitOk;
    default:
      break;
  }

  const auto& path = cli.options.config_path;
  auto load = core::load_config_file(path, core::process_env());
  if (!load.errors.empty()) {
    for (const auto& e : load.errors) {
      std::fprintf(stderr, "%s\n", core::format_config_error(path, e).c_str());
    }
    std::fprintf(stderr, "coi-bridge: %zu configuration error(s) in %s\n", load.errors.size(),
                 path.c_str());
    return app::kExitUsage;
  }
  const core::Config& config = *load.config;
  if (cli.options.command == app::Command::kCheckConfig) {
    std::printf("%s: configuration is valid\n", path.c_str());
    return app::kExitOk;
  }
  if (cli.options.command == app::Command::kGenerateRegistration)
    return app::run_generate_registration(config);

  core::init_logging(config.logging.level, config.logging.format == core::LogOutput::kJson
                                               ? core::LogFormat::kJson
                                               : core::LogFormat::kText);
  if (cli.options.command == app::Command::kMigrate) return app::run_migrate(config);
  return app::run_bridge(config);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return main_impl(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "coi-bridge: fatal: %s\n", e.what());
    return coibridge::app::kExitFailure;
  }
}
