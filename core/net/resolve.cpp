#include "core/net/resolve.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <tuple>

#include "core/net/timeout.hpp"

namespace coibridge::core {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Lookup = std::tuple<boost::system::error_code, tcp::resolver::results_type>;

// Owns its resolver and arguments: it may outlive the caller that gave up on it.
asio::awaitable<Lookup> lookup(asio::any_io_executor ex, std::string host, std::string port) {
  tcp::resolver resolver(ex);
  co_return co_await resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
}

std::string describe(std::chrono::steady_clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? fmt::format("{} s", ms / 1000) : fmt::format("{} ms", ms);
}

}  // namespace

asio::awaitable<Result<tcp::resolver::results_type>> resolve_with_timeout(
    asio::any_io_executor ex, std::string host, std::string port,
    std::chrono::steady_clock::duration timeout) {
  auto done = co_await abandon_after(lookup(ex, host, port), timeout);
  if (!done) {
    co_return Error::unavailable(
        fmt::format("DNS lookup of {} timed out after {}", host, describe(timeout)));
  }
  auto& [ec, endpoints] = *done;
  if (ec) co_return Error::unavailable(fmt::format("cannot resolve {}: {}", host, ec.message()));
  co_return std::move(endpoints);
}

}  // namespace coibridge::core
