#pragma once
// connectors.spool[]: a file-spool connector instance (spool_connector.hpp).

#include <memory>
#include <string>

#include "core/config/config_section.hpp"
#include "core/config/connector_config.hpp"

namespace coibridge::connectors::spool {

struct SpoolConnectorConfig : core::ConnectorConfig {
  std::string inbox_dir;   // *.json events dropped here are published, then removed
  std::string outbox_dir;  // each delivery is written here as <event id>.json
};

std::shared_ptr<core::ConnectorConfig> parse_spool_config(core::ConfigSection& section);

}  // namespace coibridge::connectors::spool
