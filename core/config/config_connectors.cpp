// connectors.<type>: a list of instances per connector type. The types are not known here:
// each registers its key and parser (core/connector/connector_type.hpp), and this walks the
// section, reads the instance names every type shares, and hands each instance to its type.

#include <map>

#include "core/config/config_section.hpp"
#include "core/config/config_yaml.hpp"

namespace coibridge::core::config_internal {
namespace {

// Instance names are unique across all types: they key checkpoints and links in the database.
struct InstanceName {
  std::string name;
  std::string path;  // "connectors.spool[0].name"
  int line = 0;
};

void report_duplicate_names(const std::vector<InstanceName>& names, Errors& errors) {
  std::map<std::string_view, const InstanceName*> first_by_name;
  for (const auto& name : names) {
    const auto [first, inserted] = first_by_name.emplace(name.name, &name);
    if (!inserted) {
      add_error(
          errors, name.path, name.line,
          "duplicate connector name \"" + name.name + "\" (also " + first->second->path + ")");
    }
  }
}

std::string known_types(const ConnectorConfigParsers& types) {
  if (types.empty()) return "none is built in";
  std::string out = "known: ";
  for (const auto& [key, parser] : types) {
    if (out.size() > 7) out += ", ";
    out += key;
  }
  return out;
}

}  // namespace

bool is_valid_instance_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void parse_connectors(const YAML::Node& node, int line, const ConnectorConfigParsers& types,
                      const EnvLookup& env, Config& config, Errors& errors) {
  if (!expect_mapping(node, "connectors", line, errors)) return;
  auto shared = new_section_shared(env, errors);
  ConfigSection connectors(shared, "connectors", line, node);
  std::vector<InstanceName> names;
  for (const auto& type : connectors.keys()) {
    const auto parser = types.find(type);
    if (parser == types.end()) {
      connectors.error(type, "unknown connector type (" + known_types(types) + ")");
      continue;
    }
    auto instances = connectors.list(type);
    if (!instances) continue;
    for (auto& instance : *instances) {
      auto name = instance.text("name", ConfigSection::Need::kRequired);
      if (name && name->empty()) {
        instance.error("name", "must not be empty");
        name.reset();
      } else if (name && !is_valid_instance_name(*name)) {
        instance.error("name", "must match [a-z0-9_.-]+");
        name.reset();
      }
      auto parsed = parser->second(instance);
      if (!name || !parsed) continue;
      names.push_back(InstanceName{*name, instance.path() + ".name", instance.line()});
      parsed->type = type;
      parsed->name = std::move(*name);
      config.connectors.push_back(std::move(parsed));
    }
  }
  report_duplicate_names(names, errors);
  report_unknown_keys(*shared);
}

}  // namespace coibridge::core::config_internal
