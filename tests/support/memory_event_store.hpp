#pragma once
// An in-memory EventStore for unit tests of the router and the delivery scheduler. It keeps
// the store's contract (dedupe by origin, one queue per target, head first) without SQL.

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/store/event_store.hpp"

namespace coibridge::testing {

class MemoryEventStore final : public core::EventStore {
 public:
  boost::asio::awaitable<core::Result<std::vector<core::PublishOutcome>>> publish_batch(
      const std::vector<core::BatchEvent>& events, const core::FanoutPlanner& planner) override {
    ++publish_calls;
    // One refused event fails the whole transaction, as in PostgreSQL.
    if (refuse) {
      for (const auto& item : events) {
        if (auto error = refuse(item.event)) co_return *error;
      }
    }
    std::vector<core::PublishOutcome> outcomes;
    for (const auto& item : events) {
      const auto& event = item.event;
      const auto key = event.origin.connector + "|" + event.origin.remote_id;
      if (auto it = origins_.find(key); it != origins_.end()) {
        outcomes.push_back({core::PublishStatus::kDuplicate, it->second, 0});
        continue;
      }
      if (unlinked.contains(event.where)) {
        outcomes.push_back({core::PublishStatus::kUnlinked, {}, 0});
        if (item.stop_if_unlinked) break;
        continue;
      }
      origins_[key] = event.id;
      core::PublishOutcome out{core::PublishStatus::kAccepted, event.id, 0};
      for (const auto& target : planner(event, links)) {
        outbox.push_back({++next_id_, target, event, 0, {}, {}});
        ++out.targets;
      }
      outcomes.push_back(out);
    }
    co_return outcomes;
  }

  // When set: an event for which it gives an error fails its batch with that error.
  std::function<std::optional<core::Error>(const core::Event&)> refuse;

  boost::asio::awaitable<core::Result<std::vector<QueueHead>>> queue_heads() override {
    std::map<core::ConversationRef, core::Timestamp> heads;
    for (const auto& item : outbox) heads.try_emplace(item.target, item.next_attempt_at);
    std::vector<QueueHead> out;
    for (const auto& [t, at] : heads) out.push_back({t, at});
    co_return out;
  }

  boost::asio::awaitable<core::Result<std::vector<core::OutboxItem>>> queue_of(
      core::ConversationRef target, int limit) override {
    std::vector<core::OutboxItem> out;
    for (const auto& item : outbox) {
      if (item.target == target && static_cast<int>(out.size()) < limit) out.push_back(item);
    }
    co_return out;
  }

  boost::asio::awaitable<core::Status> mark_delivered(std::int64_t id, core::EventId,
                                                      core::ConversationRef,
                                                      core::RemoteMessageRef) override {
    erase(id);
    co_return core::Status{};
  }

  boost::asio::awaitable<core::Status> mark_failed(std::int64_t id, std::string error,
                                                   core::Timestamp next) override {
    for (auto& item : outbox) {
      if (item.id == id) {
        ++item.attempts;
        item.last_error = std::move(error);
        item.next_attempt_at = next;
      }
    }
    co_return core::Status{};
  }

  boost::asio::awaitable<core::Status> mark_waiting(std::int64_t id, std::string error,
                                                    core::Timestamp next) override {
    for (auto& item : outbox) {
      if (item.id == id) {
        item.last_error = std::move(error);
        item.next_attempt_at = next;
      }
    }
    co_return core::Status{};
  }

  boost::asio::awaitable<core::Status> dead_letter(std::int64_t id, std::string reason) override {
    for (const auto& item : outbox) {
      if (item.id == id) {
        dead.push_back({id, item.event.id.value, item.target, reason, item.attempts + 1, {}});
      }
    }
    erase(id);
    co_return core::Status{};
  }

  boost::asio::awaitable<core::Status> dead_letter_inbound(std::string, std::string,
                                                           std::string raw) override {
    inbound_dead.push_back(std::move(raw));
    co_return core::Status{};
  }

  boost::asio::awaitable<core::Result<std::optional<core::RemoteMessageRef>>> translate(
      core::RemoteMessageRef, std::string) override {
    co_return std::optional<core::RemoteMessageRef>{};
  }

  boost::asio::awaitable<core::Result<std::optional<core::Event>>> event_by_origin(
      core::RemoteMessageRef) override {
    co_return std::optional<core::Event>{};
  }
  boost::asio::awaitable<core::Status> discard_dead_letter(std::int64_t, std::string) override {
    co_return core::Status{};
  }
  boost::asio::awaitable<core::Result<int>> backfill(std::int64_t, int,
                                                     const core::FanoutPlanner&) override {
    co_return 0;
  }
  // Filled by a test: the events event_of finds, by "connector/remote id".
  std::map<std::string, core::Event> events_of;
  boost::asio::awaitable<core::Result<std::optional<core::Event>>> event_of(
      core::RemoteMessageRef ref) override {
    const auto it = events_of.find(ref.connector + "/" + ref.remote_id);
    if (it == events_of.end()) co_return std::optional<core::Event>{};
    co_return std::optional<core::Event>(it->second);
  }
  boost::asio::awaitable<core::Result<std::optional<std::string>>> reaction_delivered(
      core::ConversationRef, std::string, core::RemoteMessageRef, std::string) override {
    co_return std::optional<std::string>{};
  }
  boost::asio::awaitable<core::Result<std::optional<core::ConversationRef>>> conversation_of(
      core::RemoteMessageRef) override {
    co_return std::optional<core::ConversationRef>{};
  }
  boost::asio::awaitable<core::Result<std::map<std::string, std::string>>> conversations_of(
      std::string, std::vector<std::string>) override {
    co_return std::map<std::string, std::string>{};
  }
  boost::asio::awaitable<core::Result<std::int64_t>> prune_unlinked(std::chrono::seconds) override {
    co_return std::int64_t{0};
  }
  boost::asio::awaitable<core::Result<std::optional<core::RemoteMessageRef>>> newest_of(
      std::vector<core::RemoteMessageRef>) override {
    co_return std::optional<core::RemoteMessageRef>{};
  }

  boost::asio::awaitable<core::Status> replay_dead_letter(std::int64_t, std::string) override {
    co_return core::Error::internal("not used by the router tests");
  }

  boost::asio::awaitable<core::Result<std::int64_t>> outbox_depth() override {
    co_return static_cast<std::int64_t>(outbox.size());
  }

  boost::asio::awaitable<core::Result<std::vector<core::DeadLetter>>> dead_letters(std::int64_t,
                                                                                   int) override {
    co_return dead;
  }

  std::vector<core::Link> links;
  std::vector<core::OutboxItem> outbox;
  std::vector<core::DeadLetter> dead;
  std::vector<std::string> inbound_dead;
  int publish_calls = 0;                     // store transactions (a batch is one)
  std::set<core::ConversationRef> unlinked;  // conversations that answer kUnlinked

 private:
  void erase(std::int64_t id) {
    outbox.erase(
        std::remove_if(outbox.begin(), outbox.end(), [&](const auto& i) { return i.id == id; }),
        outbox.end());
  }
  std::map<std::string, core::EventId> origins_;
  std::int64_t next_id_ = 0;
};

}  // namespace coibridge::testing
