#include "connectors/spool/spool_type.hpp"

#include "connectors/spool/spool_config.hpp"
#include "connectors/spool/spool_connector.hpp"

namespace coibridge::connectors::spool {

core::ConnectorType connector_type() {
  return core::ConnectorType{
      .key = "spool",
      .parse = parse_spool_config,
      .create = core::create_with<SpoolConnectorConfig>(
          [](const SpoolConnectorConfig& config, const core::ConnectorServices& services) {
            return std::make_shared<SpoolConnector>(config, services.blobs);
          }),
      .verbs = {},
  };
}

}  // namespace coibridge::connectors::spool
