#pragma once
// The bot's commands in a management room (a room the bot is in that no bridge links):
// help, status, dm, link and unlink, each allowed from a permission level
// (connectors.matrix[].permissions). Holds no state of its own.

#include <boost/asio/awaitable.hpp>
#include <string>

#include "connectors/matrix/bot_rooms.hpp"
#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/matrix_config.hpp"
#include "connectors/matrix/permissions.hpp"
#include "connectors/matrix/portals.hpp"
#include "connectors/matrix/runtime.hpp"

namespace coibridge::connectors::matrix {

class BotCommands {
 public:
  BotCommands(const MatrixConnectorConfig& config, ClientApi& api, BotRooms& bot, Portals& portals,
              const Runtime& runtime)
      : config_(config), api_(api), bot_(bot), portals_(portals), runtime_(runtime) {}

  // `text` from `who` in the management room `room`: the bot answers there. Text that is no
  // command (chat in a room waiting to be linked) gets no answer.
  boost::asio::awaitable<void> run(const std::string& room, const core::ActorRef& who,
                                   const std::string& text);

 private:
  PermissionLevel permission_of(const std::string& user_id) const;
  std::string help(const core::ActorRef& who) const;
  // `dm <address>`, `link <room> <connector>:<conversation>`, `unlink <room>`: the answer.
  boost::asio::awaitable<std::string> open_dm(const core::ActorRef& who,
                                              const std::string& address);
  boost::asio::awaitable<std::string> link(const core::ActorRef& who, const std::string& args);
  boost::asio::awaitable<std::string> unlink(const core::ActorRef& who, const std::string& args);

  const MatrixConnectorConfig& config_;
  ClientApi& api_;
  BotRooms& bot_;
  Portals& portals_;
  const Runtime& runtime_;
};

}  // namespace coibridge::connectors::matrix
