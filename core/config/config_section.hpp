#pragma once
// One mapping of the configuration, as a connector type's parser reads it. Every scalar it
// asks for may also come from the environment, COIBRIDGE_<PATH> with the key path in capitals
// and '.', '[' and ']' as '_' (connectors.coi[0].smtp.password is
// COIBRIDGE_CONNECTORS_COI_0_SMTP_PASSWORD), which wins over the file. A secret may instead
// be read from a file named by <key>_file (or COIBRIDGE_<PATH>_FILE), as container secrets
// are mounted. Problems are collected with the key path and the file line; keys in the file
// that no parser asked for are reported as unknown once parsing ends.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.hpp"

namespace YAML {
class Node;
}

namespace coibridge::core {

class ConfigSection {
 public:
  enum class Need { kOptional, kRequired };
  struct Shared;  // the errors, the environment and every section made, of one load
  struct Data;    // one section's entries and the keys asked for

  // `node` must outlive nothing: the section keeps its own reference to the YAML tree.
  ConfigSection(std::shared_ptr<Shared> shared, std::string path, int line, const YAML::Node& node);
  ~ConfigSection();
  ConfigSection(const ConfigSection&) = default;
  ConfigSection& operator=(const ConfigSection&) = default;

  const std::string& path() const;
  int line() const;

  // The key's text, from the environment or the file. nullopt when absent (an error when
  // required) or when it is not a scalar (an error).
  std::optional<std::string> text(std::string_view key, Need need = Need::kOptional);
  // A required key whose value must not be empty either ("must not be empty").
  std::optional<std::string> nonempty_text(std::string_view key);
  // A credential: text(), or the contents of the file that <key>_file names, without one
  // trailing newline. Setting both in the file is an error. Messages never quote it.
  std::optional<std::string> secret(std::string_view key, Need need = Need::kOptional);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      Need need = Need::kOptional);
  std::optional<bool> boolean(std::string_view key);
  // One of `words`, as the enum value of the same position.
  template <class E, std::size_t N>
  std::optional<E> choice(std::string_view key, const std::array<std::string_view, N>& words,
                          Need need = Need::kOptional) {
    auto index = word(key, words.data(), N, need);
    if (!index) return std::nullopt;
    return static_cast<E>(*index);
  }
  // A nested mapping; an empty value is an empty mapping.
  std::optional<ConfigSection> section(std::string_view key, Need need = Need::kOptional);
  // A list of mappings (a connector type's instances). nullopt when absent or malformed.
  std::optional<std::vector<ConfigSection>> list(std::string_view key);
  // A mapping whose keys are data (user ids to levels, say), in file order. Not overridable
  // from the environment: its keys are not known in advance.
  struct Entry {
    std::string key;
    std::string value;
    std::string path;
    int line = 0;
  };
  // `expected` completes "expected ..." when the value is not a mapping.
  std::optional<std::vector<Entry>> entries(std::string_view key,
                                            std::string_view expected = "a mapping");

  bool has(std::string_view key) const;   // in the file or the environment
  std::vector<std::string> keys() const;  // the file's keys, in file order

  // Reports a problem with `key` at its line (the section's when absent), or with the section.
  // A key reported on is not reported as unknown as well.
  void error(std::string_view key, std::string message);
  void error(std::string message);
  void error_at(std::string path, int line, std::string message);

  // COIBRIDGE_<PATH> for `key` of this section.
  std::string env_name(std::string_view key) const;

 private:
  struct FileEntry;
  // The entry of a list (`sequence`) or mapping under `key`: null when absent or, reported as
  // "expected <expected>", of another kind. A null YAML value is an empty one.
  const FileEntry* composite(std::string_view key, bool sequence, std::string_view expected);
  std::optional<std::size_t> word(std::string_view key, const std::string_view* words,
                                  std::size_t count, Need need);
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Data> data_;
};

// The config path's form of COIBRIDGE_ variable names: "connectors.coi[0].smtp.password" is
// "COIBRIDGE_CONNECTORS_COI_0_SMTP_PASSWORD".
std::string config_env_name(std::string_view path);

}  // namespace coibridge::core
