// Which database failures are worth retrying (kUnavailable: the caller backs off and tries
// again, a delivery is not dead-lettered) and which are not (kInternal).
#include <gtest/gtest.h>

#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "core/store/pg/db_executor.hpp"
#include "tests/pg/pg_database.hpp"

namespace coibridge::core::pg {
namespace {

// Raises an error with this SQLSTATE inside a transaction, as the server would.
Status raise(DbExecutor& db, const std::string& sqlstate) {
  return db.run_sync([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec("DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '" + sqlstate + "'; END $$");
    tx.commit();
    return {};
  });
}

TEST(DbExecutorErrors, TransientSqlStatesAreUnavailableAndOthersInternal) {
  testing::PgDatabase pg;
  DbExecutor db(pg.conninfo(), 1);
  // 40001 serialization_failure, 40P01 deadlock_detected, 53200 out_of_memory, 57014 query_canceled
  for (const char* state : {"40001", "40P01", "53200", "57014"}) {
    auto st = raise(db, state);
    ASSERT_FALSE(st.ok()) << state;
    EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable) << state << ": " << st.error().message;
  }
  // 23505 unique_violation, 42601 syntax_error: a retry would fail the same way.
  for (const char* state : {"23505", "42601"}) {
    auto st = raise(db, state);
    ASSERT_FALSE(st.ok()) << state;
    EXPECT_EQ(st.error().kind, ErrorKind::kInternal) << state;
  }
  // The pooled connection still works after all of it.
  auto one = db.run_sync([](pqxx::connection& c) -> Result<int> {
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT 1")[0].as<int>();
  });
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1);
}

TEST(DbExecutorErrors, ARealDeadlockIsUnavailableForTheTransactionPostgresChose) {
  testing::PgDatabase pg;
  DbExecutor db(pg.conninfo(), 2);
  ASSERT_TRUE(db.run_sync([](pqxx::connection& c) -> Status {
                  pqxx::work tx(c);
                  tx.exec("CREATE TABLE locks (id int PRIMARY KEY)");
                  tx.exec("INSERT INTO locks VALUES (1), (2)");
                  tx.commit();
                  return {};
                }).ok());
  // Two transactions lock the same two rows in opposite orders, each waiting for the other
  // after its first lock: PostgreSQL aborts one of them (deadlock_timeout, 1 s by default).
  std::promise<void> first_locked[2];
  auto both_locked = [&](int me) {
    first_locked[me].set_value();
    first_locked[1 - me].get_future().wait();
  };
  auto locker = [&](int me) {
    return db.run_sync([&, me](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      tx.exec("SELECT id FROM locks WHERE id = " + std::to_string(me + 1) + " FOR UPDATE");
      both_locked(me);
      tx.exec("SELECT id FROM locks WHERE id = " + std::to_string(2 - me) + " FOR UPDATE");
      tx.commit();
      return {};
    });
  };
  auto a = std::async(std::launch::async, locker, 0);
  auto b = std::async(std::launch::async, locker, 1);
  const Status results[] = {a.get(), b.get()};
  int deadlocked = 0;
  for (const auto& st : results) {
    if (st.ok()) continue;
    ++deadlocked;
    EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable) << st.error().message;
    EXPECT_NE(st.error().message.find("deadlock"), std::string::npos) << st.error().message;
  }
  EXPECT_EQ(deadlocked, 1);
}

}  // namespace
}  // namespace coibridge::core::pg
