#pragma once
// The rooms the bridge makes or takes on: direct chats a ghost opens, public portal rooms
// made when someone asks for a portal alias, rooms a user invites the bot or a ghost to, and
// the MSC2346 bridge info (m.bridge, and the unstable uk.half-shot.bridge clients still read)
// that tells clients which network a room reaches. Holds no state of its own.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "connectors/matrix/bot_rooms.hpp"
#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/ghost_directory.hpp"
#include "connectors/matrix/matrix_config.hpp"
#include "connectors/matrix/matrix_event_mapping.hpp"
#include "connectors/matrix/runtime.hpp"
#include "core/store/conversation_state_store.hpp"

namespace coibridge::connectors::matrix {

class Portals {
 public:
  Portals(const MatrixConnectorConfig& config, const MappingContext& mapping, ClientApi& api,
          GhostDirectory& ghosts, BotRooms& bot, const Runtime& runtime,
          core::ConversationStateStore* conversations)
      : config_(config),
        mapping_(mapping),
        api_(api),
        ghosts_(ghosts),
        bot_(bot),
        runtime_(runtime),
        conversations_(conversations) {}

  // Connector::open_direct_chat: the ghost of `other` opens a direct chat with `person`.
  boost::asio::awaitable<core::Result<std::string>> open_direct_chat(std::string person,
                                                                     core::ActorRef other);
  // A portal alias was asked for (Application Service API, "Querying room aliases"): the
  // public room of a known mail group, made and linked now (connectors.matrix[].public_portals).
  // true: the alias exists now; false: it names no portal (404); an error: try again (500).
  boost::asio::awaitable<core::Result<bool>> open_public_portal(std::string alias);
  // A user of ours was invited: the bot joins (a room to bridge), a ghost joins and links
  // the room as a direct chat with the person it stands for.
  boost::asio::awaitable<core::Status> on_invite(const nlohmann::json& event);
  // Connector::linked / unlinked: the room's bridge info is shown or withdrawn.
  boost::asio::awaitable<core::Status> linked(core::PortalLink link);
  boost::asio::awaitable<core::Status> unlinked(core::PortalLink link);
  // A room id, or the room an alias names (client-server API, "Room aliases").
  boost::asio::awaitable<core::Result<std::string>> resolve_room(const std::string& id_or_alias);

  std::string bot_user_id() const;

 private:
  nlohmann::json bridge_info(const std::string& creator, const std::string& channel_id,
                             const std::string& channel_name) const;
  // Bridge info as `as_user` in `room`; empty content withdraws it.
  boost::asio::awaitable<core::Status> put_bridge_info(const std::string& room,
                                                       const std::string& state_key,
                                                       const nlohmann::json& content,
                                                       const std::string& as_user);

  const MatrixConnectorConfig& config_;
  const MappingContext& mapping_;
  ClientApi& api_;
  GhostDirectory& ghosts_;
  BotRooms& bot_;
  const Runtime& runtime_;
  core::ConversationStateStore* conversations_;
};

}  // namespace coibridge::connectors::matrix
