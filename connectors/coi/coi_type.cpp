#include "connectors/coi/coi_type.hpp"

#include "connectors/coi/coi_config.hpp"
#include "connectors/coi/coi_connector.hpp"

namespace coibridge::connectors::coi {

core::ConnectorType connector_type() {
  return core::ConnectorType{
      .key = "coi",
      .parse = parse_coi_config,
      .create = [](const core::ConnectorConfig& config,
                   const core::ConnectorServices& services) -> core::Result<core::ConnectorPtr> {
        return core::ConnectorPtr(std::make_shared<CoiConnector>(
            dynamic_cast<const CoiConnectorConfig&>(config),
            CoiConnector::Stores{services.checkpoints, services.blobs, services.conversations},
            services.metrics));
      },
      .verbs = {},
      .direct_chats = true,
  };
}

}  // namespace coibridge::connectors::coi
