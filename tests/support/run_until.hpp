#pragma once
// Drives an io_context until a condition holds or a deadline passes (tests only).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace coibridge::testing {

inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace coibridge::testing
