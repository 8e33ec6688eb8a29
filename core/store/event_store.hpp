#pragma once
// The durable side of routing: the publish transaction and the outbox the delivery workers
// drain.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/model/event.hpp"
#include "core/model/publish.hpp"
#include "core/model/result.hpp"
#include "core/store/bridge_store.hpp"

namespace coibridge::core {

// Given the links of the bridge the event's conversation belongs to, the conversations that
// must receive it. Pure and cheap: it runs inside the publish transaction.
using FanoutPlanner =
    std::function<std::vector<ConversationRef>(const Event&, const std::vector<Link>&)>;

struct OutboxItem {
  std::int64_t id = 0;
  ConversationRef target;
  Event event;
  int attempts = 0;  // failed attempts so far
  Timestamp next_attempt_at{};
  std::string last_error;
};

struct DeadLetter {
  std::int64_t id = 0;
  std::string event_id;
  ConversationRef target;
  std::string reason;
  int attempts = 0;
  Timestamp created_at{};
  // "delivery": an outbox row given up on (target is where it was going); "inbound": an item
  // a connector could not take in (target is that connector, and its conversation if known).
  std::string direction = "delivery";
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // One transaction: the dedupe key (event.origin), the message row, and one outbox row per
  // conversation the planner returns. Returns after commit. A second publish of the same
  // origin returns kDuplicate and writes nothing; a conversation in no bridge, kUnlinked: its
  // event is kept (without outbox rows) so that its origin deduplicates and maps to its
  // conversation, except a stop_if_unlinked event's and typing. Counts each conversation's
  // messages and unlinked events in the directory (conversations).
  boost::asio::awaitable<Result<PublishOutcome>> publish(const Event& event,
                                                         const FanoutPlanner& planner);
  // The same for several events in one transaction, in order; see EventSink::publish_batch
  // for where it stops. One outcome per event processed.
  virtual boost::asio::awaitable<Result<std::vector<PublishOutcome>>> publish_batch(
      const std::vector<BatchEvent>& events, const FanoutPlanner& planner) = 0;

  // Target conversations that have at least one outbox row, with the due time of their head.
  struct QueueHead {
    ConversationRef target;
    Timestamp next_attempt_at{};
  };
  virtual boost::asio::awaitable<Result<std::vector<QueueHead>>> queue_heads() = 0;
  // The oldest outbox rows of one target conversation (its queue from the head), at most
  // `limit`, in queue order.
  virtual boost::asio::awaitable<Result<std::vector<OutboxItem>>> queue_of(ConversationRef target,
                                                                           int limit) = 0;
  // The queue's head, if any.
  boost::asio::awaitable<Result<std::optional<OutboxItem>>> head_of(ConversationRef target);
  // Delivered: the row leaves the outbox and the remote id joins the message map, atomically.
  virtual boost::asio::awaitable<Status> mark_delivered(std::int64_t outbox_id, EventId event_id,
                                                        ConversationRef target,
                                                        RemoteMessageRef remote) = 0;
  virtual boost::asio::awaitable<Status> mark_failed(std::int64_t outbox_id, std::string error,
                                                     Timestamp next_attempt_at) = 0;
  // The target could not be reached at all: the row waits until next_attempt_at without an
  // attempt counted against it (Error::unreachable).
  virtual boost::asio::awaitable<Status> mark_waiting(std::int64_t outbox_id, std::string error,
                                                      Timestamp next_attempt_at) = 0;
  // The row moves to dead_letters with the reason, atomically.
  virtual boost::asio::awaitable<Status> dead_letter(std::int64_t outbox_id,
                                                     std::string reason) = 0;

  // An inbound item that could not be parsed or mapped: parked with the reason (raw is an
  // excerpt of the input, stored as a JSON string) so the source can move on.
  virtual boost::asio::awaitable<Status> dead_letter_inbound(std::string connector,
                                                             std::string reason,
                                                             std::string raw) = 0;

