#pragma once
// PostgreSQL implementations of the store interfaces. Every method runs on the DbExecutor.

#include "core/store/bridge_store.hpp"
#include "core/store/checkpoint_store.hpp"
#include "core/store/event_store.hpp"
#include "core/store/pg/db_executor.hpp"

namespace coibridge::core::pg {

class PgBridgeStore final : public BridgeStore {
 public:
  explicit PgBridgeStore(DbExecutor& db) : db_(db) {}
  boost::asio::awaitable<Result<Bridge>> create_bridge(std::string name,
                                                       std::string actor) override;
  boost::asio::awaitable<Result<BridgePage>> list_bridges(std::int64_t after, int limit) override;
  boost::asio::awaitable<Result<Bridge>> get_bridge(std::int64_t id) override;
  boost::asio::awaitable<Result<Bridge>> rename_bridge(std::int64_t id, std::string name,
                                                       std::string actor) override;
  boost::asio::awaitable<Status> delete_bridge(std::int64_t id, std::string actor) override;
  boost::asio::awaitable<Result<Link>> add_link(std::int64_t bridge_id, std::string connector,
                                                std::string remote_id, nlohmann::json options,
                                                std::string actor) override;
  boost::asio::awaitable<Result<std::vector<Link>>> list_links(std::int64_t bridge_id) override;
  boost::asio::awaitable<Result<std::optional<std::int64_t>>> bridge_of(
      std::string connector, std::string remote_id) override;
  boost::asio::awaitable<Status> remove_link(std::int64_t bridge_id, std::int64_t link_id,
                                             std::string actor) override;
  boost::asio::awaitable<Result<ConversationPage>> list_conversations(
      ConversationFilter filter) override;

 private:
  DbExecutor& db_;
};

class PgEventStore final : public EventStore {
 public:
  explicit PgEventStore(DbExecutor& db) : db_(db) {}
  boost::asio::awaitable<Result<std::vector<PublishOutcome>>> publish_batch(
      const std::vector<BatchEvent>& events, const FanoutPlanner& planner) override;
  boost::asio::awaitable<Result<std::vector<QueueHead>>> queue_heads() override;
  boost::asio::awaitable<Result<std::vector<OutboxItem>>> queue_of(ConversationRef target,
                                                                   int limit) override;
  boost::asio::awaitable<Status> mark_delivered(std::int64_t outbox_id, EventId event_id,
                                                ConversationRef target,
                                                RemoteMessageRef remote) override;
  boost::asio::awaitable<Status> mark_failed(std::int64_t outbox_id, std::string error,
                                             Timestamp next_attempt_at) override;
  boost::asio::awaitable<Status> mark_waiting(std::int64_t outbox_id, std::string error,
                                              Timestamp next_attempt_at) override;
  boost::asio::awaitable<Status> dead_letter(std::int64_t outbox_id, std::string reason) override;
  boost::asio::awaitable<Status> dead_letter_inbound(std::string connector, std::string reason,
                                                     std::string raw) override;
  boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> translate(
      RemoteMessageRef ref, std::string target_connector) override;
  boost::asio::awaitable<Result<std::optional<ConversationRef>>> conversation_of(
      RemoteMessageRef ref) override;
  boost::asio::awaitable<Result<std::map<std::string, std::string>>> conversations_of(
      std::string connector, std::vector<std::string> ids) override;
  boost::asio::awaitable<Result<std::int64_t>> prune_unlinked(std::chrono::seconds age) override;
  boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> newest_of(
      std::vector<RemoteMessageRef> refs) override;
  boost::asio::awaitable<Result<std::optional<Event>>> event_of(RemoteMessageRef ref) override;
  boost::asio::awaitable<Result<int>> backfill(std::int64_t bridge_id, int messages,
                                               const FanoutPlanner& planner) override;
  boost::asio::awaitable<Result<std::optional<Event>>> event_by_origin(
      RemoteMessageRef ref) override;
  boost::asio::awaitable<Result<std::optional<std::string>>> reaction_delivered(
      ConversationRef where, std::string who, RemoteMessageRef target,
      std::string target_connector) override;
  boost::asio::awaitable<Status> replay_dead_letter(std::int64_t id, std::string actor) override;
  boost::asio::awaitable<Status> discard_dead_letter(std::int64_t id, std::string actor) override;
  boost::asio::awaitable<Result<std::int64_t>> outbox_depth() override;
  boost::asio::awaitable<Result<std::vector<DeadLetter>>> dead_letters(std::int64_t after,
                                                                       int limit) override;

 private:
  DbExecutor& db_;
};

class PgCheckpointStore final : public CheckpointStore {
 public:
  explicit PgCheckpointStore(DbExecutor& db) : db_(db) {}
  boost::asio::awaitable<Result<std::optional<Checkpoint>>> load(std::string connector,
                                                                 std::string source) override;
  boost::asio::awaitable<Status> save(std::string connector, std::string source,
                                      Checkpoint checkpoint) override;

 private:
  DbExecutor& db_;
};

}  // namespace coibridge::core::pg
