#include "connectors/matrix/user_names.hpp"

#include "connectors/matrix/json_fields.hpp"

namespace coibridge::connectors::matrix {
namespace {
// Bounds memory against a homeserver full of users; later ones show as their user id.
constexpr std::size_t kMaxNames = 100000;
}  // namespace

using json_fields::text_or_empty;

std::optional<std::string> UserNames::of(std::string_view user_id) const {
  std::lock_guard lock(mu_);
  auto it = names_.find(user_id);
  if (it == names_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

boost::asio::awaitable<void> UserNames::learn(const nlohmann::json& event) {
  const std::string sender = text_or_empty(event, "sender");
  if (text_or_empty(event, "type") == "m.room.member" && event.contains("content") &&
      event["content"].is_object()) {
    const auto& content = event["content"];
    if (text_or_empty(content, "membership") == "join" && content.contains("displayname") &&
        content["displayname"].is_string()) {
      std::lock_guard lock(mu_);
      const std::string member = text_or_empty(event, "state_key");
      if (names_.size() < kMaxNames)
        names_[member.empty() ? sender : member] = content["displayname"].get<std::string>();
    }
  }
  if (!is_valid_user_id(sender) || in_ghost_namespace(sender, naming_)) co_return;
  {
    std::lock_guard lock(mu_);
    if (names_.contains(sender) || names_.size() >= kMaxNames) co_return;
  }
  auto profile = co_await api_.get_displayname(sender);
  std::lock_guard lock(mu_);
  names_[sender] = profile ? *profile : std::string();  // also "" (no name): asked once
}

}  // namespace coibridge::connectors::matrix
