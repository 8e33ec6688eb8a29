#pragma once
// Runs one awaitable to completion on a private io_context, for tests of coroutine APIs.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace coibridge::testing {

template <class T>
T run_awaitable(boost::asio::awaitable<T> aw) {
  boost::asio::io_context io;
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T value) {
    if (e) {
      error = e;
    } else {
      out.emplace(std::move(value));
    }
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

}  // namespace coibridge::testing
