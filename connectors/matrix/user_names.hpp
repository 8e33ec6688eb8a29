#pragma once
// Display names of Matrix users (from m.room.member events and, for a sender not seen yet,
// their profile), so bridged messages carry the name people know, not the user id. Safe to
// use from any thread.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/matrix_ids.hpp"

namespace coibridge::connectors::matrix {

class UserNames {
 public:
  UserNames(ClientApi& api, GhostNaming naming) : api_(api), naming_(std::move(naming)) {}

  // The name known for `user_id`; nullopt when none is (or the user has none).
  std::optional<std::string> of(std::string_view user_id) const;
  // Learns from one room event: a member event's newest name; else asks the profile of a
  // sender not seen yet, once.
  boost::asio::awaitable<void> learn(const nlohmann::json& event);

 private:
  ClientApi& api_;
  const GhostNaming naming_;
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> names_;  // "" once asked without an answer
};

}  // namespace coibridge::connectors::matrix
