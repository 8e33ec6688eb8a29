#pragma once
// A fresh, empty database per test on the server scripts/test started
// (COIBRIDGE_TEST_PG_URL). A missing server is a test failure, never a skip.

#include <string>

namespace coibridge::testing {

class PgDatabase {
 public:
  PgDatabase();  // throws (failing the test) when the server is not there
  ~PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return name_; }

 private:
  std::string admin_conninfo_;
  std::string name_;
  std::string conninfo_;
};

}  // namespace coibridge::testing
