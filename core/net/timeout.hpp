#pragma once
// Deadlines for single asynchronous steps of a protocol client. Every network step needs one:
// a peer that stops answering must end in an error, never in a coroutine that waits forever.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

namespace coibridge::core {

// Runs `op` against a timer; nullopt when the timer won. The operation is then cancelled and
// awaited, so `op` must support per-operation cancellation (sockets and timers do).
template <class T>
boost::asio::awaitable<std::optional<T>> with_timeout(boost::asio::awaitable<T> op,
                                                      std::chrono::steady_clock::duration limit) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
  auto r = co_await (std::move(op) ||
                     timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
  if (r.index() == 0) co_return std::get<0>(std::move(r));
  co_return std::nullopt;
}

namespace detail {
template <class T, class Channel>
boost::asio::awaitable<void> deliver_to(boost::asio::awaitable<T> op, std::shared_ptr<Channel> ch) {
  T value = co_await std::move(op);
  ch->try_send(boost::system::error_code{}, std::move(value));
}
}  // namespace detail

// Like with_timeout for an operation that cannot be cancelled (a host name lookup blocks in
// getaddrinfo): after `limit` the caller goes on with nullopt and `op` is left to finish on
// its own, its result dropped. `op` must own everything it uses.
template <class T>
boost::asio::awaitable<std::optional<T>> abandon_after(boost::asio::awaitable<T> op,
                                                       std::chrono::steady_clock::duration limit) {
  using namespace boost::asio::experimental::awaitable_operators;
  using Channel = boost::asio::experimental::concurrent_channel<void(boost::system::error_code, T)>;
  constexpr auto kAwait = boost::asio::as_tuple(boost::asio::use_awaitable);
  const auto ex = co_await boost::asio::this_coro::executor;
  auto ch = std::make_shared<Channel>(ex, 1);  // room for the late result: try_send never waits
  boost::asio::co_spawn(ex, detail::deliver_to(std::move(op), ch), boost::asio::detached);
  boost::asio::steady_timer timer(ex, limit);
  auto r = co_await (ch->async_receive(kAwait) || timer.async_wait(kAwait));
  if (r.index() == 0) {
    auto [ec, value] = std::get<0>(std::move(r));
    if (!ec) co_return std::move(value);
  }
  co_return std::nullopt;
}

}  // namespace coibridge::core
