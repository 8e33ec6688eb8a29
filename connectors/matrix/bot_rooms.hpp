#pragma once
// The rooms the bot is in. Where no bridge links one, it is a management room and a text in
// it is a command (BotCommands). The set grows as the bot joins rooms (an invite, `link`, a
// portal made on an alias query) and is read for every inbound message, from any thread.

#include <boost/asio/awaitable.hpp>
#include <mutex>
#include <set>
#include <string>

#include "connectors/matrix/client_api.hpp"

namespace coibridge::connectors::matrix {

class BotRooms {
 public:
  BotRooms(ClientApi& api, std::string connector) : api_(api), connector_(std::move(connector)) {}

  bool contains(const std::string& room) const;
  void add(const std::string& room);
  // Says `text` in `room` as the bot; a failure is logged, not returned.
  boost::asio::awaitable<void> say(std::string room, std::string text);

 private:
  ClientApi& api_;
  const std::string connector_;
  mutable std::mutex mu_;
  std::set<std::string> rooms_;
};

}  // namespace coibridge::connectors::matrix
