#pragma once
// Bringing up the database for run and migrate: the configured server, or the embedded
// cluster; then the migrations.

#include <memory>
#include <string>

#include "core/app/instance_lock.hpp"
#include "core/config/config.hpp"
#include "core/model/result.hpp"
#include "core/store/pg/db_executor.hpp"
#include "core/store/pg/embedded_postgres.hpp"
#include "core/store/pg/migrator.hpp"

namespace coibridge::app {

struct Database {
  // Held for as long as the process uses the database (instance_lock.hpp); declared first, so
  // released last.
  std::unique_ptr<DirectoryLock> directory_lock;         // with the embedded cluster
  std::unique_ptr<pqxx::connection> database_lock;       // with database.url
  std::unique_ptr<core::pg::EmbeddedPostgres> embedded;  // null with database.url
  std::string conninfo;
};

// kConflict when another coi-bridge process uses the same database or data directory: then
// nothing was started or changed. Waits up to `wait` for a configured database server.
core::Result<Database> open_database(const core::Config& config, std::chrono::seconds wait);

// Applies pending migrations, waiting up to `wait` for a database that is still starting.
core::Result<core::pg::MigrationReport> apply_migrations(core::pg::DbExecutor& db,
                                                         std::chrono::seconds wait);

}  // namespace coibridge::app
