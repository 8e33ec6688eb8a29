#pragma once
// Schema migrations: the numbered files of schema/, compiled into the binary so that
// `migrate` needs nothing beside it. All pending migrations apply in one transaction under an
// advisory lock, so concurrent instances cannot apply one twice; each applied migration is
// recorded with its SHA-256, and a changed checksum of an applied file is fatal.

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/model/result.hpp"

namespace coibridge::core::pg {

struct Migration {
  int version = 0;
  std::string name;  // file name, e.g. 0001_init.sql
  std::string sql;
};

// The migrations compiled in, ascending by version.
const std::vector<Migration>& builtin_migrations();

struct MigrationReport {
  std::vector<std::string> applied;  // file names applied by this call
  int current_version = 0;
};

std::string sha256_hex(const std::string& data);

// Applies what is pending. Errors: a recorded migration unknown to this binary, or one whose
// checksum differs from the compiled-in file.
Result<MigrationReport> migrate(pqxx::connection& conn, const std::vector<Migration>& migrations);

// Whether every migration is applied (and nothing unknown is): the readiness check.
Result<bool> migrations_current(pqxx::connection& conn, const std::vector<Migration>& migrations);

}  // namespace coibridge::core::pg
