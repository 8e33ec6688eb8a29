// connectors.matrix: Matrix homeservers the bridge serves as an application service.

#include <map>
#include <set>
#include <string_view>

#include "core/config/config_yaml.hpp"

namespace coibridge::core::config_internal {
namespace {

bool http_url(const std::string& url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

// A permissions subject: "*", a user id "@localpart:server" or a server name. The checks are
// the coarse ones a typo trips over; the connector matches subjects by exact text.
bool valid_subject(const std::string& subject) {
  if (subject == "*") return true;
  const auto bad_server = [](std::string_view server) {
    return server.empty() || server.find_first_of(" /@*\t") != std::string_view::npos;
  };
  if (subject.starts_with("@")) {
    const auto colon = subject.find(':');
    return colon != std::string::npos && colon > 1 &&
           !bad_server(std::string_view(subject).substr(colon + 1));
  }
  return !bad_server(subject) && !subject.starts_with(":");
}

std::map<std::string, std::string> parse_permissions(const YAML::Node& node,
                                                     const std::string& path, int line,
                                                     Errors& errors) {
  std::map<std::string, std::string> out;
  if (node.IsNull()) return out;  // "permissions:" with nothing: nobody may use commands
  if (!node.IsMap()) {
    add_error(errors, path, line,
              "expected a mapping from user id, server name or * to user or admin");
    return out;
  }
  for_each_entry(
      node, path, errors, [&](const std::string& subject, const YAML::Node& value, int l) {
        const std::string p = join_path(path, subject);
        auto level = scalar_string(value, p, l, errors);
        if (!level) return;
        if (!valid_subject(subject)) {
          add_error(errors, p, l,
                    "expected a Matrix user id (@alice:example.org), a server name or *");
        } else if (*level != "user" && *level != "admin") {
          add_error(errors, p, l, "expected user or admin");
        } else {
          out[subject] = *level;
        }
      });
  return out;
}

MatrixConnectorConfig parse_matrix(const YAML::Node& node, const std::string& path, int line,
                                   Errors& errors) {
  MatrixConnectorConfig m;
  if (!node.IsMap()) {
    add_error(errors, path, line,
              "expected a mapping with name, homeserver_url, server_name, registration and url");
    return m;
  }
  std::set<std::string> present;
  for_each_entry(node, path, errors, [&](const std::string& key, const YAML::Node& value, int l) {
    const std::string p = join_path(path, key);
    present.insert(key);
    if (key == "permissions") {
      m.permissions = parse_permissions(value, p, l, errors);
      return;
    }
    auto text = scalar_string(value, p, l, errors);
    if (!text) return;
    if (key == "name") {
      m.name = *text;
      if (!is_valid_instance_name(m.name)) add_error(errors, p, l, "must match [a-z0-9_.-]+");
    } else if (key == "homeserver_url" || key == "url") {
      if (!http_url(*text)) add_error(errors, p, l, "expected an http:// or https:// URL");
      (key == "url" ? m.url : m.homeserver_url) = *text;
    } else if (key == "server_name") {
      if (text->empty() || text->find_first_of(" /@") != std::string::npos)
        add_error(errors, p, l, "expected a server name");
      m.server_name = *text;
    } else if (key == "registration") {
      m.registration = *text;
    } else if (key == "ghost_prefix") {
      m.ghost_prefix = *text;
    } else if (key == "bot_localpart") {
      m.bot_localpart = *text;
    } else if (key == "dm_connector") {
      m.dm_connector = *text;
    } else if (key == "public_portals") {
      if (*text != "true" && *text != "false") add_error(errors, p, l, "expected true or false");
      m.public_portals = *text == "true";
    } else if (key == "ca_file") {
      m.ca_file = *text;
    } else if (key == "verify_certificate") {
      if (*text != "true" && *text != "false") add_error(errors, p, l, "expected true or false");
      m.verify_certificate = *text != "false";
    } else {
      add_error(errors, p, l, "unknown key");
    }
  });
  for (const char* required : {"name", "homeserver_url", "server_name", "registration", "url"}) {
    if (!present.contains(required)) add_error(errors, join_path(path, required), line, "required");
  }
  return m;
}

}  // namespace

void parse_matrix_list(const YAML::Node& node, int line, Config& config, Errors& errors) {
  parse_instance_list(node, line, "connectors.matrix", config.connectors.matrix, errors,
                      parse_matrix);
}

}  // namespace coibridge::core::config_internal
