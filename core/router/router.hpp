#pragma once
// The hub: connectors publish here. The router drops echoes of our own puppets, gives the
// event its id, and has the store commit it with its outbox rows in one transaction; then it
// wakes the delivery scheduler.

#include <functional>

#include "core/connector/connector.hpp"
#include "core/connector/registry.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/event_store.hpp"

namespace coibridge::core {

class Router final : public EventSink, public MessageMap {
 public:
  // on_committed: called after an accepted publish committed (wakes the delivery scheduler).
  Router(EventStore& store, const ConnectorRegistry& registry, MetricsRegistry& metrics,
         std::function<void()> on_committed);

  boost::asio::awaitable<Result<PublishOutcome>> publish(Event event) override;
  boost::asio::awaitable<Result<std::vector<Result<PublishOutcome>>>> publish_batch(
      std::span<const BatchEvent> events) override;
  boost::asio::awaitable<Status> reject(std::string connector, std::string reason,
                                        std::string raw) override;
  boost::asio::awaitable<Result<std::optional<ConversationRef>>> conversation_of(
      RemoteMessageRef ref) override {
    co_return co_await store_.conversation_of(std::move(ref));
  }
  boost::asio::awaitable<Result<std::map<std::string, std::string>>> conversations_of(
      std::string connector, std::vector<std::string> ids) override {
    co_return co_await store_.conversations_of(std::move(connector), std::move(ids));
  }
  boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> newest_of(
      std::vector<RemoteMessageRef> refs) override {
    co_return co_await store_.newest_of(std::move(refs));
  }
  boost::asio::awaitable<Result<std::optional<Event>>> event_by_origin(
      RemoteMessageRef ref) override {
    co_return co_await store_.event_by_origin(std::move(ref));
  }
  boost::asio::awaitable<Result<std::optional<std::string>>> reaction_delivered(
      ConversationRef where, std::string who, RemoteMessageRef target,
      std::string target_connector) override {
    co_return co_await store_.reaction_delivered(std::move(where), std::move(who),
                                                 std::move(target), std::move(target_connector));
  }

  // History on linking (EventStore::backfill), fanned out as a publish is; wakes the delivery
  // scheduler. The number of deliveries queued.
  boost::asio::awaitable<Result<int>> backfill(std::int64_t bridge_id, int messages);

 private:
  Counter& published(const std::string& connector, PublishStatus status);
  FanoutPlanner fanout_planner() const;
  // Checks an inbound event and gives it its id and a stored-precision timestamp.
  Status prepare(Event& event) const;
  // Commits `stored` one event per transaction: one outcome per event reached, an error for
  // an event the store refused. Stops at a transient failure.
  boost::asio::awaitable<Result<std::vector<Result<PublishOutcome>>>> publish_one_by_one(
      const std::vector<BatchEvent>& stored, const FanoutPlanner& planner);

  EventStore& store_;
  const ConnectorRegistry& registry_;
  MetricsRegistry& metrics_;
  std::function<void()> on_committed_;
};

}  // namespace coibridge::core
