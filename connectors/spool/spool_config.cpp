#include "connectors/spool/spool_config.hpp"

namespace coibridge::connectors::spool {

std::shared_ptr<core::ConnectorConfig> parse_spool_config(core::ConfigSection& section) {
  using Need = core::ConfigSection::Need;
  auto config = std::make_shared<SpoolConnectorConfig>();
  bool ok = true;
  for (auto [key, member] : {std::pair{"inbox_dir", &SpoolConnectorConfig::inbox_dir},
                             std::pair{"outbox_dir", &SpoolConnectorConfig::outbox_dir}}) {
    auto dir = section.text(key, Need::kRequired);
    if (!dir) {
      ok = false;
    } else if (dir->empty()) {
      section.error(key, "must not be empty");
      ok = false;
    } else {
      (*config).*member = std::move(*dir);
    }
  }
  if (ok && config->inbox_dir == config->outbox_dir) {
    // Deliveries written there would be read back as new events, looping forever.
    section.error("outbox_dir", "must differ from inbox_dir");
    ok = false;
  }
  if (!ok) return nullptr;
  return config;
}

}  // namespace coibridge::connectors::spool
