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

// A list of connector instances under `path`: each item parsed by parse_one(item, item path,
// item line, errors) and appended to out. A null node is an empty list.
template <class T, class ParseOne>
void parse_instance_list(const YAML::Node& node, int line, const std::string& path,
                         std::vector<T>& out, Errors& errors, ParseOne parse_one) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    add_error(errors, path, line, "expected a list");
    return;
  }
  for (const auto& item : node) {
    const std::string item_path = index_path(path, out.size());
    out.push_back(parse_one(item, item_path, line_of(item, line), errors));
  }
}

void parse_document(const YAML::Node& root, Config& config, Origins& origins, Errors& errors);
void parse_admin(const YAML::Node& node, int line, Config& config, Errors& errors);
void parse_connectors(const YAML::Node& node, int line, Config& config, Errors& errors);
void parse_coi_list(const YAML::Node& node, int line, Config& config, Errors& errors);
void parse_matrix_list(const YAML::Node& node, int line, Config& config, Errors& errors);

// Connector instance names key checkpoints and links: [a-z0-9_.-]+.
bool is_valid_instance_name(std::string_view name);

}  // namespace coibridge::core::config_internal
