#include "connectors/matrix/ghost_directory.hpp"

#include <spdlog/spdlog.h>

#include "core/model/media_type.hpp"

namespace coibridge::connectors::matrix {

using boost::asio::awaitable;

awaitable<core::Result<std::string>> GhostDirectory::ready(const core::ActorRef& who) {
  auto id = ghost_user_id(who.connector, who.remote_id, naming_);
  if (!id) co_return id.error();
  const std::string ghost = *id;
  const std::string name = who.display_name.empty() ? who.remote_id : who.display_name;
  // Avatar locations are content addresses: a changed picture is a changed key.
  const std::string ready_key = ghost + "\n" + name + "\n" + who.avatar;
  {
    std::lock_guard lock(mu_);
    if (ready_.contains(ready_key)) co_return ghost;
  }
  const auto parts = split_id(ghost);
  if (!parts) co_return core::Error::internal("ghost id " + ghost + " does not split");
  // Application Service API, "Server admin style permissions": the appservice registers the
  // users of its namespace itself.
  if (auto st = co_await api_.register_user(parts->localpart); !st) co_return st.error();
  if (auto st = co_await api_.set_displayname(ghost, name); !st) co_return st.error();
  if (core::is_blob_location(who.avatar)) {
    // A picture that cannot be read (purged) leaves the ghost as it was; the message still goes.
    auto blob = co_await blobs_.get(who.avatar);
    if (blob) {
      const std::string type =
          blob->content_type.empty() ? core::sniff_image_type(blob->data) : blob->content_type;
      auto mxc = co_await api_.upload_media(type, "avatar", std::move(blob->data), ghost);
      if (!mxc) co_return mxc.error();
      if (auto st = co_await api_.set_avatar_url(ghost, *mxc); !st) co_return st.error();
    } else if (blob.error().kind == core::ErrorKind::kUnavailable) {
      co_return blob.error();
    } else {
      spdlog::info("matrix {}: avatar of {} not set: {}", connector_, ghost, blob.error().message);
    }
  }
  if (puppets_ != nullptr) {
    // Not remembering it only costs the same requests again.
    auto saved = co_await puppets_->save_profile(connector_, ghost, name + "\n" + who.avatar);
    if (!saved)
      spdlog::warn("matrix {}: ghost {} not recorded: {}", connector_, ghost,
                   saved.error().message);
  }
  std::lock_guard lock(mu_);
  ready_.insert(ready_key);
  co_return ghost;
}

awaitable<core::Status> GhostDirectory::restore() {
  if (puppets_ == nullptr) co_return core::Status{};
  auto state = co_await puppets_->load(connector_);
  if (!state) co_return state.error();
  std::lock_guard lock(mu_);
  for (const auto& profile : state->profiles)
    ready_.insert(profile.puppet_id + "\n" + profile.profile);
  for (const auto& membership : state->memberships) {
    in_.emplace(membership.puppet_id, membership.conversation);
  }
  co_return core::Status{};
}

awaitable<core::Result<std::string>> GhostDirectory::enter(const core::ActorRef& who,
                                                           const std::string& room) {
  auto ready_ghost = co_await ready(who);
  if (!ready_ghost) co_return ready_ghost.error();
  const std::string ghost = *ready_ghost;
  {
    std::lock_guard lock(mu_);
    if (in_.contains({ghost, room})) co_return ghost;
  }
  auto joined_room = co_await api_.join_room(room, ghost);
  if (!joined_room && ClientApi::errcode_of(joined_room.error()) == "M_FORBIDDEN") {
    // Not invited (client-server API, "Joining rooms": an invite-only room needs one).
    if (auto st = co_await api_.invite(room, ghost, ""); !st) co_return st.error();
    joined_room = co_await api_.join_room(room, ghost);
  }
  if (!joined_room) co_return joined_room.error();
  co_await joined(ghost, room);
  co_return ghost;
}

awaitable<void> GhostDirectory::joined(const std::string& ghost, const std::string& room) {
  {
    std::lock_guard lock(mu_);
    if (!in_.emplace(ghost, room).second) co_return;
  }
  if (puppets_ == nullptr) co_return;
  auto saved = co_await puppets_->set_member(connector_, ghost, room, true);
  if (!saved) {
    spdlog::warn("matrix {}: {} in {} not recorded: {}", connector_, ghost, room,
                 saved.error().message);
  }
}

awaitable<void> GhostDirectory::left(const std::string& ghost, const std::string& room) {
  {
    std::lock_guard lock(mu_);
    in_.erase({ghost, room});
  }
  if (puppets_ == nullptr) co_return;
  auto saved = co_await puppets_->set_member(connector_, ghost, room, false);
  if (!saved) {
    spdlog::warn("matrix {}: {} leaving {} not recorded: {}", connector_, ghost, room,
                 saved.error().message);
  }
}

std::vector<std::pair<std::string, std::string>> GhostDirectory::rooms() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [ghost, room] : in_) {
    bool known = false;
    for (const auto& seen : out) known = known || seen.first == room;
    if (!known) out.emplace_back(room, ghost);
  }
  return out;
}

}  // namespace coibridge::connectors::matrix
