#pragma once
// One coi-bridge process per database. Two would both deliver every outbox row, and a second
// one on an embedded cluster would adopt it and then stop it under the first. The embedded
// data directory is held by an exclusive lock on <data_dir>/coi-bridge.lock (with the holder's
// pid in it), taken before the cluster is started or adopted; a configured database is held
// by a session advisory lock on a connection kept open for the life of the process.

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "core/model/result.hpp"

namespace coibridge::app {

class DirectoryLock {
 public:
  // kConflict, naming the holder's pid, when another process holds it.
  static core::Result<std::unique_ptr<DirectoryLock>> take(const std::string& data_dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The database's advisory lock on a connection of its own; kConflict when another process
// holds it. Waits up to `wait` for a database that is still starting.
core::Result<std::unique_ptr<pqxx::connection>> lock_database(const std::string& conninfo,
                                                              std::chrono::seconds wait);

}  // namespace coibridge::app
