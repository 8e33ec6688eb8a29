#include "connectors/spool/spool_type.hpp"

#include "connectors/spool/spool_config.hpp"
#include "connectors/spool/spool_connector.hpp"

namespace coibridge::connectors::spool {

core::ConnectorType connector_type() {
  return core::ConnectorType{
      .key = "spool",
      .parse = parse_spool_config,
      .create = [](const core::ConnectorConfig& config,
                   const core::ConnectorServices& services) -> core::Result<core::ConnectorPtr> {
        return core::ConnectorPtr(std::make_shared<SpoolConnector>(
            dynamic_cast<const SpoolConnectorConfig&>(config), services.blobs));
      },
      .verbs = {},
  };
}

}  // namespace coibridge::connectors::spool
