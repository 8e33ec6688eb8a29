#pragma once
// Translation between Matrix events (Matrix spec v1.13, client-server API) and the core
// model, with no I/O: what an appservice transaction delivers becomes core events, and a
// core event to deliver becomes the requests that carry it into a room.
//
// Inbound JSON is untrusted: every field is type-checked, and a missing or malformed field
// fails with kInvalidArgument naming it ("content.body", "content.m.relates_to.event_id").
// Events the bridge does not relay are not errors but Ignored.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "connectors/matrix/matrix_ids.hpp"
#include "core/model/event.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::matrix {

struct MappingContext {
  std::string connector = "matrix";  // this instance's name, in every ref it makes
  GhostNaming naming;                // our server and ghost prefix
  std::string bot_localpart;         // the registration's sender_localpart
  // The display name of a room member, when the connector knows it (from m.room.member
  // state); unset or nullopt: the user id is shown.
  std::function<std::optional<std::string>(std::string_view user_id)> display_name;
};

// ---- Inbound room events (the "events" of PUT /_matrix/app/v1/transactions/{txnId}) ----

// Not relayed: state we do not bridge, invites, unknown event types. Not an error.
struct Ignored {
  std::string reason;  // for logs and metrics
};

// An m.room.redaction. Whether it withdraws a reaction or deletes a message depends on what
// the redacted event was, which only the message map knows. `event` is ready to publish as
// a deletion (payload MessageDeleted of the redacted event); when the redacted event was a
// reaction, publish reaction_removed(*this, ...) instead.
struct Redaction {
  core::Event event;
  std::string redacted_event_id;
};

// The event for a redaction that withdrew a reaction: `reacted_to` is the message the
// reaction was on and `key` the reaction itself, as recorded when it was bridged.
core::Event reaction_removed(const Redaction& redaction, core::RemoteMessageRef reacted_to,
                             std::string key);

struct Inbound {
  std::variant<core::Event, Redaction, Ignored> result;
  // Sent by the bot or by a user in our ghost namespace on our server: our own delivery
  // coming back, which the connector drops (design.md, "Flow of one message", step 5).
  bool echo = false;
};

// One room event. The core event has where {connector, room_id}, who {connector, sender,
// display name or sender}, origin {connector, event_id}, at origin_server_ts, and:
//   m.room.message m.text, m.notice, unknown msgtypes -> MessagePosted. body.text is the
//     plain rendering of formatted_body when the format is org.matrix.custom.html (its
//     sanitised HTML in body.html), else `body` (a legacy reply fallback stripped).
//   m.emote -> MessagePosted whose text reads "* <name> <body>", as clients show emotes.
//   m.image, m.file, m.audio, m.video -> MessagePosted with one Attachment {filename,
//     info.mimetype (application/octet-stream when absent), info.size, location = the
//     mxc:// url}; a `body` that differs from `filename` is a caption (v1.10) and
//     becomes the text. Encrypted media (`file` instead of `url`) is Ignored.
//   m.relates_to m.in_reply_to -> body.reply_to; in a thread the reply goes to the thread
//     root unless the client marked a real reply (is_falling_back false).
//   m.relates_to rel_type m.replace -> MessageEdited of the target, body from m.new_content.
//   m.reaction (m.annotation) -> ReactionChanged {target, key, added}.
//   m.room.redaction -> Redaction (`redacts` in content since room version 11, top-level
//     before).
//   m.room.member join / leave, ban -> MemberJoined / MemberLeft of state_key (a join that
//     follows a join is a profile change: Ignored).
//   m.room.name -> ConversationRenamed ("" when the name was removed).
//   anything else -> Ignored.
core::Result<Inbound> map_room_event(const nlohmann::json& event, const MappingContext& ctx);

// ---- Inbound ephemeral events (the "ephemeral" of a transaction, receive_ephemeral) ----

// The transaction an ephemeral event came in.
struct TransactionInfo {
  std::string id;  // the homeserver's txnId
  core::Timestamp received_at{};
};

