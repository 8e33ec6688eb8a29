// connectors.coi: chat-over-email accounts. Each entry names the account, its IMAP and SMTP
// servers and how remote people are shown on the mail side.

#include <array>
#include <set>

#include "core/config/config_yaml.hpp"

namespace coibridge::core::config_internal {
namespace {

// In the order of MailTls and MailIdentity.
constexpr std::array<std::string_view, 3> kTlsModes = {"implicit", "starttls", "none"};
constexpr std::array<std::string_view, 2> kIdentityModes = {"puppet", "relay"};

bool plausible_address(const std::string& address) {
  const auto at = address.find('@');
  return at != std::string::npos && at > 0 && at + 1 < address.size() &&
         address.find('@', at + 1) == std::string::npos &&
         address.find_first_of(" \t\r\n<>\",;") == std::string::npos;
}

MailServerConfig parse_server(const YAML::Node& node, const std::string& path, int line,
                              Errors& errors) {
  MailServerConfig server;
  if (!node.IsMap()) {
    add_error(errors, path, line, "expected a mapping with host, port, username and password");
    return server;
  }
  std::set<std::string> present;
  for_each_entry(node, path, errors, [&](const std::string& key, const YAML::Node& value, int l) {
    const std::string p = join_path(path, key);
    present.insert(key);
    auto text = scalar_string(value, p, l, errors);
    if (!text) return;
    if (key == "host") {
      if (text->empty()) add_error(errors, p, l, "must not be empty");
      server.host = *text;
    } else if (key == "port") {
      std::int64_t port = 0;
      if (auto e = parse_integer(*text, 1, 65535, port)) {
        add_error(errors, p, l, *e);
      } else {
        server.port = static_cast<std::uint16_t>(port);
      }
    } else if (key == "tls") {
      if (auto e = parse_enum(*text, kTlsModes, server.tls)) add_error(errors, p, l, *e);
    } else if (key == "ca_file") {
      server.ca_file = *text;
    } else if (key == "verify_certificate") {
      if (*text == "true") {
        server.verify_certificate = true;
      } else if (*text == "false") {
        server.verify_certificate = false;
      } else {
        add_error(errors, p, l, "expected true or false");
      }
    } else if (key == "username") {
      server.username = *text;
    } else if (key == "password") {
      server.password = *text;
    } else {
      add_error(errors, p, l, "unknown key");
    }
  });
  for (const char* required : {"host", "port", "username", "password"}) {
    if (!present.contains(required)) add_error(errors, join_path(path, required), line, "required");
  }
  return server;
}

CoiConnectorConfig parse_coi(const YAML::Node& node, const std::string& path, int line,
                             Errors& errors) {
  CoiConnectorConfig coi;
  if (!node.IsMap()) {
    add_error(errors, path, line, "expected a mapping with name, address, imap and smtp");
    return coi;
  }
  std::set<std::string> present;
  for_each_entry(node, path, errors, [&](const std::string& key, const YAML::Node& value, int l) {
    const std::string p = join_path(path, key);
    present.insert(key);
    if (key == "imap" || key == "smtp") {
      (key == "imap" ? coi.imap : coi.smtp) = parse_server(value, p, l, errors);
      return;
    }
    auto text = scalar_string(value, p, l, errors);
    if (!text) return;
    if (key == "name") {
      coi.name = *text;
      if (!is_valid_instance_name(coi.name)) add_error(errors, p, l, "must match [a-z0-9_.-]+");
    } else if (key == "address") {
      coi.address = *text;
      if (!plausible_address(coi.address)) add_error(errors, p, l, "expected a mail address");
    } else if (key == "display_name") {
      coi.display_name = *text;
    } else if (key == "identity") {
      if (auto e = parse_enum(*text, kIdentityModes, coi.identity)) add_error(errors, p, l, *e);
    } else if (key == "max_message_bytes") {
      std::int64_t n = 0;
      if (auto e = parse_integer(*text, 1024, std::int64_t{1} << 30, n)) {
        add_error(errors, p, l, *e);
      } else {
        coi.max_message_bytes = static_cast<std::size_t>(n);
      }
    } else if (key == "max_attachment_bytes") {
      std::int64_t n = 0;
      if (auto e = parse_integer(*text, 1024, std::int64_t{1} << 30, n)) {
        add_error(errors, p, l, *e);
      } else {
        coi.max_attachment_bytes = static_cast<std::size_t>(n);
      }
    } else {
      add_error(errors, p, l, "unknown key");
    }
  });
  for (const char* required : {"name", "address", "imap", "smtp"}) {
    if (!present.contains(required)) add_error(errors, join_path(path, required), line, "required");
  }
  return coi;
}

}  // namespace

void parse_coi_list(const YAML::Node& node, int line, Config& config, Errors& errors) {
  parse_instance_list(node, line, "connectors.coi", config.connectors.coi, errors, parse_coi);
}

}  // namespace coibridge::core::config_internal
