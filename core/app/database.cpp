#include "core/app/database.hpp"

#include <spdlog/spdlog.h>

#include <thread>

namespace coibridge::app {

core::Result<Database> open_database(const core::Config& config, std::chrono::seconds wait) {
  Database db;
  if (!config.database.url.empty()) {
    db.conninfo = config.database.url;
    auto lock = lock_database(db.conninfo, wait);
    if (!lock) return lock.error();
    db.database_lock = std::move(*lock);
    return db;
  }
  auto lock = DirectoryLock::take(config.database.data_dir);
  if (!lock) return lock.error();
  db.directory_lock = std::move(*lock);
  auto embedded =
      core::pg::EmbeddedPostgres::start({config.database.data_dir, config.database.pg_bin_dir});
  if (!embedded) return embedded.error();
  db.embedded = std::move(embedded).value();
  db.conninfo = db.embedded->conninfo();
  return db;
}

core::Result<core::pg::MigrationReport> apply_migrations(core::pg::DbExecutor& db,
                                                         std::chrono::seconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto report = db.run_sync(
        [](pqxx::connection& c) { return core::pg::migrate(c, core::pg::builtin_migrations()); });
    if (report || report.error().kind != core::ErrorKind::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return report;
    }
    spdlog::info("database not reachable yet, retrying: {}", report.error().message);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace coibridge::app
