#include <gtest/gtest.h>

#include <future>
#include <pqxx/pqxx>

#include "core/store/pg/migrator.hpp"
#include "tests/pg/pg_database.hpp"

namespace coibridge::core::pg {
namespace {

using testing::PgDatabase;

const char* const kTables[] = {"bridges",      "links",         "puppets",   "puppet_memberships",
                               "messages",     "message_parts", "outbox",    "dead_letters",
                               "checkpoints",  "seen_inbound",  "audit_log", "schema_migrations",
                               "conversations"};

TEST(Migrations, ApplyOnEmptyDatabaseCreatesEveryTable) {
  PgDatabase db;
  pqxx::connection c(db.conninfo());
  auto report = migrate(c, builtin_migrations());
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->applied.size(), builtin_migrations().size());
  EXPECT_EQ(report->current_version, builtin_migrations().back().version);
  pqxx::read_transaction tx(c);
  for (const char* table : kTables) {
    EXPECT_TRUE(
        tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", std::string(table))[0].as<bool>())
        << table;
  }
}

TEST(Migrations, SecondRunAppliesNothing) {
  PgDatabase db;
  pqxx::connection c(db.conninfo());
  ASSERT_TRUE(migrate(c, builtin_migrations()).ok());
  auto again = migrate(c, builtin_migrations());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->applied.empty());
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<std::size_t>(),
            builtin_migrations().size());
}

TEST(Migrations, CurrentOnlyAfterApplying) {
  PgDatabase db;
  pqxx::connection c(db.conninfo());
  auto before = migrations_current(c, builtin_migrations());
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(*before);
  ASSERT_TRUE(migrate(c, builtin_migrations()).ok());
  auto after = migrations_current(c, builtin_migrations());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(*after);
}

TEST(Migrations, ChangedAppliedMigrationIsFatal) {
  PgDatabase db;
  pqxx::connection c(db.conninfo());
  ASSERT_TRUE(migrate(c, builtin_migrations()).ok());
  auto edited = builtin_migrations();
  edited.front().sql += "\n-- edited after release\n";
  auto report = migrate(c, edited);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("checksum mismatch"), std::string::npos);
  EXPECT_NE(report.error().message.find(edited.front().name), std::string::npos);
  EXPECT_FALSE(migrations_current(c, edited).ok());
}

TEST(Migrations, UnknownAppliedMigrationIsFatal) {
  PgDatabase db;
  pqxx::connection c(db.conninfo());
  ASSERT_TRUE(migrate(c, builtin_migrations()).ok());
  {
    pqxx::work tx(c);
    tx.exec(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future.sql', "
        "'x')");
    tx.commit();
  }
  auto report = migrate(c, builtin_migrations());
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("9999"), std::string::npos);
}

TEST(Migrations, FailingMigrationLeavesNothingBehind) {
  PgDatabase db;
  pqxx::connection c(db.conninfo());
  auto broken = builtin_migrations();
  broken.push_back(
      {9000, "9000_broken.sql", "CREATE TABLE good_one (id int); SELECT no_such_function();"});
  auto report = migrate(c, broken);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("9000_broken.sql"), std::string::npos);
  // One transaction: not even the first migration's tables remain.
  pqxx::read_transaction tx(c);
  EXPECT_FALSE(tx.exec1("SELECT to_regclass('bridges') IS NOT NULL")[0].as<bool>());
  EXPECT_FALSE(tx.exec1("SELECT to_regclass('good_one') IS NOT NULL")[0].as<bool>());
}

TEST(Migrations, ConcurrentRunsApplyOnce) {
  PgDatabase db;
  auto run = [&] {
    pqxx::connection c(db.conninfo());
    return migrate(c, builtin_migrations());
  };
  auto a = std::async(std::launch::async, run);
  auto b = std::async(std::launch::async, run);
  auto ra = a.get();
  auto rb = b.get();
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(ra->applied.size() + rb->applied.size(), builtin_migrations().size());
}

}  // namespace
}  // namespace coibridge::core::pg
