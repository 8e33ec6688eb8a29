#pragma once
// YAML walking helpers shared by the config translation units; not part of the module's API.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config_internal.hpp"
#include "core/config/config_section.hpp"

namespace coibridge::core::config_internal {

inline constexpr std::string_view kTokensRequired = "required: at least one admin token";

// 1-based line of `node`, or `fallback` when the parser recorded none.
int line_of(const YAML::Node& node, int fallback);
int line_of(const YAML::Mark& mark);

std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);

// Calls `fn(key, value, line)` for every entry of the mapping `map`, in file order. Duplicate
// and non-string keys are reported instead (yaml-cpp keeps duplicates, and a silently ignored
// second value is a classic configuration bug). `line` is the value's line, or the key's
// when the value is empty, since yaml-cpp marks an empty value at the following token.
using EntryFn = std::function<void(const std::string& key, const YAML::Node& value, int line)>;
void for_each_entry(const YAML::Node& map, std::string_view path, Errors& errors,
                    const EntryFn& fn);

// True when `node` is a mapping, or empty (an empty section is a section with no keys).
// Otherwise reports "expected a mapping" at `path`.
bool expect_mapping(const YAML::Node& node, std::string_view path, int line, Errors& errors);

// The text of a scalar ("" for an empty value), or nullopt after reporting a type error.
std::optional<std::string> scalar_string(const YAML::Node& node, std::string_view path, int line,
                                         Errors& errors);

void parse_document(const YAML::Node& root, const ConnectorConfigParsers& connector_types,
                    const EnvLookup& env, Config& config, Origins& origins, Errors& errors);
void parse_admin(const YAML::Node& node, int line, const EnvLookup& env, Config& config,
                 Errors& errors);
void parse_connectors(const YAML::Node& node, int line, const ConnectorConfigParsers& types,
                      const EnvLookup& env, Config& config, Errors& errors);

// Connector instance names key checkpoints and links: [a-z0-9_.-]+.
bool is_valid_instance_name(std::string_view name);

// The state of one load's ConfigSections, and the unknown-key report once all are parsed.
std::shared_ptr<ConfigSection::Shared> new_section_shared(const EnvLookup& env, Errors& errors);
void report_unknown_keys(ConfigSection::Shared& shared);

}  // namespace coibridge::core::config_internal
