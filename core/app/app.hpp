#pragma once
// The coi-bridge binary, composed from the connector types it is built with; each entry
// returns the process exit code.

#include "core/app/cli.hpp"
#include "core/config/config.hpp"
#include "core/connector/connector_type.hpp"

namespace coibridge::app {

// The whole program: parses the command line, loads the configuration with the types'
// parsers, and runs the command.
int main(int argc, char** argv, const core::ConnectorTypes& types);

int run_bridge(const core::Config& config, const core::ConnectorTypes& types);
int run_migrate(const core::Config& config);

}  // namespace coibridge::app
