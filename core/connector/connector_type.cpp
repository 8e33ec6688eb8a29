#include "core/connector/connector_type.hpp"

namespace coibridge::core {

ConnectorConfigParsers config_parsers(const ConnectorTypes& types) {
  ConnectorConfigParsers out;
  for (const auto& type : types) out.emplace(type.key, type.parse);
  return out;
}

const ConnectorType* find_type(const ConnectorTypes& types, std::string_view key) {
  for (const auto& type : types) {
    if (type.key == key) return &type;
  }
  return nullptr;
}

std::optional<FoundVerb> find_verb(const ConnectorTypes& types, std::string_view name) {
  for (const auto& type : types) {
    for (const auto& verb : type.verbs) {
      if (verb.name == name) return FoundVerb{&type, &verb};
    }
  }
  return std::nullopt;
}

}  // namespace coibridge::core
