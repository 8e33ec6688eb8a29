#include "connectors/matrix/matrix_type.hpp"

#include <cstdio>

#include "connectors/matrix/matrix_config.hpp"
#include "connectors/matrix/matrix_connector.hpp"
#include "connectors/matrix/registration.hpp"

namespace coibridge::connectors::matrix {
namespace {

// Exit statuses of core/app/cli.hpp.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int generate_registrations(const std::vector<const core::ConnectorConfig*>& instances) {
  if (instances.empty()) {
    std::fprintf(stderr, "coi-bridge: no connectors.matrix entry in the configuration\n");
    return kExitUsage;
  }
  for (const auto* instance : instances) {
    const auto& config = dynamic_cast<const MatrixConnectorConfig&>(*instance);
    const auto registration = new_registration(config);
    if (auto st = write_registration(config.registration, registration); !st) {
      std::fprintf(stderr, "coi-bridge: %s\n", st.error().message.c_str());
      return kExitFailure;
    }
    std::printf(
        "wrote %s (connector %s)\n\nAdd to the homeserver's configuration (Synapse "
        "homeserver.yaml) and restart it:\n\napp_service_config_files:\n  - %s\n\n",
        config.registration.c_str(), config.name.c_str(), config.registration.c_str());
  }
  return kExitOk;
}

}  // namespace

core::ConnectorType connector_type() {
  return core::ConnectorType{
      .key = "matrix",
      .parse = parse_matrix_config,
      .create = core::create_with<MatrixConnectorConfig>(
          [](MatrixConnectorConfig matrix, const core::ConnectorServices& services) {
            // Direct chats with ghosts go to the one connector of another network that offers
            // them, when there is just one and the config names none.
            if (matrix.dm_connector.empty()) {
              std::vector<std::string> candidates;
              for (const auto* other : services.direct_chat_instances) {
                if (other->type != matrix.type) candidates.push_back(other->name);
              }
              if (candidates.size() == 1) matrix.dm_connector = candidates.front();
            }
            return std::make_shared<MatrixConnector>(
                services.executor, std::move(matrix),
                MatrixConnector::Stores{services.blobs, services.ledger, &services.conversations,
                                        &services.puppets},
                services.metrics);
          }),
      .verbs = {{
          .name = "generate-registration",
          .summary = "write each Matrix connector's appservice registration file (new\n"
                     "random tokens, mode 0600) and print the homeserver config lines",
          .run = generate_registrations,
      }},
      .direct_chats = true,
  };
}

}  // namespace coibridge::connectors::matrix
