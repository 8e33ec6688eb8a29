// Step deadlines and the host name lookup with a deadline.

#include "core/net/timeout.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>

#include "core/net/resolve.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

asio::awaitable<int> answer_soon() {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return 42;
}

// Stands for a lookup stuck in getaddrinfo: it ignores cancellation and ends only when the
// test lets it (after the caller has given up on it).
asio::awaitable<int> ignore_cancellation(asio::steady_timer& release) {
  co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
  co_await release.async_wait(kAwait);
  co_return 7;
}

TEST(WithTimeout, ResultWithinTheLimit) {
  auto r = testing::run_awaitable(with_timeout(answer_soon(), 10s));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
}

// The operation would take an hour: an answer at all means the limit ended it.
TEST(WithTimeout, CancelsAnOperationThatTakesTooLong) {
  auto r = testing::run_awaitable(
      []() -> asio::awaitable<std::optional<std::tuple<boost::system::error_code>>> {
        asio::steady_timer slow(co_await asio::this_coro::executor, 1h);
        co_return co_await with_timeout(slow.async_wait(kAwait), 20ms);
      }());
  EXPECT_FALSE(r);
}

TEST(AbandonAfter, ResultWithinTheLimit) {
  auto r = testing::run_awaitable(abandon_after(answer_soon(), 10s));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
}

TEST(AbandonAfter, DoesNotWaitForAnOperationThatNeverEnds) {
  asio::io_context io;
  asio::steady_timer release(io, 1h);
  std::optional<std::optional<int>> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        got = co_await abandon_after(ignore_cancellation(release), 20ms);
        release.cancel();  // now the stuck operation may end, so io.run() returns
      },
      asio::detached);
  io.run();
  // Before the hour was up: the stuck operation was left, not waited for.
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
}

TEST(ResolveWithTimeout, AddressLiteral) {
  asio::io_context io;
  Result<asio::ip::tcp::resolver::results_type> r;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        r = co_await resolve_with_timeout(io.get_executor(), "127.0.0.1", "993", 10s);
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_FALSE(r->empty());
  EXPECT_EQ(r->begin()->endpoint().port(), 993);
}

TEST(ResolveWithTimeout, FailureSaysWhichHost) {
  asio::io_context io;
  Result<asio::ip::tcp::resolver::results_type> r;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // A service name that does not exist fails locally, without asking any DNS server.
        r = co_await resolve_with_timeout(io.get_executor(), "127.0.0.1", "no-such-service", 10s);
      },
      asio::detached);
  io.run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace coibridge::core
