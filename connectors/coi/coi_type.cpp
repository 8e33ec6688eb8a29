#include "connectors/coi/coi_type.hpp"

#include "connectors/coi/coi_config.hpp"
#include "connectors/coi/coi_connector.hpp"

namespace coibridge::connectors::coi {

core::ConnectorType connector_type() {
  return core::ConnectorType{
      .key = "coi",
      .parse = parse_coi_config,
      .create = core::create_with<CoiConnectorConfig>(
          [](const CoiConnectorConfig& config, const core::ConnectorServices& services) {
            return std::make_shared<CoiConnector>(
                config,
                CoiConnector::Stores{services.checkpoints, services.blobs, services.conversations},
                services.metrics);
          }),
      .verbs = {},
      .direct_chats = true,
  };
}

}  // namespace coibridge::connectors::coi
