#include <cstdlib>

#include "core/config/config_internal.hpp"

namespace coibridge::core {

EnvLookup process_env() {
  // getenv is only safe while nothing calls setenv; configuration is loaded at start-up,
  // before any thread that could.
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

namespace config_internal {

void apply_env_overrides(const EnvLookup& env, Config& config, Origins& origins, Errors& errors) {
  if (!env) return;
  for (const auto& key : scalar_keys()) {
    std::string name = env_var_name(key);
    auto value = env(name);
    if (!value && key.secret) {
      // <NAME>_FILE names a file holding the value, as container secrets are mounted.
      const std::string file_var = name + "_FILE";
      if (auto file = env(file_var)) {
        std::string secret;
        if (auto why = read_secret_file(*file, secret)) {
          add_error(errors, file_var, 0, std::move(*why));
          continue;
        }
        value = std::move(secret);
        name = file_var;
      }
    }
    if (!value) continue;
    if (auto error = key.apply(*value, config)) {
      add_error(errors, name, 0, std::move(*error));
      continue;
    }
    origins[key_path(key)] = Origin{name, 0};
  }
}

}  // namespace config_internal
}  // namespace coibridge::core
