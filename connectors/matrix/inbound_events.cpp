#include "connectors/matrix/inbound_events.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "connectors/matrix/json_fields.hpp"
#include "core/model/sanitize.hpp"

namespace coibridge::connectors::matrix {
namespace {

using boost::asio::awaitable;
using json_fields::text_or_empty;
using nlohmann::json;

// How far back a room's history is read when transactions went missing.
constexpr int kBackfillEvents = 100;

// Synapse numbers transactions 1, 2, 3, ...; other ids are not numbers and have no order.
std::optional<std::uint64_t> transaction_number(std::string_view txn_id) {
  if (txn_id.empty() || txn_id.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : txn_id) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

void InboundEvents::queue(Batch& batch, core::Event event, const json& raw) {
  // A text to the bot in a room no bridge links is a command (the management room): the
  // batch ends there when the room is unlinked, so the command runs in its place.
  std::optional<std::string> command;
  if (const auto* posted = std::get_if<core::MessagePosted>(&event.payload);
      posted != nullptr && parts_.bot.contains(event.where.remote_id)) {
    command = posted->body.text;
  }
  // The router removes NUL as well; doing it here keeps a command and what is published
  // the same text.
  core::remove_nul(event);
  if (command) command->erase(std::remove(command->begin(), command->end(), '\0'), command->end());
  const bool stop = command.has_value();
  batch.events.push_back(core::BatchEvent{std::move(event), stop});
  batch.raw.push_back(&raw);
  batch.commands.push_back(std::move(command));
}

awaitable<bool> InboundEvents::flush(Batch& batch) {
  core::EventSink& sink = *parts_.runtime.sink;
  std::size_t next = 0;
  bool one_at_a_time = false;
  while (next < batch.events.size()) {
    // The router stops at a command of an unlinked room; what follows it goes next round.
    const auto rest = std::span<const core::BatchEvent>(batch.events).subspan(next);
    const auto sent = one_at_a_time ? rest.first(1) : rest;
    auto outcomes = co_await sink.publish_batch(sent);
    if (!outcomes && outcomes.error().kind != core::ErrorKind::kUnavailable) {
      if (sent.size() > 1) {
        // Refused for good, and not said for which event: one at a time finds it.
        one_at_a_time = true;
        continue;
      }
      outcomes = std::vector<core::Result<core::PublishOutcome>>{outcomes.error()};
    }
    if (!outcomes) co_return false;
    if (outcomes->empty()) co_return false;
    for (std::size_t k = 0; k < outcomes->size(); ++k) {
      const auto& outcome = (*outcomes)[k];
      const std::size_t index = next + k;
      if (!outcome) {
        // Application Service API, "Pushing events": the homeserver sends the transaction
        // again until it is answered 200 and holds back every later one meanwhile. Only a
        // transient failure is worth that; any other would fail the same way forever, so
        // the event is parked as a dead letter and the transaction goes on.
        if (outcome.error().kind == core::ErrorKind::kUnavailable) co_return false;
        auto st = co_await sink.reject(mapping_.connector, outcome.error().message,
                                       batch.raw[index]->dump());
        if (!st) co_return false;
      } else if (outcome->status == core::PublishStatus::kUnlinked && batch.commands[index]) {
        const std::string room = text_or_empty(*batch.raw[index], "room_id");
        co_await parts_.commands.run(room, batch.events[index].event.who, *batch.commands[index]);
      }
    }
    next += outcomes->size();
  }
  batch = Batch{};
  co_return true;
}

awaitable<core::Status> InboundEvents::fetch_media(core::Event& event) {
  // Authenticated media (v1.11): the other networks cannot fetch mxc:// themselves, so the
  // bytes go to the blob store and the attachment names them there.
  auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  for (auto& file : posted->body.attachments) {
    if (!file.location.starts_with("mxc://")) continue;
    auto bytes = co_await parts_.api.download_media(file.location);
    if (!bytes) co_return bytes.error();
    file.size = bytes->size();
    auto location = co_await parts_.blobs.put(file.content_type, std::move(*bytes));
    if (!location) co_return location.error();
    file.location = std::move(*location);
  }
  co_return core::Status{};
}

awaitable<bool> InboundEvents::take_room_event(const json& raw, Batch& batch) {
  core::EventSink& sink = *parts_.runtime.sink;
  if (raw.is_object()) co_await parts_.names.learn(raw);
  auto mapped = map_room_event(raw, mapping_);
  if (!mapped) {
    if (!(co_await sink.reject(mapping_.connector, mapped.error().message, raw.dump())))
      co_return false;
    co_return true;
  }
  if (mapped->echo) co_return true;
  if (auto* ignored = std::get_if<Ignored>(&mapped->result)) {
    if (text_or_empty(raw, "type") == "m.room.member" && raw.contains("content") &&
        raw["content"].is_object() && text_or_empty(raw["content"], "membership") == "invite") {
      // What came before the invite is committed first: the invite may link the room.
      if (!(co_await flush(batch))) co_return false;
      if (auto st = co_await parts_.portals.on_invite(raw); !st) {
        if (st.error().kind == core::ErrorKind::kUnavailable) co_return false;
        spdlog::warn("matrix {}: invite not taken: {}", mapping_.connector, st.error().message);
      }
    }
    spdlog::debug("matrix {}: not relayed: {}", mapping_.connector, ignored->reason);
    co_return true;
  }
  core::Event event;
  if (auto* redaction = std::get_if<Redaction>(&mapped->result)) {
    // A redacted reaction is a withdrawn reaction; anything else a deleted message. The
    // redacted event may be in this very transaction: what is queued is committed first.
    if (!(co_await flush(batch))) co_return false;
    const core::RemoteMessageRef redacted{mapping_.connector, redaction->redacted_event_id};
    auto earlier = co_await parts_.runtime.messages->event_by_origin(redacted);
    if (!earlier) co_return false;
    const core::ReactionChanged* reaction =
        *earlier ? std::get_if<core::ReactionChanged>(&(*earlier)->payload) : nullptr;
    if (reaction != nullptr && reaction->added) {
      event = reaction_removed(*redaction, reaction->target, reaction->reaction);
    } else {
      event = std::move(redaction->event);
    }
  } else {
    event = std::get<core::Event>(std::move(mapped->result));
  }
  if (auto st = co_await fetch_media(event); !st) {
    if (st.error().kind == core::ErrorKind::kUnavailable) co_return false;
    if (!(co_await sink.reject(mapping_.connector, st.error().message, raw.dump())))
      co_return false;
    co_return true;
  }
  queue(batch, std::move(event), raw);
  co_return true;
}

awaitable<bool> InboundEvents::backfill() {
  // Client-server API, "Syncing": the newest events of every room the bot is in, oldest
  // first. The ghosts' direct chats are read as the ghost that is in them.
  std::vector<std::pair<std::string, std::string>> rooms;  // room, as user
  auto joined = co_await parts_.api.joined_rooms("");
  if (!joined) co_return joined.error().kind != core::ErrorKind::kUnavailable;
  for (const auto& room : *joined) rooms.emplace_back(room, "");
  for (auto& in_room : parts_.ghosts.rooms()) {
    const std::string& room = in_room.first;
    if (std::none_of(rooms.begin(), rooms.end(), [&](const auto& r) { return r.first == room; }))
      rooms.emplace_back(room, in_room.second);
  }
  for (const auto& [room, as_user] : rooms) {
    auto chunk = co_await parts_.api.recent_events(room, kBackfillEvents, as_user);
    if (!chunk) {
      if (chunk.error().kind == core::ErrorKind::kUnavailable) co_return false;
      spdlog::warn("matrix {}: cannot read the history of {}: {}", mapping_.connector, room,
                   chunk.error().message);
      continue;
    }
    std::deque<json> events;  // queued events point at their raw JSON: it must not move
    Batch batch;
    for (auto it = chunk->rbegin(); it != chunk->rend(); ++it) {
      if (!it->is_object()) continue;
      json& event = events.emplace_back(*it);
      if (!event.contains("room_id")) event["room_id"] = room;
      // State and membership were applied when they happened; only what people wrote is
      // read again.
      const std::string type = text_or_empty(event, "type");
      if (type != "m.room.message" && type != "m.reaction" && type != "m.room.redaction") continue;
      if (!(co_await take_room_event(event, batch))) co_return false;
    }
    if (!(co_await flush(batch))) co_return false;
  }
  co_return true;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> InboundEvents::gap_before(
    const std::string& txn_id) {
  const auto number = transaction_number(txn_id);
  if (!number) return std::nullopt;
  std::lock_guard lock(mu_);
  const auto last = last_transaction_;
  last_transaction_ = std::max(last_transaction_, *number);
  if (last != 0 && *number > last + 1) return std::pair{last + 1, *number - 1};
  return std::nullopt;
}

void InboundEvents::add_stopped_typing(const json& raw, const TransactionInfo& info,
                                       std::vector<core::Event>& typing) {
  // The list is who types now: who is missing from it since the last one stopped.
  const core::ConversationRef room{mapping_.connector, text_or_empty(raw, "room_id")};
  std::set<std::string> now;
  for (const auto& event : typing) now.insert(event.who.remote_id);
  std::set<std::string> before;
  {
    std::lock_guard lock(mu_);
    auto& current = typing_[room.remote_id];
    before.swap(current);
    current = now;
    if (current.empty()) typing_.erase(room.remote_id);
  }
  for (auto& stopped : typing_stopped(before, now, room, mapping_, info))
    typing.push_back(std::move(stopped));
}

awaitable<bool> InboundEvents::take(const std::string& txn_id, const json& body) {
  // A number skipped means a transaction the homeserver will never send (seen with Synapse
  // 1.163 when an appservice recovers while new events queue up): what it carried is
  // fetched from the rooms' history instead, and the message map's dedupe drops what
  // arrived already.
  if (auto gap = gap_before(txn_id)) {
    spdlog::warn("matrix {}: transactions {}..{} never arrived; reading the rooms' recent history",
                 mapping_.connector, gap->first, gap->second);
    if (!(co_await backfill())) co_return false;
  }
  Batch batch;
  if (auto events = body.find("events"); events != body.end() && events->is_array()) {
    for (const auto& raw : *events) {
      events_.inc();
      if (!(co_await take_room_event(raw, batch))) co_return false;
    }
  }
  // Receipts and typing: the stable key (v1.13) and the unstable MSC2409 one.
  const TransactionInfo info{txn_id, std::chrono::system_clock::now()};
  for (const char* key : {"ephemeral", "de.sorunome.msc2409.ephemeral"}) {
    auto list = body.find(key);
    if (list == body.end() || !list->is_array()) continue;
    for (const auto& raw : *list) {
      events_.inc();
      auto mapped = map_ephemeral_event(raw, mapping_, info);
      if (!mapped) continue;  // presence and the like; a malformed one costs nothing else
      if (text_or_empty(raw, "type") == "m.typing") add_stopped_typing(raw, info, *mapped);
      for (auto& event : *mapped) queue(batch, std::move(event), raw);
    }
  }
  co_return co_await flush(batch);
}

}  // namespace coibridge::connectors::matrix
