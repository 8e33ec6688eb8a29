#pragma once
// Who may give the bridge bot management commands (connectors.matrix[].permissions).
//
// The table maps a subject to a level: a Matrix user id ("@alice:example.org"), a server
// name ("example.org", every user of that server) or "*" (everybody). The most specific
// subject that has an entry wins: the user id, then the user's server, then "*". Without a
// table, users of the bridge's own server are "user" and nobody is "admin".
//
// Levels govern commands and the rooms the bridge creates on request (direct chats, portal
// links); they do not govern chat: messages of anybody in a linked room are relayed.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace coibridge::connectors::matrix {

enum class PermissionLevel { kNone = 0, kUser = 1, kAdmin = 2 };

// "user" and "admin"; nullopt for anything else.
std::optional<PermissionLevel> parse_permission_level(std::string_view text);
std::string_view to_string(PermissionLevel level);

// The level of `user_id` under `table` (the configured map, or nullopt when the key is
// absent), for a bridge on `own_server`. A malformed user id (no ':') only matches "*".
PermissionLevel permission_of(std::string_view user_id,
                              const std::optional<std::map<std::string, std::string>>& table,
                              std::string_view own_server);

}  // namespace coibridge::connectors::matrix
