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

awaitable<Status> PgInboundLedger::remember(std::string connector, std::string key,
                                            std::chrono::seconds keep) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("inbound_remember", connector, key, static_cast<std::int64_t>(keep.count()));
    tx.exec_prepared("inbound_expire");
    tx.commit();
    return {};
  });
}

awaitable<Result<PuppetState>> PgPuppetStore::load(std::string connector) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<PuppetState> {
    pqxx::read_transaction tx(c);
    PuppetState state;
    for (const auto& row : tx.exec_prepared("puppet_profiles", connector)) {
      state.profiles.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
    }
    for (const auto& row : tx.exec_prepared("puppet_memberships", connector)) {
      state.memberships.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
    }
    return state;
  });
}

awaitable<Status> PgPuppetStore::save_profile(std::string connector, std::string puppet_id,
                                              std::string profile) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("puppet_profile_put", connector, puppet_id, profile);
    tx.commit();
    return {};
  });
}

awaitable<Status> PgPuppetStore::set_member(std::string connector, std::string puppet_id,
                                            std::string conversation, bool member) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared(member ? "puppet_join" : "puppet_leave", connector, puppet_id, conversation);
    tx.commit();
    return {};
  });
}

awaitable<Result<std::optional<ConversationInfo>>> PgConversationStateStore::describe(
    std::string connector, std::string conversation) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<ConversationInfo>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("conversation_info", connector, conversation);
    if (rows.empty()) return std::optional<ConversationInfo>{};
    ConversationInfo info;
    info.kind = rows[0][0].as<std::string>();
    info.title = rows[0][1].as<std::string>();
    info.members =
        nlohmann::json::parse(rows[0][2].as<std::string>()).get<std::vector<std::string>>();
    info.match_key = rows[0][3].is_null() ? std::string() : rows[0][3].as<std::string>();
    return std::optional<ConversationInfo>(std::move(info));
  });
}

awaitable<Result<std::optional<nlohmann::json>>> PgConversationStateStore::load(
    std::string connector, std::string conversation) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<nlohmann::json>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("conversation_state_get", connector, conversation);
    if (rows.empty()) return std::optional<nlohmann::json>{};
    return std::optional<nlohmann::json>(nlohmann::json::parse(rows[0][0].as<std::string>()));
  });
}

awaitable<Status> PgConversationStateStore::save(std::string connector, std::string conversation,
                                                 nlohmann::json state,
                                                 std::optional<ConversationInfo> info) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("conversation_state_put", connector, conversation, state.dump());
    if (info) {
      tx.exec_prepared("conversation_describe", connector, conversation, info->kind, info->title,
                       nlohmann::json(info->members)
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       info->match_key);
    }
    tx.commit();
    return {};
  });
}

awaitable<Result<std::vector<std::string>>> PgConversationStateStore::find_by_key(
    std::string connector, std::string match_key) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::vector<std::string>> {
    pqxx::nontransaction tx(c);
    std::vector<std::string> out;
    for (const auto& r : tx.exec_prepared("conversation_by_key", connector, match_key))
      out.push_back(r[0].as<std::string>());
    return out;
  });
}

awaitable<Result<std::string>> PgConversationStateStore::merge(std::string connector, std::string a,
                                                               std::string b) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::string> {
    pqxx::work tx(c);
    // Either may be merged already: the merge is between the survivors.
    const auto x = tx.exec_prepared1("conversation_survivor_of", connector, a)[0].as<std::string>();
    const auto y = tx.exec_prepared1("conversation_survivor_of", connector, b)[0].as<std::string>();
    if (x == y) return x;
    tx.exec_prepared("conversation_ensure", connector, x);
    tx.exec_prepared("conversation_ensure", connector, y);
    auto locked = tx.exec_prepared("conversation_lock", connector, x, y);
    if (locked.size() != 2)
      return Error::internal("merging " + x + " and " + y + ": " + std::to_string(locked.size()) +
                             " rows");
    // First seen first: that one survives unless only the other is linked.
    const bool swap =
        std::make_pair(locked[1][2].as<std::int64_t>(), locked[1][3].as<std::int64_t>()) <
        std::make_pair(locked[0][2].as<std::int64_t>(), locked[0][3].as<std::int64_t>());
    const pqxx::row rows[2] = {locked[swap ? 1 : 0], locked[swap ? 0 : 1]};
    const auto bridge_of = [&](std::size_t i) -> std::optional<std::int64_t> {
      if (rows[i][1].is_null()) return std::nullopt;
      return rows[i][1].as<std::int64_t>();
    };
    const auto first = bridge_of(0);
    const auto second = bridge_of(1);
    if (first && second && *first != *second) {
      return Error::conflict("conversations " + x + " and " + y +
                             " are one, but linked in bridges " + std::to_string(*first) + " and " +
                             std::to_string(*second));
    }
    const bool second_survives = second && !first;
    const std::string survivor = rows[second_survives ? 1 : 0][0].as<std::string>();
    const std::string merged = rows[second_survives ? 0 : 1][0].as<std::string>();
    // Both in one bridge: the survivor's link stands for both.
    if (first && second) tx.exec_prepared("merge_link_delete", connector, merged);
    tx.exec_prepared("merge_outbox_drop", connector, survivor, merged);
    tx.exec_prepared("merge_outbox_move", connector, survivor, merged);
    tx.exec_prepared("conversation_absorb", connector, survivor, merged);
    tx.exec_prepared("conversation_alias", connector, survivor, merged);
    tx.exec_prepared("audit_insert", "connector:" + connector, std::string("conversation.merge"),
                     "conversation/" + connector + ":" + merged,
                     nlohmann::json{{"into", survivor}}.dump(
                         -1, ' ', false, nlohmann::json::error_handler_t::replace));
    tx.commit();
    return survivor;
  });
}

}  // namespace coibridge::core::pg
