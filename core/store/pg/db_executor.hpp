#pragma once
// libpqxx is blocking, so every database call runs on this small thread pool and never on an
// I/O thread. A coroutine awaits run(); the call hops to a database thread, borrows a
// connection (each with the named prepared statements of statements.cpp), and resumes the
// coroutine on its own executor.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <type_traits>
#include <vector>

#include "core/async/offload.hpp"
#include "core/model/result.hpp"

namespace coibridge::core::pg {

class DbExecutor {
 public:
  // conninfo: a libpq connection string or URI. threads: also the most connections held.
  DbExecutor(std::string conninfo, int threads);
  ~DbExecutor();
  DbExecutor(const DbExecutor&) = delete;
  DbExecutor& operator=(const DbExecutor&) = delete;

  // Runs fn(pqxx::connection&) on a database thread. fn returns a Result<T> (or Status).
  // A lost connection becomes kUnavailable and the connection is dropped, so the next call
  // reconnects; so do a deadlock, a serialization failure, exhausted resources and an
  // operator's intervention (SQLSTATE classes 40, 53, 57), which a retry can get past. Any
  // other exception escaping fn becomes kInternal. The caller resumes on the
  // executor it awaited from.
  template <class F>
  auto run(F fn) -> boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> {
    using R = std::invoke_result_t<F&, pqxx::connection&>;
    // Named before the co_await: g++ 12 mishandles temporaries inside a co_await expression.
    auto on_connection = [this, &fn] { return guarded<R>(fn); };
    co_return co_await offload(pool_.get_executor(), on_connection);
  }

  // The same, blocking the calling thread; for start-up and tools, never on an I/O thread.
  template <class F>
  auto run_sync(F fn) -> std::invoke_result_t<F&, pqxx::connection&> {
    using R = std::invoke_result_t<F&, pqxx::connection&>;
    return guarded<R>(fn);
  }

  // Waits for the calls in progress and stops the threads. Idempotent.
  void stop();

 private:
  class Lease;
  std::unique_ptr<pqxx::connection> acquire();  // throws pqxx::broken_connection
  void release(std::unique_ptr<pqxx::connection> conn);

  template <class R, class F>
  R guarded(F& fn) {
    std::unique_ptr<pqxx::connection> conn;
    try {
      conn = acquire();
      R r = fn(*conn);
      release(std::move(conn));
      return r;
    } catch (const pqxx::broken_connection& e) {
      return Error::unavailable(describe_failure("database connection lost", e));
    } catch (const pqxx::transaction_rollback& e) {
      // SQLSTATE class 40 (libpqxx 6 gives it no sqlstate()): rolled back, the connection is
      // fine.
      if (conn) release(std::move(conn));
      return Error::unavailable(describe_failure("database busy, try again", e));
    } catch (const pqxx::sql_error& e) {
      if (transient(e.sqlstate())) {
        // The transaction was rolled back; a connection the server is shutting down is
        // dropped, any other goes back to the pool.
        if (conn && !e.sqlstate().starts_with("57")) release(std::move(conn));
        return Error::unavailable(describe_failure("database busy, try again", e));
      }
      return Error::internal(describe_failure("database error", e));
    } catch (const std::exception& e) {
      // The connection may be mid-transaction in an unknown state: drop it.
      return Error::internal(describe_failure("database error", e));
    }
  }
  static std::string describe_failure(const char* what, const std::exception& e);
  // SQLSTATE classes that say "not now" rather than "never" (PostgreSQL Appendix A): 40
  // transaction rollback (serialization failure, deadlock), 53 insufficient resources, 57
  // operator intervention (query canceled, admin shutdown).
  static bool transient(const std::string& sqlstate) {
    return sqlstate.starts_with("40") || sqlstate.starts_with("53") || sqlstate.starts_with("57");
  }

  std::string conninfo_;
  boost::asio::thread_pool pool_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  bool stopped_ = false;
};

}  // namespace coibridge::core::pg
