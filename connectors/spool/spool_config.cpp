#include "connectors/spool/spool_config.hpp"

namespace coibridge::connectors::spool {

std::shared_ptr<core::ConnectorConfig> parse_spool_config(core::ConfigSection& section) {
  auto inbox = section.nonempty_text("inbox_dir");
  auto outbox = section.nonempty_text("outbox_dir");
  if (!inbox || !outbox) return nullptr;
  if (*inbox == *outbox) {
    // Deliveries written there would be read back as new events, looping forever.
    section.error("outbox_dir", "must differ from inbox_dir");
    return nullptr;
  }
  auto config = std::make_shared<SpoolConnectorConfig>();
  config->inbox_dir = std::move(*inbox);
  config->outbox_dir = std::move(*outbox);
  return config;
}

}  // namespace coibridge::connectors::spool
