// connectors.<type>: a list of instances per connector type. Only `spool` exists so far; each
// new network adds its type here.

#include <array>
#include <map>
#include <set>

#include "core/config/config_yaml.hpp"

namespace coibridge::core::config_internal {
namespace {

// Instance names are unique across all types: they key checkpoints and links in the database.
struct InstanceName {
  std::string name;
  std::string path;  // "connectors.spool[0].name"
  int line = 0;
};

struct SpoolField {
  std::string_view key;
  std::string SpoolConnectorConfig::*member;
};
constexpr std::array<SpoolField, 3> kSpoolFields = {{
    {"name", &SpoolConnectorConfig::name},
    {"inbox_dir", &SpoolConnectorConfig::inbox_dir},
    {"outbox_dir", &SpoolConnectorConfig::outbox_dir},
}};

void check_spool(const SpoolConnectorConfig& spool, const std::string& path,
                 const std::map<std::string_view, int>& lines, std::vector<InstanceName>& names,
                 Errors& errors) {
  for (const auto& field : kSpoolFields) {
    const std::string field_path = join_path(path, field.key);
    const auto line = lines.find(field.key);
    if (line == lines.end()) continue;  // reported as missing already
    if ((spool.*field.member).empty()) {
      add_error(errors, field_path, line->second, "must not be empty");
    } else if (field.key == "name") {
      if (is_valid_instance_name(spool.name)) {
        names.push_back(InstanceName{spool.name, field_path, line->second});
      } else {
        add_error(errors, field_path, line->second, "must match [a-z0-9_.-]+");
      }
    }
  }
  if (!spool.inbox_dir.empty() && spool.inbox_dir == spool.outbox_dir) {
    // Deliveries written there would be read back as new events, looping forever.
    add_error(errors, join_path(path, "outbox_dir"), lines.at("outbox_dir"),
              "must differ from inbox_dir");
  }
}

SpoolConnectorConfig parse_spool(const YAML::Node& node, const std::string& path, int line,
                                 std::vector<InstanceName>& names, Errors& errors) {
  SpoolConnectorConfig spool;
  if (!node.IsMap()) {
    add_error(errors, path, line, "expected a mapping with name, inbox_dir and outbox_dir");
    return spool;
  }
  std::set<std::string_view> present;
  std::map<std::string_view, int> lines;  // fields read successfully, by key
  for_each_entry(node, path, errors,
                 [&](const std::string& key, const YAML::Node& value, int value_line) {
                   const std::string field_path = join_path(path, key);
                   for (const auto& field : kSpoolFields) {
                     if (field.key != key) continue;
                     present.insert(field.key);
                     if (auto text = scalar_string(value, field_path, value_line, errors)) {
                       spool.*field.member = std::move(*text);
                       lines[field.key] = value_line;
                     }
                     return;
                   }
                   add_error(errors, field_path, value_line, "unknown key");
                 });
  for (const auto& field : kSpoolFields) {
    if (!present.contains(field.key)) {
      add_error(errors, join_path(path, field.key), line, "required");
    }
  }
  check_spool(spool, path, lines, names, errors);
  return spool;
}

void parse_spool_list(const YAML::Node& node, int line, Config& config,
                      std::vector<InstanceName>& names, Errors& errors) {
  const std::string path = "connectors.spool";
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    add_error(errors, path, line, "expected a list");
    return;
  }
  for (const auto& item : node) {
    const std::string item_path = index_path(path, config.connectors.spool.size());
    config.connectors.spool.push_back(
        parse_spool(item, item_path, line_of(item, line), names, errors));
  }
}

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

void parse_connectors(const YAML::Node& node, int line, Config& config, Errors& errors) {
  if (!expect_mapping(node, "connectors", line, errors)) return;
  std::vector<InstanceName> names;
  for_each_entry(node, "connectors", errors,
                 [&](const std::string& key, const YAML::Node& value, int value_line) {
                   if (key == "spool") {
                     parse_spool_list(value, value_line, config, names, errors);
                   } else if (key == "coi") {
                     parse_coi_list(value, value_line, config, errors);
                   } else if (key == "matrix") {
                     parse_matrix_list(value, value_line, config, errors);
                   } else {
                     add_error(errors, join_path("connectors", key), value_line,
                               "unknown connector type");
                   }
                 });
  for (std::size_t i = 0; i < config.connectors.coi.size(); ++i) {
    const auto& coi = config.connectors.coi[i];
    if (!coi.name.empty()) {
      names.push_back(InstanceName{coi.name, index_path("connectors.coi", i) + ".name", line});
    }
  }
  for (std::size_t i = 0; i < config.connectors.matrix.size(); ++i) {
    const auto& m = config.connectors.matrix[i];
    if (!m.name.empty())
      names.push_back(InstanceName{m.name, index_path("connectors.matrix", i) + ".name", line});
  }
  report_duplicate_names(names, errors);
}

}  // namespace coibridge::core::config_internal