// Ephemeral events carry no event id, so the core events get synthesised origins that a
// redelivered transaction repeats and the router deduplicates:
//   m.receipt -> one ReadUpTo per m.read receipt (private receipts are never bridged),
//     origin "receipt:<user>:<event>", at the receipt's ts;
//   m.typing -> one Typing{active = true} per user in user_ids, origin
//     "typing:<txnId>:<room>:<user>", at received_at. The list is the room's complete current set:
//     a user who stopped typing is simply absent, so the connector compares with the
//     previous set of that room and publishes Typing{active = false} for those who left it.
//   anything else (m.presence, unknown) -> nothing.
// Receipts and typing of the bot and our ghosts are left out (they are our own deliveries).
// A malformed entry is skipped without costing the others; a malformed envelope (type,
// room_id, content) fails with kInvalidArgument.
core::Result<std::vector<core::Event>> map_ephemeral_event(const nlohmann::json& event,
                                                           const MappingContext& ctx,
                                                           const TransactionInfo& txn);

// One Typing{active = false} per user of `before` (who were typing in `room`) that is not in
// `now` (who are typing according to the room's latest m.typing), origin as above.
std::vector<core::Event> typing_stopped(const std::set<std::string>& before,
                                        const std::set<std::string>& now,
                                        const core::ConversationRef& room,
                                        const MappingContext& ctx, const TransactionInfo& txn);

// ---- Outbound: one core event as requests to one room ----

struct MatrixSend {
  enum class Kind {
    kSend,     // PUT /rooms/{room}/send/{event_type}/{txn_id}, body `content`
    kRedact,   // PUT /rooms/{room}/redact/{target_event_id}/{txn_id}, body `content`
    kReceipt,  // POST /rooms/{room}/receipt/{event_type}/{target_event_id}, body `content`
    kTyping,   // PUT /rooms/{room}/typing/{sender's user id}, body `content`
  };
  Kind kind = Kind::kSend;
  std::string event_type;  // kSend: m.room.message or m.reaction; kReceipt: m.read
  nlohmann::json content = nlohmann::json::object();
  std::string target_event_id;  // kRedact, kReceipt
  // kSend, kRedact: the transaction id, derived from (event id, room, part index) and made
  // of URL-safe characters only. A retried delivery reuses it, and the homeserver answers a
  // retransmission (same id, same endpoint, same requester) with the original response
  // (client-server API, "Transaction identifiers"), so nothing posts twice.
  std::string txn_id;
  bool operator==(const MatrixSend&) const = default;
};

// The requests for one event, in order; empty when Matrix has nothing to show for it
// (membership and renames are the connector's own room management). References
// (reply_to, edit, delete, reaction and receipt targets) must already be in this
// connector's terms: connector == ctx.connector and remote_id a Matrix event id. A reply
// to a message Matrix never saw is sent without the reply, an edit of one as a new message
// marked "* ", and a deletion, reaction or receipt of one is dropped.
//   MessagePosted -> an m.text for the text (with formatted_body when the body has HTML),
//     then one m.image / m.audio / m.video / m.file per attachment (by content type). The
//     reply goes on the first. Attachment locations must be mxc:// URIs: the connector
//     uploads anything else first and rewrites the location, so this fails with
//     kInvalidArgument ("body.attachments[i].location") otherwise.
//   MessageEdited -> m.replace with a "* " fallback body and m.new_content.
//   MessageDeleted -> kRedact of the target.
//   ReactionChanged added -> m.reaction annotation; removed -> kRedact, where the target is
//     the Matrix event id of the reaction itself, which the connector looked up.
//   ReadUpTo -> kReceipt m.read; Typing -> kTyping {typing, timeout}.
// Sent messages carry an empty m.mentions so that bridged text never pings anyone.
// kInvalidArgument for an invalid room id, an empty event id or a malformed Matrix target.
core::Result<std::vector<MatrixSend>> sends_for_event(const core::Event& event,
                                                      std::string_view room_id,
                                                      const MappingContext& ctx);

// The transaction id of part `part` of an event's delivery to a room.
std::string transaction_id(const core::EventId& event_id, std::string_view room_id,
                           std::size_t part);

}  // namespace coibridge::connectors::matrix
