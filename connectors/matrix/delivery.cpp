#include "connectors/matrix/delivery.hpp"

namespace coibridge::connectors::matrix {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

// The time a message was written on its network, as the event's origin_server_ts. Never
// later than now: a sender's clock ahead must not date a message into the future (Delta Chat
// takes min(Date, now) the same way). None for an event without a time.
std::optional<std::int64_t> origin_ts_ms(core::Timestamp at) {
  using namespace std::chrono;
  if (at.time_since_epoch().count() <= 0) return std::nullopt;
  const auto capped = std::min(at, time_point_cast<core::Timestamp::duration>(system_clock::now()));
  return duration_cast<milliseconds>(capped.time_since_epoch()).count();
}

}  // namespace

awaitable<core::Result<core::RemoteMessageRef>> RoomDelivery::manage_room(
    const core::Event& event, const std::string& room, const std::string& ghost) {
  const core::RemoteMessageRef nothing{mapping_.connector, ""};
  if (const auto* joined = std::get_if<core::MemberJoined>(&event.payload)) {
    // The new member's ghost joins (the bot invites it where the room needs an invite).
    auto member = co_await ghosts_.enter(joined->member, room);
    if (!member) co_return member.error();
    co_return nothing;
  }
  if (const auto* left = std::get_if<core::MemberLeft>(&event.payload)) {
    auto member = ghost_user_id(left->member.connector, left->member.remote_id, mapping_.naming);
    if (!member) co_return core::Error::permanent(member.error().message);
    const std::string leaver = *member;
    auto r = co_await api_.leave_room(room, leaver);
    // M_FORBIDDEN: not in the room (never joined, or gone already) - the outcome wanted.
    if (!r && ClientApi::errcode_of(r.error()) != "M_FORBIDDEN") co_return r.error();
    co_await ghosts_.left(leaver, room);
    co_return nothing;
  }
  const auto& renamed = std::get<core::ConversationRenamed>(event.payload);
  // The bot names the room when its power level allows (m.room.name needs 50 by default);
  // else the person's ghost says what happened, so the rename is not lost on Matrix.
  json name{{"name", renamed.name}};
  auto r = co_await api_.send_state(room, "m.room.name", "", name, "");
  if (r) co_return core::RemoteMessageRef{mapping_.connector, *r};
  if (ClientApi::errcode_of(r.error()) != "M_FORBIDDEN") co_return r.error();
  json notice{{"msgtype", "m.emote"},
              {"body", "renamed the chat to \u201c" + renamed.name + "\u201d"}};
  const std::string txn = "coi.rename." + event.id.value;
  auto said = co_await api_.send_event(room, "m.room.message", txn, notice, ghost, std::nullopt);
  if (!said) co_return said.error();
  co_return core::RemoteMessageRef{mapping_.connector, *said};
}

awaitable<core::Status> RoomDelivery::upload_attachments(core::Event& event,
                                                         const std::string& ghost) {
  auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  for (auto& file : posted->body.attachments) {
    if (!core::is_blob_location(file.location)) continue;
    auto blob = co_await blobs_.get(file.location);
    if (!blob) {
      if (blob.error().kind == core::ErrorKind::kUnavailable) co_return blob.error();
      co_return core::Error::permanent("attachment " + file.filename + ": " + blob.error().message);
    }
    const std::string type = file.content_type.empty() ? blob->content_type : file.content_type;
    auto mxc = co_await api_.upload_media(type, file.filename, std::move(blob->data), ghost);
    if (!mxc) co_return mxc.error();
    file.location = std::move(*mxc);
  }
  co_return core::Status{};
}

awaitable<core::Result<bool>> RoomDelivery::find_reaction_event(core::Event& event) {
  auto* reaction = std::get_if<core::ReactionChanged>(&event.payload);
  // Withdrawing a reaction redacts the event that carried it here (client-server API,
  // "Reactions"): find it by the reaction's origin, in the source network's terms.
  if (runtime_.messages == nullptr)
    co_return core::Error::unavailable("matrix connector not running");
  auto original = co_await runtime_.messages->event_by_origin(event.origin);
  if (!original) co_return original.error();
  const auto* source =
      *original ? std::get_if<core::ReactionChanged>(&(*original)->payload) : nullptr;
  if (source == nullptr) co_return false;
  auto part = co_await runtime_.messages->reaction_delivered(event.where, event.who.remote_id,
                                                             source->target, mapping_.connector);
  if (!part) co_return part.error();
  if (!*part) co_return false;
  reaction->target = core::RemoteMessageRef{mapping_.connector, **part};
  co_return true;
}

awaitable<core::Result<core::RemoteMessageRef>> RoomDelivery::deliver(
    const core::Delivery& delivery) {
  const std::string& room = delivery.target.remote_id;
  const core::RemoteMessageRef nothing{mapping_.connector, ""};
  auto entered = co_await ghosts_.enter(delivery.event.who, room);
  if (!entered) co_return entered.error();
  const std::string ghost = *entered;
  core::Event event = delivery.event;
  if (std::holds_alternative<core::MemberJoined>(event.payload) ||
      std::holds_alternative<core::MemberLeft>(event.payload) ||
      std::holds_alternative<core::ConversationRenamed>(event.payload)) {
    co_return co_await manage_room(event, room, ghost);
  }
  if (auto st = co_await upload_attachments(event, ghost); !st) co_return st.error();
  if (auto* reaction = std::get_if<core::ReactionChanged>(&event.payload);
      reaction != nullptr && !reaction->added) {
    auto found = co_await find_reaction_event(event);
    if (!found) co_return found.error();
    if (!*found) co_return nothing;
  }
  auto sends = sends_for_event(event, room, mapping_);
  if (!sends) co_return core::Error::permanent(sends.error().message);
  std::string first_event_id;
  for (const auto& send : *sends) {
    core::Result<std::string> posted = std::string();
    switch (send.kind) {
      case MatrixSend::Kind::kSend:
        posted = co_await api_.send_event(room, send.event_type, send.txn_id, send.content, ghost,
                                          origin_ts_ms(event.at));
        break;
      case MatrixSend::Kind::kRedact:
        posted = co_await api_.redact(room, send.target_event_id, send.txn_id, send.content, ghost);
        break;
      case MatrixSend::Kind::kReceipt:
        if (auto st = co_await api_.send_receipt(room, send.event_type, send.target_event_id,
                                                 send.content, ghost);
            !st) {
          posted = st.error();
        }
        break;
      case MatrixSend::Kind::kTyping:
        if (auto st = co_await api_.set_typing(room, ghost, send.content); !st) posted = st.error();
        break;
    }
    if (!posted && ClientApi::errcode_of(posted.error()) == "M_FORBIDDEN") {
      // The ghost is remembered in the room but is not (kicked, or the homeserver was reset
      // while the bridge was down): forget it, and the retry joins it again.
      co_await ghosts_.left(ghost, room);
      co_return core::Error::unavailable(posted.error().message);
    }
    if (!posted) co_return posted.error();
    if (first_event_id.empty()) first_event_id = *posted;
  }
  co_return core::RemoteMessageRef{mapping_.connector, first_event_id};
}

}  // namespace coibridge::connectors::matrix