  // The conversation a message belongs to on its own network, when the message map knows it
  // (published from there, or delivered there by us).
  // Also for events of conversations linked to nothing (kept for a while, see
  // prune_unlinked); a conversation merged into another resolves to the survivor.
  virtual boost::asio::awaitable<Result<std::optional<ConversationRef>>> conversation_of(
      RemoteMessageRef ref) = 0;
  // conversation_of for many messages of one network: message id -> conversation id.
  virtual boost::asio::awaitable<Result<std::map<std::string, std::string>>> conversations_of(
      std::string connector, std::vector<std::string> ids) = 0;
  // History on linking: of the newest `messages` posted messages of each conversation linked
  // in the bridge, those kept while it was linked to nothing join the bridge and are queued,
  // oldest first, for the bridge's other conversations as `planner` says. Messages that
  // crossed already are never queued again (a repeat queues nothing), and none older than one
  // that crossed. Returns the number of deliveries queued.
  virtual boost::asio::awaitable<Result<int>> backfill(std::int64_t bridge_id, int messages,
                                                       const FanoutPlanner& planner) = 0;
  // Forgets events of unlinked conversations older than `age`; returns how many.
  virtual boost::asio::awaitable<Result<std::int64_t>> prune_unlinked(std::chrono::seconds age) = 0;
  // Of these messages of one network (published from there, or delivered there by us), the
  // one whose event came last (committed last; within one commit, the later event time):
  // what a receipt naming several messages reads up to. Unknown ones are left out.
  virtual boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> newest_of(
      std::vector<RemoteMessageRef> refs) = 0;
  // The event published from this origin, if any.
  virtual boost::asio::awaitable<Result<std::optional<Event>>> event_by_origin(
      RemoteMessageRef ref) = 0;
  // The event this message is on its network: published from there, or delivered there by
  // us as this id. What a reply quotes.
  virtual boost::asio::awaitable<Result<std::optional<Event>>> event_of(RemoteMessageRef ref) = 0;
  // The id on target_connector of the newest reaction `who` added (in conversation `where`,
  // to `target`, all in the source network's terms) that was delivered there: what to
  // withdraw when that person withdraws their reaction.
  virtual boost::asio::awaitable<Result<std::optional<std::string>>> reaction_delivered(
      ConversationRef where, std::string who, RemoteMessageRef target,
      std::string target_connector) = 0;

  // The id the target network gave to a message we know by another network's id, if any.
  virtual boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> translate(
      RemoteMessageRef ref, std::string target_connector) = 0;

  // Puts a dead-lettered delivery back at the end of its conversation's queue, with a fresh
  // attempt count. kNotFound for an unknown id; kConflict when it cannot be replayed (an
  // inbound item, or a conversation that is no longer linked).
  virtual boost::asio::awaitable<Status> replay_dead_letter(std::int64_t id, std::string actor) = 0;
  // Forgets a dead letter for good (audited). kNotFound for an unknown id.
  virtual boost::asio::awaitable<Status> discard_dead_letter(std::int64_t id,
                                                             std::string actor) = 0;

  virtual boost::asio::awaitable<Result<std::int64_t>> outbox_depth() = 0;
  virtual boost::asio::awaitable<Result<std::vector<DeadLetter>>> dead_letters(std::int64_t after,
                                                                               int limit) = 0;
};

inline boost::asio::awaitable<Result<std::optional<OutboxItem>>> EventStore::head_of(
    ConversationRef target) {
  auto items = co_await queue_of(std::move(target), 1);
  if (!items) co_return items.error();
  if (items->empty()) co_return std::optional<OutboxItem>{};
  co_return std::optional<OutboxItem>(std::move(items->front()));
}

inline boost::asio::awaitable<Result<PublishOutcome>> EventStore::publish(
    const Event& event, const FanoutPlanner& planner) {
  const std::vector<BatchEvent> one{BatchEvent{event, false}};
  auto outcomes = co_await publish_batch(one, planner);
  if (!outcomes) co_return outcomes.error();
  co_return outcomes->front();
}

}  // namespace coibridge::core
