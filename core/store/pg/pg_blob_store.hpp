#pragma once
// BlobStore in PostgreSQL (bytea): attachment bytes share the database's durability and
// backups, so a delivery that survives a crash still finds its file. And the other small
// stores connectors use: the ledger of inbound batches (table seen_inbound) and their
// per-conversation state (table conversation_state).

#include "core/store/blob_store.hpp"
#include "core/store/conversation_state_store.hpp"
#include "core/store/inbound_ledger.hpp"
#include "core/store/pg/db_executor.hpp"
#include "core/store/puppet_store.hpp"

namespace coibridge::core::pg {

class PgBlobStore final : public BlobStore {
 public:
  explicit PgBlobStore(DbExecutor& db) : db_(db) {}
  boost::asio::awaitable<Result<std::string>> put(std::string content_type,
                                                  std::string data) override;
  boost::asio::awaitable<Result<Blob>> get(std::string location) override;
  boost::asio::awaitable<Result<std::int64_t>> purge(std::chrono::seconds age) override;

 private:
  DbExecutor& db_;
};

class PgInboundLedger final : public InboundLedger {
 public:
  explicit PgInboundLedger(DbExecutor& db) : db_(db) {}
  boost::asio::awaitable<Result<bool>> seen(std::string connector, std::string key) override;
  boost::asio::awaitable<Status> remember(std::string connector, std::string key,
                                          std::chrono::seconds keep) override;

 private:
  DbExecutor& db_;
};

class PgPuppetStore final : public PuppetStore {
 public:
  explicit PgPuppetStore(DbExecutor& db) : db_(db) {}
  boost::asio::awaitable<Result<PuppetState>> load(std::string connector) override;
  boost::asio::awaitable<Status> save_profile(std::string connector, std::string puppet_id,
                                              std::string profile) override;
  boost::asio::awaitable<Status> set_member(std::string connector, std::string puppet_id,
                                            std::string conversation, bool member) override;

 private:
  DbExecutor& db_;
};

class PgConversationStateStore final : public ConversationStateStore {
 public:
  explicit PgConversationStateStore(DbExecutor& db) : db_(db) {}
  boost::asio::awaitable<Result<std::optional<nlohmann::json>>> load(
      std::string connector, std::string conversation) override;
  boost::asio::awaitable<Status> save(std::string connector, std::string conversation,
                                      nlohmann::json state,
                                      std::optional<ConversationInfo> info = std::nullopt) override;
  boost::asio::awaitable<Result<std::optional<ConversationInfo>>> describe(
      std::string connector, std::string conversation) override;
  boost::asio::awaitable<Result<std::vector<std::string>>> find_by_key(
      std::string connector, std::string match_key) override;
  boost::asio::awaitable<Result<std::string>> merge(std::string connector, std::string a,
                                                    std::string b) override;

 private:
  DbExecutor& db_;
};

}  // namespace coibridge::core::pg
