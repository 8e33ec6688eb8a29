#include "core/config/config_yaml.hpp"

#include <set>

namespace coibridge::core::config_internal {
namespace {

void apply_scalar(const ScalarKey& key, const YAML::Node& value, int line, Config& config,
                  Origins& origins, Errors& errors) {
  std::string path = key_path(key);
  if (!value.IsScalar() && !value.IsNull()) {
    add_error(errors, std::move(path), line, "expected " + std::string(key.expected));
    return;
  }
  if (const auto earlier = origins.find(path);
      key.secret && earlier != origins.end() && earlier->second.path.ends_with("_file")) {
    add_error(
        errors, std::move(path), line,
        "set either " + std::string(key.key) + " or " + std::string(key.key) + "_file, not both");
    return;
  }
  // An empty value reads as "": fine for optional strings, and numbers reject it themselves.
  const std::string text = value.IsScalar() ? value.Scalar() : std::string();
  if (auto error = key.apply(text, config)) {
    add_error(errors, std::move(path), line, std::move(*error));
    return;
  }
  origins[path] = Origin{path, line};
}

// `url_file` of a secret key `url`, or null.
const ScalarKey* secret_by_file_key(std::string_view section, std::string_view key) {
  if (!key.ends_with("_file")) return nullptr;
  const auto* scalar = find_scalar_key(section, key.substr(0, key.size() - 5));
  return scalar != nullptr && scalar->secret ? scalar : nullptr;
}

void apply_secret_file(const ScalarKey& key, const YAML::Node& value, int line, Config& config,
                       Origins& origins, Errors& errors) {
  const std::string path = key_path(key) + "_file";
  if (origins.contains(key_path(key))) {
    add_error(errors, path, line,
              "set either " + std::string(key.key) + " or " + path.substr(path.find('.') + 1) +
                  ", not both");
    return;
  }
  auto file = scalar_string(value, path, line, errors);
  if (!file) return;
  std::string secret;
  if (auto why = read_secret_file(*file, secret)) {
    add_error(errors, path, line, std::move(*why));
    return;
  }
  if (auto error = key.apply(secret, config)) {
    add_error(errors, path, line, std::move(*error));
    return;
  }
  origins[key_path(key)] = Origin{path, line};
}

void parse_scalar_section(const std::string& section, const YAML::Node& node, int line,
                          Config& config, Origins& origins, Errors& errors) {
  if (!expect_mapping(node, section, line, errors)) return;
  for_each_entry(node, section, errors,
                 [&](const std::string& key, const YAML::Node& value, int value_line) {
                   if (const auto* scalar = find_scalar_key(section, key)) {
                     apply_scalar(*scalar, value, value_line, config, origins, errors);
                   } else if (const auto* secret = secret_by_file_key(section, key)) {
                     apply_secret_file(*secret, value, value_line, config, origins, errors);
                   } else {
                     add_error(errors, join_path(section, key), value_line, "unknown key");
                   }
                 });
}

}  // namespace

int line_of(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

int line_of(const YAML::Node& node, int fallback) {
  const int line = line_of(node.Mark());
  return line == 0 ? fallback : line;
}

std::string join_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

void for_each_entry(const YAML::Node& map, std::string_view path, Errors& errors,
                    const EntryFn& fn) {
  if (!map.IsMap()) return;
  std::set<std::string, std::less<>> seen;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    const int key_line = line_of(key, line_of(map, 0));
    if (!key.IsScalar()) {
      add_error(errors, std::string(path), key_line, "keys must be plain strings");
      continue;
    }
    const std::string& name = key.Scalar();
    if (!seen.insert(name).second) {
      add_error(errors, join_path(path, name), key_line, "duplicate key");
      continue;
    }
    fn(name, value, value.IsNull() ? key_line : line_of(value, key_line));
  }
}

bool expect_mapping(const YAML::Node& node, std::string_view path, int line, Errors& errors) {
  if (node.IsMap() || node.IsNull()) return true;
  add_error(errors, std::string(path), line, "expected a mapping");
  return false;
}

std::optional<std::string> scalar_string(const YAML::Node& node, std::string_view path, int line,
                                         Errors& errors) {
  if (node.IsNull()) return std::string();
  if (node.IsScalar()) return node.Scalar();
  add_error(errors, std::string(path), line, "expected a string");
  return std::nullopt;
}

void parse_document(const YAML::Node& root, const ConnectorConfigParsers& connector_types,
                    const EnvLookup& env, Config& config, Origins& origins, Errors& errors) {
  if (!root.IsMap() && !root.IsNull()) {
    add_error(errors, "", line_of(root, 0), "expected a mapping of sections at the top level");
    return;
  }
  bool saw_admin = false;
  for_each_entry(root, "", errors, [&](const std::string& key, const YAML::Node& value, int line) {
    if (key == "admin") {
      saw_admin = true;
      parse_admin(value, line, env, config, errors);
    } else if (key == "connectors") {
      parse_connectors(value, line, connector_types, env, config, errors);
    } else if (is_scalar_section(key)) {
      parse_scalar_section(key, value, line, config, origins, errors);
    } else {
      add_error(errors, key, line, "unknown key");
    }
  });
  if (!saw_admin) add_error(errors, "admin.tokens", 0, std::string(kTokensRequired));
}

}  // namespace coibridge::core::config_internal
