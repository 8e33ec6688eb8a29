#pragma once
// Push-based inbound batches already processed (a homeserver's transaction ids, Slack event
// ids). A peer that lost our answer sends the batch again; the ledger lets the connector
// answer at once instead of processing it twice.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "core/model/result.hpp"

namespace coibridge::core {

class InboundLedger {
 public:
  virtual ~InboundLedger() = default;
  virtual boost::asio::awaitable<Result<bool>> seen(std::string connector, std::string key) = 0;
  // Recorded after what the batch carried was committed; kept for `keep`, then forgotten.
  virtual boost::asio::awaitable<Status> remember(std::string connector, std::string key,
                                                  std::chrono::seconds keep) = 0;
};

}  // namespace coibridge::core
