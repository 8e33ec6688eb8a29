#include "core/store/pg/embedded_postgres.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

namespace coibridge::core::pg {
namespace {

namespace fs = std::filesystem;

// The unprivileged account that owns the cluster when coi-bridge runs as root (PostgreSQL
// refuses to run as root). The postgresql package creates it.
struct Owner {
  uid_t uid;
  gid_t gid;
};

Result<std::optional<Owner>> cluster_owner() {
  if (geteuid() != 0) return std::optional<Owner>{};
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return Error::internal(
        "coi-bridge runs as root, and PostgreSQL refuses to; the embedded database needs the "
        "'postgres' system user (installed with the postgresql package) or a non-root user");
  }
  return std::optional<Owner>(Owner{pw->pw_uid, pw->pw_gid});
}

Result<std::string> find_bin_dir(const std::string& configured) {
  if (!configured.empty()) {
    if (!fs::exists(fs::path(configured) / "pg_ctl")) {
      return Error::invalid("database.pg_bin_dir", "no pg_ctl in " + configured);
    }
    return configured;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(entry.path() / "bin" / "pg_ctl")) candidates.push_back(entry.path() / "bin");
  }
  if (candidates.empty()) {
    return Error::internal(
        "no PostgreSQL server found under /usr/lib/postgresql (install the postgresql package, "
        "set database.pg_bin_dir, or set database.url)");
  }
  // Newest major version first: compare numerically ("15" > "9").
  std::sort(candidates.begin(), candidates.end(), [](const fs::path& a, const fs::path& b) {
    auto va = std::atoi(a.parent_path().filename().c_str());
    auto vb = std::atoi(b.parent_path().filename().c_str());
    return va > vb;
  });
  return candidates.front().string();
}

// Runs a PostgreSQL tool as the cluster owner, output appended to log_file. Returns the exit
// code, or -1 when it could not be started.
int run_tool(const std::vector<std::string>& argv, const std::optional<Owner>& owner,
             const std::string& log_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (owner) {
      if (setgroups(0, nullptr) != 0 || setgid(owner->gid) != 0 || setuid(owner->uid) != 0)
        _exit(126);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Status prepare_dir(const fs::path& dir, const std::optional<Owner>& owner) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::internal("cannot create " + dir.string() + ": " + ec.message());
  if (owner && chown(dir.c_str(), owner->uid, owner->gid) != 0) {
    return Error::internal("cannot give " + dir.string() + " to the postgres user");
  }
  chmod(dir.c_str(), 0700);
  return {};
}

}  // namespace

Result<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::start(const Options& options) {
  auto owner = cluster_owner();
  if (!owner) return owner.error();
  auto bin = find_bin_dir(options.bin_dir);
  if (!bin) return bin.error();

  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  const fs::path root = fs::absolute(options.data_dir, ec);
  if (ec) return Error::internal("bad database.data_dir: " + ec.message());
  for (const auto& d : {root, root / "run"}) {
    if (auto st = prepare_dir(d, *owner); !st) return st.error();
  }
  // PostgreSQL's socket path must fit sockaddr_un (107 bytes on Linux).
  const std::string socket_path = (root / "run" / ".s.PGSQL.5432").string();
  if (socket_path.size() > 100) {
    return Error::invalid("database.data_dir",
                          "is too long for a unix socket path; use a shorter data_dir");
  }

  std::unique_ptr<EmbeddedPostgres> pg(new EmbeddedPostgres());
  pg->bin_dir_ = *bin;
  pg->pgdata_ = (root / "pgdata").string();
  pg->socket_dir_ = (root / "run").string();
  pg->log_file_ = (root / "postgres.log").string();
  {
    // Make the log file writable by the owner before any tool appends to it.
    std::ofstream(pg->log_file_, std::ios::app);
    if (*owner) {
      if (chown(pg->log_file_.c_str(), (*owner)->uid, (*owner)->gid) != 0) {
        return Error::internal("cannot give " + pg->log_file_ + " to the postgres user");
      }
    }
  }
  const std::string pg_ctl = pg->bin_dir_ + "/pg_ctl";

  if (!fs::exists(fs::path(pg->pgdata_) / "PG_VERSION")) {
    spdlog::info("embedded PostgreSQL: creating a cluster in {}", pg->pgdata_);
    const int rc = run_tool({pg->bin_dir_ + "/initdb", "-D", pg->pgdata_, "-U", "postgres", "-A",
                             "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"},
                            *owner, pg->log_file_);
    if (rc != 0) {
      return Error::internal("initdb failed (exit " + std::to_string(rc) + "); see " +
                             pg->log_file_);
    }
    // No TCP at all: the socket lives in a 0700 directory, which is the access control.
    std::ofstream conf(fs::path(pg->pgdata_) / "postgresql.conf", std::ios::app);
    conf << "\n# coi-bridge embedded cluster\nlisten_addresses = ''\n"
         << "unix_socket_directories = '" << pg->socket_dir_ << "'\nport = 5432\n";
    if (!conf) return Error::internal("cannot write postgresql.conf in " + pg->pgdata_);
  }

  if (run_tool({pg_ctl, "status", "-D", pg->pgdata_}, *owner, pg->log_file_) == 0) {
    // Left running by a coi-bridge that did not stop cleanly: it is ours, use it.
    spdlog::info("embedded PostgreSQL: adopting the running server in {}", pg->pgdata_);
  } else {
    const int rc =
        run_tool({pg_ctl, "start", "-D", pg->pgdata_, "-l", pg->log_file_, "-w", "-t", "60"},
                 *owner, pg->log_file_);
    if (rc != 0) {
      return Error::internal("PostgreSQL did not start (pg_ctl exit " + std::to_string(rc) +
                             "); see " + pg->log_file_);
    }
    spdlog::info("embedded PostgreSQL: started, socket in {}", pg->socket_dir_);
  }
  pg->running_ = true;
  return pg;
}

EmbeddedPostgres::~EmbeddedPostgres() { (void)stop(); }

std::string EmbeddedPostgres::conninfo() const {
  return "host=" + socket_dir_ + " port=5432 user=postgres dbname=postgres";
}

Status EmbeddedPostgres::stop() {
  if (!running_) return {};
  running_ = false;
  auto owner = cluster_owner();
  if (!owner) return owner.error();
  const int rc =
      run_tool({bin_dir_ + "/pg_ctl", "stop", "-D", pgdata_, "-m", "fast", "-w", "-t", "60"},
               *owner, log_file_);
  if (rc != 0) return Error::internal("pg_ctl stop failed; see " + log_file_);
  spdlog::info("embedded PostgreSQL: stopped");
  return {};
}

}  // namespace coibridge::core::pg
