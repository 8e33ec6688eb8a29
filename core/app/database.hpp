#pragma once
// Bringing up the database for run and migrate: the configured server, or the embedded
// cluster; then the migrations.

#include <memory>
#include <string>

#include "core/config/config.hpp"
#include "core/model/result.hpp"
#include "core/store/pg/db_executor.hpp"
#include "core/store/pg/embedded_postgres.hpp"
#include "core/store/pg/migrator.hpp"

namespace coibridge::app {

struct Database {
  std::unique_ptr<core::pg::EmbeddedPostgres> embedded;  // null with database.url
  std::string conninfo;
};

core::Result<Database> open_database(const core::Config& config);

// Applies pending migrations, waiting up to `wait` for a database that is still starting.
core::Result<core::pg::MigrationReport> apply_migrations(core::pg::DbExecutor& db,
                                                         std::chrono::seconds wait);

}  // namespace coibridge::app
