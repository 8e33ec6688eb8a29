#include "connectors/matrix/permissions.hpp"

namespace coibridge::connectors::matrix {

std::optional<PermissionLevel> parse_permission_level(std::string_view text) {
  if (text == "user") return PermissionLevel::kUser;
  if (text == "admin") return PermissionLevel::kAdmin;
  return std::nullopt;
}

std::string_view to_string(PermissionLevel level) {
  switch (level) {
    case PermissionLevel::kAdmin:
      return "admin";
    case PermissionLevel::kUser:
      return "user";
    case PermissionLevel::kNone:
      break;
  }
  return "none";
}

PermissionLevel permission_of(std::string_view user_id,
                              const std::optional<std::map<std::string, std::string>>& table,
                              std::string_view own_server) {
  // User ids split at the first ':' (appendices, "User Identifiers"); the server name may
  // carry a port and so a ':' of its own.
  const auto colon = user_id.find(':');
  const bool well_formed = user_id.starts_with("@") && colon != std::string_view::npos &&
                           colon > 1 && colon + 1 < user_id.size();
  const std::string_view server = well_formed ? user_id.substr(colon + 1) : std::string_view();
  if (!table)
    return well_formed && server == own_server ? PermissionLevel::kUser : PermissionLevel::kNone;
  const auto level_of = [&](std::string_view subject) -> std::optional<PermissionLevel> {
    auto it = table->find(std::string(subject));
    if (it == table->end()) return std::nullopt;
    return parse_permission_level(it->second).value_or(PermissionLevel::kNone);
  };
  if (well_formed) {
    if (auto level = level_of(user_id)) return *level;
    if (auto level = level_of(server)) return *level;
  }
  return level_of("*").value_or(PermissionLevel::kNone);
}

}  // namespace coibridge::connectors::matrix
