#include "connectors/matrix/portals.hpp"

#include <spdlog/spdlog.h>

#include <array>

#include "connectors/matrix/json_fields.hpp"
#include "connectors/matrix/permissions.hpp"

namespace coibridge::connectors::matrix {
namespace {

using boost::asio::awaitable;
using json_fields::text_or_empty;
using nlohmann::json;

// MSC2346 bridge info, under its stable type and the unstable one clients still read.
constexpr std::array<const char*, 2> kBridgeInfoTypes{"m.bridge", "uk.half-shot.bridge"};

// The state key of the bridge info of a room linked into bridge `id` (direct chats, made by
// open_direct_chat, use "coi:<connector>:<person>").
std::string bridge_state_key(std::int64_t id) { return "coi:bridge:" + std::to_string(id); }

}  // namespace

std::string Portals::bot_user_id() const {
  return "@" + config_.bot_localpart + ":" + config_.server_name;
}

json Portals::bridge_info(const std::string& creator, const std::string& channel_id,
                          const std::string& channel_name) const {
  // MSC2346: which network the room reaches, through which bot, and what it is there.
  return json{{"bridgebot", bot_user_id()},
              {"creator", creator},
              {"protocol", {{"id", "coi"}, {"displayname", "Chat over email"}}},
              {"channel", {{"id", channel_id}, {"displayname", channel_name}}}};
}

awaitable<core::Status> Portals::put_bridge_info(const std::string& room,
                                                 const std::string& state_key, const json& content,
                                                 const std::string& as_user) {
  for (const char* type : kBridgeInfoTypes) {
    auto r = co_await api_.send_state(room, type, state_key, content, as_user);
    if (!r) co_return r.error();
  }
  co_return core::Status{};
}

awaitable<core::Result<std::string>> Portals::open_direct_chat(std::string person,
                                                               core::ActorRef other) {
  if (!is_valid_user_id(person))
    co_return core::Error::invalid("person", "not a Matrix user id: " + person);
  auto ghost = co_await ghosts_.ready(other);
  if (!ghost) co_return ghost.error();
  // Client-server API, "Direct Messaging": a room created with is_direct and the person
  // invited shows as a direct chat on their side. The bridge info goes in with the room.
  const json info = bridge_info(*ghost, other.remote_id,
                                other.display_name.empty() ? other.remote_id : other.display_name);
  json initial_state = json::array();
  for (const char* type : kBridgeInfoTypes) {
    initial_state.push_back({{"type", type},
                             {"state_key", "coi:" + config_.name + ":" + other.remote_id},
                             {"content", info}});
  }
  json body{{"preset", "trusted_private_chat"},
            {"is_direct", true},
            {"invite", json::array({person})},
            {"initial_state", initial_state}};
  auto room = co_await api_.create_room(body, *ghost);
  if (!room) co_return room.error();
  co_await ghosts_.joined(*ghost, *room);
  co_return *room;
}

awaitable<core::Result<bool>> Portals::open_public_portal(std::string alias) {
  if (!config_.public_portals || config_.dm_connector.empty() || runtime_.portal_links == nullptr ||
      conversations_ == nullptr) {
    co_return false;
  }
  const auto conversation = group_id_of_portal_alias(alias, mapping_.naming);
  if (!conversation) co_return false;
  // Only groups the other side has described as such: an alias must not conjure up
  // conversations, nor open someone's direct chat. The id itself is that connector's, opaque.
  auto known = co_await conversations_->describe(config_.dm_connector, *conversation);
  if (!known) co_return known.error();
  if (!*known || (*known)->kind != "group") co_return false;
  const std::string title = (*known)->title.empty() ? *conversation : (*known)->title;
  const auto parts = split_id(alias);
  if (!parts) co_return false;

  // A public room, so that anyone who knows the alias can join it (an invite-only room is
  // not joinable by alias). The bridge info follows from the link (linked()).
  json body{{"preset", "public_chat"},
            {"visibility", "private"},  // not listed in the room directory
            {"room_alias_name", parts->localpart},
            {"name", title},
            {"topic", "Bridged with the group " + title + " (" + config_.dm_connector + ")"}};
  auto created = co_await api_.create_room(body, "");
  if (!created) {
    // Another query made it a moment ago: the alias exists, which is all the answer says.
    if (ClientApi::errcode_of(created.error()) == "M_ROOM_IN_USE") co_return true;
    spdlog::warn("matrix {}: portal {} not created: {}", config_.name, alias,
                 created.error().message);
    co_return created.error();
  }
  const std::string room = *created;
  if (!is_valid_room_id(room))
    co_return core::Error::unavailable("createRoom answered without a room id");
  bot_.add(room);
  const core::ConversationRef here{config_.name, room};
  const core::ConversationRef there{config_.dm_connector, *conversation};
  const std::string actor = config_.name + ":alias-query";
  auto linked_bridge = co_await runtime_.portal_links->link(here, there, actor);
  if (!linked_bridge) {
    // The group is linked elsewhere already (or the store failed): the new room must not
    // keep the alias, or it would name a room that relays nothing.
    spdlog::warn("matrix {}: portal {} not linked with {}: {}", config_.name, alias, *conversation,
                 linked_bridge.error().message);
    (void)co_await api_.delete_alias(alias);
    (void)co_await api_.leave_room(room, "");
    if (linked_bridge.error().kind == core::ErrorKind::kUnavailable)
      co_return linked_bridge.error();
    co_return false;
  }
  spdlog::info("matrix {}: portal {} ({}) for {}:{}", config_.name, alias, room,
               config_.dm_connector, *conversation);
  co_return true;
}

awaitable<core::Status> Portals::on_invite(const json& event) {
  const std::string room = text_or_empty(event, "room_id");
  const std::string invitee = text_or_empty(event, "state_key");
  const std::string inviter = text_or_empty(event, "sender");
  if (!is_valid_room_id(room))
    co_return core::Error::invalid("room_id", "invite without a valid room id");
  if (invitee == bot_user_id()) {
    // The bot joins rooms it is invited to: that is how a room gets bridged (then linked),
    // and where no bridge links the room, it takes commands there.
    auto joined = co_await api_.join_room(room, "");
    if (joined) bot_.add(room);
    co_return joined;
  }
  // The ghost says whose it is: the direct chat opens on that person's network.
  const auto person = person_of_ghost(invitee, mapping_.naming);
  if (!person) co_return core::Status{};
  if (permission_of(inviter, config_.permissions, config_.server_name) < PermissionLevel::kUser) {
    // A direct chat is a room the bridge opens on request: that needs the "user" level. The
    // ghost declines (leaving an invited room rejects the invite).
    spdlog::info(
        "matrix {}: {} may not open direct chats (connectors.matrix[].permissions); declined",
        config_.name, inviter);
    co_return co_await api_.leave_room(room, invitee);
  }
  if (auto st = co_await api_.join_room(room, invitee); !st) co_return st;
  co_await ghosts_.joined(invitee, room);
  if (runtime_.direct_chats == nullptr) {
    co_return core::Error::permanent("this process offers no direct chats");
  }
  const core::ActorRef requester{config_.name, inviter,
                                 mapping_.display_name(inviter).value_or(inviter)};
  // Named, not braced in the call: g++ 12 destroys such a temporary twice in a co_await.
  const core::ConversationRef here{config_.name, room};
  auto linked_chat =
      co_await runtime_.direct_chats->link(here, requester, person->connector, person->remote_id);
  if (!linked_chat && linked_chat.error().kind != core::ErrorKind::kConflict)
    co_return linked_chat.error();
  co_return core::Status{};
}

awaitable<core::Status> Portals::linked(core::PortalLink link) {
  if (!is_valid_room_id(link.conversation)) co_return core::Status{};
  const json info = bridge_info(
      bot_user_id(), "bridge:" + std::to_string(link.bridge_id),
      link.bridge_name.empty() ? "bridge " + std::to_string(link.bridge_id) : link.bridge_name);
  const std::string key = bridge_state_key(link.bridge_id);
  auto st = co_await put_bridge_info(link.conversation, key, info, "");
  if (!st && ClientApi::errcode_of(st.error()) == "M_FORBIDDEN") {
    // The bot lacks the power level for state events (50 by default): say so where the
    // room's admins see it. The link itself stands.
    const std::string note =
        "This room is now bridged, but I may not show it (m.bridge state): give " + bot_user_id() +
        " power level 50 or more, then link it again to refresh.";
    co_await bot_.say(link.conversation, note);
  }
  co_return st;
}

awaitable<core::Status> Portals::unlinked(core::PortalLink link) {
  if (!is_valid_room_id(link.conversation)) co_return core::Status{};
  // State cannot be deleted; empty content is how a state event is withdrawn (MSC2346).
  const json empty = json::object();
  const std::string key = bridge_state_key(link.bridge_id);
  co_return co_await put_bridge_info(link.conversation, key, empty, "");
}

awaitable<core::Result<std::string>> Portals::resolve_room(const std::string& id_or_alias) {
  if (is_valid_room_id(id_or_alias)) co_return id_or_alias;
  if (!is_valid_room_alias(id_or_alias)) {
    co_return core::Error::invalid("room", "\"" + id_or_alias.substr(0, 80) +
                                               "\" is neither a room id (!…) nor an alias (#…)");
  }
  auto found = co_await api_.resolve_alias(id_or_alias);
  if (!found) {
    if (ClientApi::errcode_of(found.error()) == "M_NOT_FOUND")
      co_return core::Error::not_found("no room has the alias " + id_or_alias);
    co_return found.error();
  }
  if (!is_valid_room_id(*found))
    co_return core::Error::unavailable("the directory answered without a room id");
  co_return *found;
}

}  // namespace coibridge::connectors::matrix
