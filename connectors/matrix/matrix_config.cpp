#include "connectors/matrix/matrix_config.hpp"

#include <string_view>

namespace coibridge::connectors::matrix {
namespace {

using Need = core::ConfigSection::Need;

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

std::optional<std::map<std::string, std::string>> parse_permissions(core::ConfigSection& section) {
  // "permissions:" with nothing means nobody may use commands; absent means the default.
  auto entries =
      section.entries("permissions", "a mapping from user id, server name or * to user or admin");
  if (!entries) return std::nullopt;
  std::map<std::string, std::string> out;
  for (auto& entry : *entries) {
    if (!valid_subject(entry.key)) {
      section.error_at(entry.path, entry.line,
                       "expected a Matrix user id (@alice:example.org), a server name or *");
    } else if (entry.value != "user" && entry.value != "admin") {
      section.error_at(entry.path, entry.line, "expected user or admin");
    } else {
      out[entry.key] = std::move(entry.value);
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<core::ConnectorConfig> parse_matrix_config(core::ConfigSection& section) {
  auto m = std::make_shared<MatrixConnectorConfig>();
  bool ok = true;
  for (auto [key, member] : {std::pair{"homeserver_url", &MatrixConnectorConfig::homeserver_url},
                             std::pair{"url", &MatrixConnectorConfig::url}}) {
    auto url = section.text(key, Need::kRequired);
    if (!url) {
      ok = false;
    } else if (!http_url(*url)) {
      section.error(key, "expected an http:// or https:// URL");
      ok = false;
    } else {
      (*m).*member = std::move(*url);
    }
  }
  if (auto server = section.text("server_name", Need::kRequired); !server) {
    ok = false;
  } else if (server->empty() || server->find_first_of(" /@") != std::string::npos) {
    section.error("server_name", "expected a server name");
    ok = false;
  } else {
    m->server_name = std::move(*server);
  }
  if (auto path = section.text("registration", Need::kRequired)) {
    m->registration = std::move(*path);
  } else {
    ok = false;
  }
  if (auto prefix = section.text("ghost_prefix")) m->ghost_prefix = std::move(*prefix);
  if (auto bot = section.text("bot_localpart")) m->bot_localpart = std::move(*bot);
  if (auto dm = section.text("dm_connector")) m->dm_connector = std::move(*dm);
  m->permissions = parse_permissions(section);
  if (auto v = section.boolean("public_portals")) m->public_portals = *v;
  if (auto n = section.integer("max_transaction_bytes", 1024 * 1024, std::int64_t{1} << 30)) {
    m->max_transaction_bytes = static_cast<std::size_t>(*n);
  }
  if (auto ca = section.text("ca_file")) m->ca_file = std::move(*ca);
  if (auto v = section.boolean("verify_certificate")) m->verify_certificate = *v;
  if (!ok) return nullptr;
  return m;
}

}  // namespace coibridge::connectors::matrix
