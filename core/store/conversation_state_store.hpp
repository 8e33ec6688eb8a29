#pragma once
// Per-conversation state a connector keeps (a mail group's members and name). Opaque JSON:
// the core stores it and never reads it.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/model/result.hpp"

namespace coibridge::core {

class ConversationStateStore {
 public:
  virtual ~ConversationStateStore() = default;
  virtual boost::asio::awaitable<Result<std::optional<nlohmann::json>>> load(std::string connector,
                                                                             std::string conversation) = 0;
  virtual boost::asio::awaitable<Status> save(std::string connector, std::string conversation,
                                              nlohmann::json state) = 0;
};

}  // namespace coibridge::core
