#include "core/config/config_section.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "core/config/config_yaml.hpp"

namespace coibridge::core {

using config_internal::add_error;
using config_internal::index_path;
using config_internal::join_path;

namespace {

// A secret file is a password or a token: anything near this size is the wrong file.
constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

}  // namespace

struct ConfigSection::FileEntry {
  YAML::Node value;
  int line = 0;
};

struct ConfigSection::Shared {
  EnvLookup env;
  config_internal::Errors& errors;
  std::vector<std::shared_ptr<Data>> sections;  // to report unknown keys once parsing ends
};

struct ConfigSection::Data {
  std::string path;
  int line = 0;
  std::vector<std::pair<std::string, FileEntry>> entries;  // file order
  std::set<std::string, std::less<>> asked;

  const FileEntry* find(std::string_view key) {
    for (const auto& [name, entry] : entries) {
      if (name == key) return &entry;
    }
    return nullptr;
  }
};

std::string config_env_name(std::string_view path) {
  std::string name = "COIBRIDGE_";
  for (char c : path) {
    if (c == ']') continue;
    name += (c == '.' || c == '[') ? '_'
                                   : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

ConfigSection::ConfigSection(std::shared_ptr<Shared> shared, std::string path, int line,
                             const YAML::Node& node)
    : shared_(std::move(shared)), data_(std::make_shared<Data>()) {
  data_->path = std::move(path);
  data_->line = line;
  config_internal::for_each_entry(
      node, data_->path, shared_->errors,
      [this](const std::string& key, const YAML::Node& value, int value_line) {
        data_->entries.emplace_back(key, FileEntry{value, value_line});
      });
  shared_->sections.push_back(data_);
}

ConfigSection::~ConfigSection() = default;

const std::string& ConfigSection::path() const { return data_->path; }
int ConfigSection::line() const { return data_->line; }

std::string ConfigSection::env_name(std::string_view key) const {
  return config_env_name(join_path(data_->path, key));
}

bool ConfigSection::has(std::string_view key) const {
  if (shared_->env && shared_->env(env_name(key))) return true;
  return data_->find(key) != nullptr;
}

std::vector<std::string> ConfigSection::keys() const {
  std::vector<std::string> out;
  for (const auto& entry : data_->entries) out.push_back(entry.first);
  return out;
}

void ConfigSection::error_at(std::string path, int line, std::string message) {
  add_error(shared_->errors, std::move(path), line, std::move(message));
}

void ConfigSection::error(std::string message) {
  error_at(data_->path, data_->line, std::move(message));
}

void ConfigSection::error(std::string_view key, std::string message) {
  data_->asked.emplace(key);
  const FileEntry* entry = data_->find(key);
  error_at(join_path(data_->path, key), entry != nullptr ? entry->line : data_->line,
           std::move(message));
}

std::optional<std::string> ConfigSection::text(std::string_view key, Need need) {
  data_->asked.emplace(key);
  if (shared_->env) {
    if (auto value = shared_->env(env_name(key))) return value;
  }
  const FileEntry* entry = data_->find(key);
  if (entry == nullptr) {
    if (need == Need::kRequired) error(key, "required");
    return std::nullopt;
  }
  return config_internal::scalar_string(entry->value, join_path(data_->path, key), entry->line,
                                        shared_->errors);
}

std::optional<std::string> ConfigSection::nonempty_text(std::string_view key) {
  auto value = text(key, Need::kRequired);
  if (value && value->empty()) {
    error(key, "must not be empty");
    return std::nullopt;
  }
  return value;
}

namespace config_internal {

std::optional<std::string> read_secret_file(const std::string& file, std::string& out) {
  if (file.empty()) return "must name a file";
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot open " + file + ": " + std::strerror(errno);
  std::string text;
  text.resize(kMaxSecretFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return "cannot read " + file;
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxSecretFileBytes) return file + " is over 64 KiB; not a secret file";
  // Files written by `echo` or an editor end in a newline that is not part of the secret.
  if (text.ends_with("\n")) text.pop_back();
  if (text.ends_with("\r")) text.pop_back();
  if (text.empty()) return file + " is empty";
  out = std::move(text);
  return std::nullopt;
}

}  // namespace config_internal

using config_internal::read_secret_file;

std::optional<std::string> ConfigSection::secret(std::string_view key, Need need) {
  const std::string file_key = std::string(key) + "_file";
  data_->asked.emplace(key);
  data_->asked.emplace(file_key);
  if (shared_->env) {
    if (auto value = shared_->env(env_name(key))) return value;
    const std::string file_var = env_name(file_key);
    if (auto file = shared_->env(file_var)) {
      std::string value;
      if (auto why = read_secret_file(*file, value)) {
        error_at(file_var, 0, std::move(*why));
        return std::nullopt;
      }
      return value;
    }
  }
  const FileEntry* direct = data_->find(key);
  const FileEntry* from_file = data_->find(file_key);
  if (direct != nullptr && from_file != nullptr) {
    error(file_key, "set either " + std::string(key) + " or " + file_key + ", not both");
    return std::nullopt;
  }
  if (from_file != nullptr) {
    auto file = text(file_key);
    if (!file) return std::nullopt;
    std::string value;
    if (auto why = read_secret_file(*file, value)) {
      error(file_key, std::move(*why));
      return std::nullopt;
    }
    return value;
  }
  if (direct == nullptr) {
    if (need == Need::kRequired) error(key, "required (or " + file_key + ")");
    return std::nullopt;
  }
  return text(key);
}

std::optional<std::int64_t> ConfigSection::integer(std::string_view key, std::int64_t min,
                                                   std::int64_t max, Need need) {
  auto value = text(key, need);
  if (!value) return std::nullopt;
  std::int64_t out = 0;
  if (auto why = config_internal::parse_integer(*value, min, max, out)) {
    error(key, std::move(*why));
    return std::nullopt;
  }
  return out;
}

std::optional<bool> ConfigSection::boolean(std::string_view key) {
  auto value = text(key);
  if (!value) return std::nullopt;
  if (*value == "true") return true;
  if (*value == "false") return false;
  error(key, "expected true or false");
  return std::nullopt;
}

std::optional<std::size_t> ConfigSection::word(std::string_view key, const std::string_view* words,
                                               std::size_t count, Need need) {
  auto value = text(key, need);
  if (!value) return std::nullopt;
  const std::span<const std::string_view> choices(words, count);
  if (auto why = config_internal::parse_one_of(*value, choices)) {
    error(key, std::move(*why));
    return std::nullopt;
  }
  return static_cast<std::size_t>(std::find(choices.begin(), choices.end(), *value) -
                                  choices.begin());
}

std::optional<ConfigSection> ConfigSection::section(std::string_view key, Need need) {
  if (need == Need::kRequired && data_->find(key) == nullptr) {
    error(key, "required");
    return std::nullopt;
  }
  const FileEntry* entry = composite(key, false, "a mapping");
  if (entry == nullptr) return std::nullopt;
  return ConfigSection(shared_, join_path(data_->path, key), entry->line, entry->value);
}

const ConfigSection::FileEntry* ConfigSection::composite(std::string_view key, bool sequence,
                                                         std::string_view expected) {
  data_->asked.emplace(key);
  const FileEntry* entry = data_->find(key);
  if (entry == nullptr || entry->value.IsNull()) return entry;
  if (sequence ? entry->value.IsSequence() : entry->value.IsMap()) return entry;
  error(key, "expected " + std::string(expected));
  return nullptr;
}

std::optional<std::vector<ConfigSection>> ConfigSection::list(std::string_view key) {
  const FileEntry* entry = composite(key, true, "a list");
  if (entry == nullptr) return std::nullopt;
  std::vector<ConfigSection> out;
  if (entry->value.IsNull()) return out;
  const std::string list_path = join_path(data_->path, key);
  std::size_t index = 0;
  for (const auto& item : entry->value) {
    const std::string item_path = index_path(list_path, index++);
    const int item_line = config_internal::line_of(item, entry->line);
    if (!item.IsMap()) {
      error_at(item_path, item_line, "expected a mapping");
      continue;
    }
    out.emplace_back(shared_, item_path, item_line, item);
  }
  return out;
}

std::optional<std::vector<ConfigSection::Entry>> ConfigSection::entries(std::string_view key,
                                                                        std::string_view expected) {
  const FileEntry* entry = composite(key, false, expected);
  if (entry == nullptr) return std::nullopt;
  std::vector<Entry> out;
  if (entry->value.IsNull()) return out;
  const std::string map_path = join_path(data_->path, key);
  config_internal::for_each_entry(
      entry->value, map_path, shared_->errors,
      [&](const std::string& name, const YAML::Node& value, int line) {
        const std::string path = join_path(map_path, name);
        if (auto text = config_internal::scalar_string(value, path, line, shared_->errors)) {
          out.push_back(Entry{name, std::move(*text), path, line});
        }
      });
  return out;
}

namespace config_internal {

std::shared_ptr<ConfigSection::Shared> new_section_shared(const EnvLookup& env, Errors& errors) {
  return std::make_shared<ConfigSection::Shared>(ConfigSection::Shared{env, errors, {}});
}

void report_unknown_keys(ConfigSection::Shared& shared) {
  for (const auto& data : shared.sections) {
    for (const auto& [key, entry] : data->entries) {
      if (!data->asked.contains(key)) {
        add_error(shared.errors, join_path(data->path, key), entry.line, "unknown key");
      }
    }
  }
  shared.sections.clear();
}

}  // namespace config_internal
}  // namespace coibridge::core
