#pragma once
// A migrated private database and the PostgreSQL stores on it, for the store tests.

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "core/store/pg/db_executor.hpp"
#include "core/store/pg/migrator.hpp"
#include "core/store/pg/pg_blob_store.hpp"
#include "core/store/pg/pg_stores.hpp"
#include "tests/pg/pg_database.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::core::pg {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = db_.run_sync([](pqxx::connection& c) { return migrate(c, builtin_migrations()); });
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  // A new bridge linking these (connector, remote id) conversations.
  Bridge bridge_with(const std::vector<std::pair<std::string, std::string>>& links) {
    auto b = testing::run_awaitable(bridges_.create_bridge("b" + std::to_string(++n_), "test"));
    EXPECT_TRUE(b.ok());
    for (const auto& [c, r] : links) {
      auto l =
          testing::run_awaitable(bridges_.add_link(b->id, c, r, nlohmann::json::object(), "test"));
      EXPECT_TRUE(l.ok()) << l.error().message;
    }
    return *b;
  }

  // The first column of the first row of a query, as a number or as text ("NULL" for null).
  std::int64_t count(const std::string& sql) { return std::stoll(text(sql)); }
  std::string text(const std::string& sql) {
    pqxx::connection c(pg_.conninfo());
    pqxx::read_transaction tx(c);
    auto r = tx.exec1(sql);
    return r[0].is_null() ? "NULL" : r[0].as<std::string>();
  }
  // Runs statements outside the stores (test set-up: ageing rows).
  void exec(const std::string& sql) {
    pqxx::connection c(pg_.conninfo());
    pqxx::work tx(c);
    tx.exec(sql);
    tx.commit();
  }

  testing::PgDatabase pg_;
  DbExecutor db_{pg_.conninfo(), 2};
  PgBridgeStore bridges_{db_};
  PgEventStore events_{db_};
  PgBlobStore blobs_{db_};
  PgConversationStateStore conversations_{db_};
  int n_ = 0;
};

}  // namespace coibridge::core::pg
