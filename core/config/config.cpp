#include "core/config/config.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/config/config_yaml.hpp"

namespace coibridge::core {
namespace config_internal {

void check_cross_key_rules(const Config& config, const Origins& origins, Errors& errors) {
  const auto& delivery = config.delivery;
  if (delivery.backoff_max < delivery.backoff_initial) {
    // Blame whichever of the two was set explicitly, preferring the maximum.
    const auto max_origin = origins.find("delivery.backoff_max_ms");
    const auto initial_origin = origins.find("delivery.backoff_initial_ms");
    if (max_origin != origins.end() || initial_origin == origins.end()) {
      const Origin origin =
          max_origin != origins.end() ? max_origin->second : Origin{"delivery.backoff_max_ms", 0};
      add_error(errors, origin.path, origin.line,
                "must be at least delivery.backoff_initial_ms (" +
                    std::to_string(delivery.backoff_initial.count()) + ")");
    } else {
      add_error(errors, initial_origin->second.path, initial_origin->second.line,
                "must not exceed delivery.backoff_max_ms (" +
                    std::to_string(delivery.backoff_max.count()) + ")");
    }
  }
}

}  // namespace config_internal

std::string format_config_error(const std::string& file, const ConfigError& error) {
  std::string text = file;
  if (error.line > 0) text += ":" + std::to_string(error.line);
  text += ": ";
  if (!error.path.empty()) text += error.path + ": ";
  text += error.message;
  return text;
}

ConfigLoad load_config_text(const std::string& yaml, const EnvLookup& env,
                            const ConnectorConfigParsers& connector_types) {
  using config_internal::add_error;
  using config_internal::line_of;
  ConfigLoad result;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    add_error(result.errors, "", line_of(e.mark), "YAML syntax error: " + e.msg);
    return result;
  }
  Config config;
  config_internal::Origins origins;
  try {
    config_internal::parse_document(root, connector_types, env, config, origins, result.errors);
  } catch (const YAML::Exception& e) {
    // The walker only reads node types and scalars, so this is not expected; keep it an error
    // with a location rather than an escaping exception.
    add_error(result.errors, "", line_of(e.mark), "cannot read YAML: " + e.msg);
  }
  config_internal::apply_env_overrides(env, config, origins, result.errors);
  config_internal::check_cross_key_rules(config, origins, result.errors);
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

ConfigLoad load_config_file(const std::string& path, const EnvLookup& env,
                            const ConnectorConfigParsers& connector_types) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return ConfigLoad{std::nullopt, {ConfigError{"", 0, "cannot read: is a directory"}}};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ConfigLoad{std::nullopt,
                      {ConfigError{"", 0, std::string("cannot open: ") + std::strerror(errno)}}};
  }
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return ConfigLoad{std::nullopt, {ConfigError{"", 0, "cannot read: I/O error"}}};
  return load_config_text(text, env, connector_types);
}

}  // namespace coibridge::core
