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

#include "core/connector/offload.hpp"
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
  // reconnects; any other exception escaping fn becomes kInternal. The caller resumes on the
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
    } catch (const std::exception& e) {
      // The connection may be mid-transaction in an unknown state: drop it.
      return Error::internal(describe_failure("database error", e));
    }
  }
  static std::string describe_failure(const char* what, const std::exception& e);

  std::string conninfo_;
  boost::asio::thread_pool pool_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  bool stopped_ = false;
};

}  // namespace coibridge::core::pg
