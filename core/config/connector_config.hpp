#pragma once
// A connector instance's configuration as the core holds it: the type's own struct derives
// from ConnectorConfig, and the type's parser, registered with its key under `connectors:`,
// fills it from a ConfigSection. The core reads `name` of every instance itself (it keys
// checkpoints and links, and is unique across all types); the rest is the type's.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace coibridge::core {

class ConfigSection;

struct ConnectorConfig {
  virtual ~ConnectorConfig() = default;
  std::string type;  // its key under connectors:, "coi"
  std::string name;  // instance name, [a-z0-9_.-]+, unique across all connectors
};

using ConnectorConfigPtr = std::shared_ptr<const ConnectorConfig>;

// Reads one instance's section (the `name` key excepted). Problems go to the section; the
// result is used only when the whole configuration has none.
using ConnectorConfigParser = std::function<std::shared_ptr<ConnectorConfig>(ConfigSection&)>;
using ConnectorConfigParsers = std::map<std::string, ConnectorConfigParser, std::less<>>;

// The instances of one type, as that type's struct, in file order.
template <class T>
std::vector<const T*> instances_of(const std::vector<ConnectorConfigPtr>& all,
                                   std::string_view type) {
  std::vector<const T*> out;
  for (const auto& config : all) {
    if (config->type != type) continue;
    if (const auto* typed = dynamic_cast<const T*>(config.get())) out.push_back(typed);
  }
  return out;
}

}  // namespace coibridge::core
