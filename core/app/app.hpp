#pragma once
// The subcommands of the coi-bridge binary; each returns the process exit code.

#include "core/app/cli.hpp"
#include "core/config/config.hpp"

namespace coibridge::app {

int run_bridge(const core::Config& config);
int run_migrate(const core::Config& config);
int run_generate_registration(const core::Config& config);

}  // namespace coibridge::app
