#pragma once
// connectors.matrix[]: a Matrix homeserver the bridge is an application service of. The
// tokens live in the registration file (coi-bridge generate-registration writes it; the
// homeserver loads it): one source of truth, so the two sides cannot drift apart unnoticed.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/config/config_section.hpp"
#include "core/config/connector_config.hpp"

namespace coibridge::connectors::matrix {

struct MatrixConnectorConfig : core::ConnectorConfig {
  std::string homeserver_url;  // client-server API base, e.g. https://matrix.example.org
  std::string server_name;     // the homeserver's name, the part after ':' in user ids
  std::string registration;    // path of the appservice registration YAML
  std::string url;             // where the homeserver reaches the bridge (registration `url`)
  std::string ghost_prefix = "_coi_";  // ghosts are @<prefix><escaped id>:<server_name>
  std::string bot_localpart = "coibridge";
  std::string dm_connector;  // the connector that direct chats with ghosts go to
  // Who may use the bot's management commands: a Matrix user id ("@alice:example.org"), a
  // server name ("example.org") or "*" to "user" or "admin"; the most specific entry wins.
  // Unset: users of server_name are "user", nobody is "admin".
  std::optional<std::map<std::string, std::string>> permissions;
  bool public_portals = false;  // rooms for groups on alias query (#<prefix><group>:<server>)
  // The largest appservice transaction taken. Synapse pushes up to 100 events of up to
  // 64 KiB each, plus ephemeral events, in one transaction: far more than http.max_body_bytes.
  std::size_t max_transaction_bytes = 32 * 1024 * 1024;
  std::string ca_file;  // empty: the system's CA certificates
  bool verify_certificate = true;
};

std::shared_ptr<core::ConnectorConfig> parse_matrix_config(core::ConfigSection& section);

}  // namespace coibridge::connectors::matrix
