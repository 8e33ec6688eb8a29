#include "connectors/matrix/bot_rooms.hpp"

#include <spdlog/spdlog.h>

#include "core/model/ids.hpp"

namespace coibridge::connectors::matrix {

bool BotRooms::contains(const std::string& room) const {
  std::lock_guard lock(mu_);
  return rooms_.contains(room);
}

void BotRooms::add(const std::string& room) {
  std::lock_guard lock(mu_);
  rooms_.insert(room);
}

boost::asio::awaitable<void> BotRooms::say(std::string room, std::string text) {
  // m.notice: bots answer with notices so that other bots do not answer them (client-server
  // API, "m.notice"). Each answer is new, so its transaction id is too.
  nlohmann::json content{{"msgtype", "m.notice"}, {"body", text}};
  const std::string txn = "coi.cmd." + core::new_event_id().value;
  auto r = co_await api_.send_event(room, "m.room.message", txn, content, "", std::nullopt);
  if (!r) spdlog::warn("matrix {}: cannot answer in {}: {}", connector_, room, r.error().message);
}

}  // namespace coibridge::connectors::matrix
