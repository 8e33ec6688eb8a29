#pragma once
// Runs a blocking or CPU-bound function on another executor (a thread pool) and resumes the
// awaiting coroutine on its own executor, so that the I/O thread keeps serving sockets while
// the work runs (design.md: no blocking call on an I/O thread).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <type_traits>

namespace coibridge::core {

// fn() runs on `where`; an exception it throws is rethrown in the caller. `where` must stay
// alive until the call completed. A null executor runs fn() in place.
template <class Executor, class F>
auto offload(Executor where, F fn) -> boost::asio::awaitable<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    if (!where) co_return fn();
  }
  std::optional<R> out;
  std::exception_ptr failed;
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      [&where, &fn, &out, &failed](auto handler) {
        auto ex = boost::asio::get_associated_executor(handler);
        boost::asio::post(where, [&fn, &out, &failed, handler = std::move(handler),
                                  work = boost::asio::make_work_guard(ex)]() mutable {
          try {
            out.emplace(fn());
          } catch (...) {
            failed = std::current_exception();
          }
          auto resume_on = work.get_executor();
          boost::asio::post(resume_on, std::move(handler));
        });
      },
      boost::asio::use_awaitable);
  if (failed) std::rethrow_exception(failed);
  co_return std::move(*out);
}

}  // namespace coibridge::core
