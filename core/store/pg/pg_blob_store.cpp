#include "core/store/pg/pg_blob_store.hpp"

// One-statement reads run as pqxx::nontransaction, as in pg_stores.cpp.

#include "core/store/pg/migrator.hpp"

namespace coibridge::core::pg {

using boost::asio::awaitable;

awaitable<Result<std::string>> PgBlobStore::put(std::string content_type, std::string data) {
  // Hashing a large attachment is CPU work: it runs on the database pool, not an I/O thread.
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::string> {
    const std::string key = std::string(kBlobLocationPrefix) + sha256_hex(data);
    pqxx::work tx(c);
    tx.exec_prepared("blob_put", key, content_type, static_cast<std::int64_t>(data.size()),
                     pqxx::binarystring(data.data(), data.size()));
    tx.commit();
    return key;
  });
}

awaitable<Result<Blob>> PgBlobStore::get(std::string location) {
  if (!is_blob_location(location)) {
    co_return Error::invalid("location", "not a blob location: " + location.substr(0, 80));
  }
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<Blob> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("blob_get", location);
    if (rows.empty()) return Error::not_found("blob " + location + " is not stored (purged?)");
    return Blob{rows[0][0].as<std::string>(), pqxx::binarystring(rows[0][1]).str()};
  });
}

awaitable<Result<std::int64_t>> PgBlobStore::purge(std::chrono::seconds age) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::int64_t> {
    pqxx::work tx(c);
    auto res = tx.exec_prepared("blob_purge", static_cast<std::int64_t>(age.count()));
    tx.commit();
    return static_cast<std::int64_t>(res.affected_rows());
  });
}

awaitable<Result<bool>> PgInboundLedger::seen(std::string connector, std::string key) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<bool> {
    pqxx::nontransaction tx(c);
    return !tx.exec_prepared("inbound_seen", connector, key).empty();
  });
}

awaitable<Status> PgInboundLedger::remember(std::string connector, std::string key, std::chrono::seconds keep) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("inbound_remember", connector, key, static_cast<std::int64_t>(keep.count()));
    tx.exec_prepared("inbound_expire");
    tx.commit();
    return {};
  });
}

awaitable<Result<std::optional<nlohmann::json>>> PgConversationStateStore::load(std::string connector,
                                                                               std::string conversation) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<nlohmann::json>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("conversation_state_get", connector, conversation);
    if (rows.empty()) return std::optional<nlohmann::json>{};
    return std::optional<nlohmann::json>(nlohmann::json::parse(rows[0][0].as<std::string>()));
  });
}

awaitable<Status> PgConversationStateStore::save(std::string connector, std::string conversation,
                                                 nlohmann::json state) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("conversation_state_put", connector, conversation, state.dump());
    tx.commit();
    return {};
  });
}

}  // namespace coibridge::core::pg
