#include "core/app/instance_lock.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

namespace coibridge::app {
namespace {

// pg_try_advisory_lock's key: "coibridg" as a 64-bit number, so that it is unlikely to meet
// another application's advisory lock on a shared server.
constexpr std::int64_t kAdvisoryKey = 0x636f6962726964LL;

std::string holder_of(int fd) {
  char buf[32] = {};
  const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? std::string("another process") : "pid " + pid;
}

}  // namespace

core::Result<std::unique_ptr<DirectoryLock>> DirectoryLock::take(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return core::Error::unavailable("cannot create " + data_dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(data_dir) / "coi-bridge.lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Error::unavailable("cannot open " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = holder_of(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return core::Error::conflict("the data directory " + data_dir + " is in use by coi-bridge (" +
                                   holder + "); stop it first");
    }
    return core::Error::unavailable("cannot lock " + path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    spdlog::warn("cannot write the pid into {}: {}", path, std::strerror(errno));
  }
  return std::unique_ptr<DirectoryLock>(new DirectoryLock(fd));
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

core::Result<std::unique_ptr<pqxx::connection>> lock_database(const std::string& conninfo,
                                                              std::chrono::seconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    try {
      auto conn = std::make_unique<pqxx::connection>(conninfo);
      pqxx::nontransaction tx(*conn);
      const bool held =
          tx.exec_params1("SELECT pg_try_advisory_lock($1)", kAdvisoryKey)[0].as<bool>();
      if (!held) {
        return core::Error::conflict(
            "another coi-bridge instance uses this database; one instance per database (stop it "
            "first)");
      }
      return conn;
    } catch (const pqxx::broken_connection& e) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return core::Error::unavailable(std::string("database not reachable: ") + e.what());
      }
      spdlog::info("database not reachable yet, retrying");
      std::this_thread::sleep_for(std::chrono::seconds(1));
    } catch (const std::exception& e) {
      return core::Error::unavailable(std::string("cannot take the database lock: ") + e.what());
    }
  }
}

}  // namespace coibridge::app
