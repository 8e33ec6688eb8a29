#include "core/store/pg/db_executor.hpp"

#include <spdlog/spdlog.h>

#include "core/log/redact.hpp"
#include "core/store/pg/statements.hpp"

namespace coibridge::core::pg {

DbExecutor::DbExecutor(std::string conninfo, int threads)
    : conninfo_(std::move(conninfo)), pool_(static_cast<std::size_t>(threads < 1 ? 1 : threads)) {}

DbExecutor::~DbExecutor() { stop(); }

void DbExecutor::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  pool_.join();
  std::lock_guard lock(mu_);
  idle_.clear();
}

std::unique_ptr<pqxx::connection> DbExecutor::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->is_open()) return conn;
    }
  }
  auto conn = std::make_unique<pqxx::connection>(conninfo_);
  prepare_statements(*conn);
  return conn;
}

void DbExecutor::release(std::unique_ptr<pqxx::connection> conn) {
  if (!conn || !conn->is_open()) return;
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(conn));
}

std::string DbExecutor::describe_failure(const char* what, const std::exception& e) {
  // libpq messages can quote the connection string; strip any password before it travels.
  std::string msg = std::string(what) + ": " + redact_secrets(e.what());
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  spdlog::warn("{}", msg);
  return msg;
}

}  // namespace coibridge::core::pg
