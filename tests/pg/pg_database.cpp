#include "tests/pg/pg_database.hpp"

#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

namespace coibridge::testing {

PgDatabase::PgDatabase() {
  const char* url = std::getenv("COIBRIDGE_TEST_PG_URL");
  if (url == nullptr || *url == '\0') {
    throw std::runtime_error(
        "COIBRIDGE_TEST_PG_URL is not set: run the pg tests through scripts/test, which starts "
        "a private PostgreSQL");
  }
  admin_conninfo_ = url;
  std::random_device rd;
  name_ = "cbtest_" + std::to_string(rd()) + std::to_string(rd());
  pqxx::connection admin(admin_conninfo_);
  pqxx::nontransaction tx(admin);
  tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  conninfo_ = admin_conninfo_ + " dbname=" + name_;
}

PgDatabase::~PgDatabase() {
  try {
    pqxx::connection admin(admin_conninfo_);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The server goes away with the test run anyway.
  }
}

}  // namespace coibridge::testing
