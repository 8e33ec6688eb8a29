// admin.tokens. Token values are secrets: no message here may contain one, nor anything read
// from the admin section other than key names and token names.

#include <map>

#include "core/config/config_section.hpp"
#include "core/config/config_yaml.hpp"

namespace coibridge::core::config_internal {
namespace {

constexpr std::size_t kMinTokenLength = 32;
constexpr std::string_view kTokensPath = "admin.tokens";

struct TokenEntry {
  AdminToken token;
  std::string path;  // "admin.tokens[1]"
  int name_line = 0;
  int token_line = 0;
};

// Tokens travel in an Authorization header, so only printable ASCII without spaces works.
bool is_token_char(char c) { return c > ' ' && c < '\x7f'; }

void check_token_value(const std::string& token, const std::string& path, int line,
                       Errors& errors) {
  if (token.size() < kMinTokenLength) {
    add_error(errors, path, line,
              "must be at least " + std::to_string(kMinTokenLength) + " characters");
  }
  for (char c : token) {
    if (!is_token_char(c)) {
      add_error(errors, path, line, "must be printable ASCII without spaces");
      return;
    }
  }
}

void parse_scopes(const YAML::Node& node, const std::string& path, int line, AdminToken& token,
                  Errors& errors) {
  if (!node.IsSequence()) {
    add_error(errors, path, line, "expected a list of scopes: read, write");
    return;
  }
  if (node.size() == 0) {
    add_error(errors, path, line, "must name at least one scope: read, write");
    return;
  }
  std::size_t index = 0;
  for (const auto& item : node) {
    const std::string word = item.IsScalar() ? item.Scalar() : std::string();
    if (word == "read") {
      token.can_read = true;
    } else if (word == "write") {
      token.can_read = true;  // writing without seeing what one changes is never wanted
      token.can_write = true;
    } else {
      add_error(errors, index_path(path, index), line_of(item, line), "expected read or write");
    }
    ++index;
  }
}

TokenEntry parse_token(const YAML::Node& node, std::string path, int line, const EnvLookup& env,
                       Errors& errors) {
  TokenEntry entry{.token = {}, .path = std::move(path), .name_line = line, .token_line = line};
  if (!node.IsMap()) {
    add_error(errors, entry.path, line, "expected a mapping with name, token and scopes");
    return entry;
  }
  bool has_name = false;
  bool has_token = false;
  bool has_scopes = false;
  for_each_entry(node, entry.path, errors,
                 [&](const std::string& key, const YAML::Node& value, int value_line) {
                   const std::string field_path = join_path(entry.path, key);
                   if (key == "name") {
                     has_name = true;
                     entry.name_line = value_line;
                     auto text = scalar_string(value, field_path, value_line, errors);
                     if (text && text->empty()) {
                       add_error(errors, field_path, value_line, "must not be empty");
                     }
                     if (text) entry.token.name = std::move(*text);
                   } else if (key == "token" || key == "token_file") {
                     if (has_token) {
                       add_error(errors, field_path, value_line,
                                 "set either token or token_file, not both");
                       return;
                     }
                     has_token = true;
                     entry.token_line = value_line;
                     auto text = scalar_string(value, field_path, value_line, errors);
                     if (text && key == "token_file") {
                       std::string token;
                       if (auto why = read_secret_file(*text, token)) {
                         add_error(errors, field_path, value_line, std::move(*why));
                         return;
                       }
                       text = std::move(token);
                     }
                     if (text) {
                       check_token_value(*text, field_path, value_line, errors);
                       entry.token.token = std::move(*text);
                     }
                   } else if (key == "scopes") {
                     has_scopes = true;
                     parse_scopes(value, field_path, value_line, entry.token, errors);
                   } else {
                     add_error(errors, field_path, value_line, "unknown key");
                   }
                 });
  // COIBRIDGE_ADMIN_TOKENS_<i>_TOKEN (or _TOKEN_FILE) wins over the file, as for every key.
  const std::string var = config_env_name(join_path(entry.path, "token"));
  std::optional<std::string> from_env = env ? env(var) : std::nullopt;
  std::string source = var;
  if (!from_env && env) {
    if (auto file = env(var + "_FILE")) {
      source = var + "_FILE";
      std::string token;
      if (auto why = read_secret_file(*file, token)) {
        add_error(errors, source, 0, std::move(*why));
        has_token = true;  // reported already
      } else {
        from_env = std::move(token);
      }
    }
  }
  if (from_env) {
    has_token = true;
    check_token_value(*from_env, source, 0, errors);
    entry.token.token = std::move(*from_env);
  }
  if (!has_name) add_error(errors, join_path(entry.path, "name"), line, "required");
  if (!has_token) add_error(errors, join_path(entry.path, "token"), line, "required");
  if (!has_scopes) add_error(errors, join_path(entry.path, "scopes"), line, "required");
  return entry;
}

void report_duplicates(const std::vector<TokenEntry>& entries, Errors& errors) {
  std::map<std::string_view, const TokenEntry*> by_name;
  std::map<std::string_view, const TokenEntry*> by_token;
  for (const auto& entry : entries) {
    if (!entry.token.name.empty()) {
      const auto [first, inserted] = by_name.emplace(entry.token.name, &entry);
      if (!inserted) {
        add_error(
            errors, join_path(entry.path, "name"), entry.name_line,
            "duplicate token name \"" + entry.token.name + "\" (also " + first->second->path + ")");
      }
    }
    if (!entry.token.token.empty()) {
      const auto [first, inserted] = by_token.emplace(entry.token.token, &entry);
      if (!inserted) {
        add_error(errors, join_path(entry.path, "token"), entry.token_line,
                  "same token as " + first->second->path + "; every token must be unique");
      }
    }
  }
}

void parse_tokens(const YAML::Node& node, int line, const EnvLookup& env, Config& config,
                  Errors& errors) {
  const std::string path(kTokensPath);
  if (!node.IsSequence() && !node.IsNull()) {
    add_error(errors, path, line, "expected a list");
    return;
  }
  if (node.IsNull() || node.size() == 0) {
    add_error(errors, path, line, std::string(kTokensRequired));
    return;
  }
  std::vector<TokenEntry> entries;
  for (const auto& item : node) {
    entries.push_back(
        parse_token(item, index_path(path, entries.size()), line_of(item, line), env, errors));
  }
  report_duplicates(entries, errors);
  for (auto& entry : entries) config.admin.tokens.push_back(std::move(entry.token));
}

}  // namespace

void parse_admin(const YAML::Node& node, int line, const EnvLookup& env, Config& config,
                 Errors& errors) {
  if (!expect_mapping(node, "admin", line, errors)) return;
  bool saw_tokens = false;
  for_each_entry(node, "admin", errors,
                 [&](const std::string& key, const YAML::Node& value, int value_line) {
                   if (key == "tokens") {
                     saw_tokens = true;
                     parse_tokens(value, value_line, env, config, errors);
                   } else {
                     add_error(errors, join_path("admin", key), value_line, "unknown key");
                   }
                 });
  if (!saw_tokens) add_error(errors, std::string(kTokensPath), line, std::string(kTokensRequired));
}

}  // namespace coibridge::core::config_internal
