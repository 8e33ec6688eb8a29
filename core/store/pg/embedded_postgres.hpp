#pragma once
// A private PostgreSQL cluster that coi-bridge runs itself when no database.url is
// configured: initdb on first start, a unix socket inside the data directory and no TCP port,
// started before migrating and stopped on exit. A cluster left running by a killed
// coi-bridge is adopted rather than started twice.

#include <memory>
#include <string>

#include "core/model/result.hpp"

namespace coibridge::core::pg {

class EmbeddedPostgres {
 public:
  struct Options {
    std::string data_dir;  // created if missing; holds pgdata/, run/ (socket) and logs
    std::string bin_dir;   // empty: the newest /usr/lib/postgresql/*/bin
  };

  static Result<std::unique_ptr<EmbeddedPostgres>> start(const Options& options);
  ~EmbeddedPostgres();

  // libpq connection string for the cluster's unix socket.
  std::string conninfo() const;
  // Fast shutdown (clients are disconnected). Idempotent.
  Status stop();

 private:
  EmbeddedPostgres() = default;
  std::string bin_dir_;
  std::string pgdata_;
  std::string socket_dir_;
  std::string log_file_;
  bool running_ = false;
};

}  // namespace coibridge::core::pg
