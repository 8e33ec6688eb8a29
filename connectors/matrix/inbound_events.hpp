#pragma once
// What one appservice transaction carries, published: room events and ephemeral events
// (receipts, typing) become core events, published together in one database transaction
// where nothing in between needs what came before committed (a redaction, an invite). A
// text in a management room runs as a bot command instead. Transactions that never arrived
// are made up for from the rooms' recent history.
//
// Called by the appservice endpoint, one transaction at a time (the homeserver sends them in
// order, one in flight: Application Service API, "Pushing events"); the state kept across
// transactions has its own lock all the same.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/matrix/bot_commands.hpp"
#include "connectors/matrix/bot_rooms.hpp"
#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/ghost_directory.hpp"
#include "connectors/matrix/matrix_event_mapping.hpp"
#include "connectors/matrix/portals.hpp"
#include "connectors/matrix/runtime.hpp"
#include "connectors/matrix/user_names.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/blob_store.hpp"

namespace coibridge::connectors::matrix {

class InboundEvents {
 public:
  struct Parts {
    ClientApi& api;
    UserNames& names;
    GhostDirectory& ghosts;
    BotRooms& bot;
    BotCommands& commands;
    Portals& portals;
    core::BlobStore& blobs;
    const Runtime& runtime;
  };
  InboundEvents(const MappingContext& mapping, Parts parts, core::Counter& events)
      : mapping_(mapping), parts_(parts), events_(events) {}

  // The events of transaction `txn_id` (its JSON body), published or parked as dead letters;
  // false when nothing may be acknowledged and the homeserver must send it again.
  boost::asio::awaitable<bool> take(const std::string& txn_id, const nlohmann::json& body);

 private:
  // Events of one transaction waiting to be published together, each with its raw JSON
  // (owned by the caller, for dead letters) and, for a text in a bot room, the command.
  struct Batch {
    std::vector<core::BatchEvent> events;
    std::vector<const nlohmann::json*> raw;
    std::vector<std::optional<std::string>> commands;
  };
  // One room event: queued, parked as a dead letter, or left alone; false: retry.
  boost::asio::awaitable<bool> take_room_event(const nlohmann::json& raw, Batch& batch);
  void queue(Batch& batch, core::Event event, const nlohmann::json& raw);
  // Publishes what is queued, runs the commands of unlinked bot rooms, parks refused events
  // as dead letters; false when the transaction must be retried.
  boost::asio::awaitable<bool> flush(Batch& batch);
  boost::asio::awaitable<core::Status> fetch_media(core::Event& event);
  // Typing notices of one m.typing, with a stop for whoever typed before and does no more.
  void add_stopped_typing(const nlohmann::json& raw, const TransactionInfo& info,
                          std::vector<core::Event>& typing);
  // Reads the recent history of the rooms we are in after transactions went missing.
  boost::asio::awaitable<bool> backfill();
  // Whether transactions before `txn_id` went missing (the gap is then remembered as closed).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> gap_before(const std::string& txn_id);

  const MappingContext& mapping_;
  Parts parts_;
  core::Counter& events_;
  std::mutex mu_;
  std::uint64_t last_transaction_ = 0;  // the highest numeric transaction id seen since start
  // Who types in which room, by the last m.typing of the room (ephemeral: not kept across
  // restarts; a stop missed then ends with the typing notice's timeout on the other side).
  std::map<std::string, std::set<std::string>> typing_;
};

}  // namespace coibridge::connectors::matrix
