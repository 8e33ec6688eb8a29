#pragma once
// Host name lookup with a deadline, for every outgoing connection.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>

#include "core/model/result.hpp"

namespace coibridge::core {

// The addresses of host:port. The lookup runs on Asio's resolver thread; a lookup that has not
// finished after `timeout` (a DNS server that never answers keeps getaddrinfo busy for
// minutes) fails with kUnavailable saying so, and its late result is dropped. Other failures
// are kUnavailable too. Runs on the calling coroutine's executor; `ex` serves the lookup.
boost::asio::awaitable<Result<boost::asio::ip::tcp::resolver::results_type>> resolve_with_timeout(
    boost::asio::any_io_executor ex, std::string host, std::string port,
    std::chrono::steady_clock::duration timeout);

}  // namespace coibridge::core
