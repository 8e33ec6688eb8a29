#pragma once
// The ghosts (matrix_ids.hpp) that stand for people of other networks: made on first use,
// named and pictured as the person, and joined to the rooms they post in. What was done once
// is remembered, in the puppet store too, so that a delivery costs one request, not five, and
// a restart does not forget the rooms only a ghost is in (direct chats, whose history is read
// again after missed transactions). Safe to use from any thread; two callers may both do the
// same idempotent requests.

#include <boost/asio/awaitable.hpp>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/matrix_ids.hpp"
#include "core/model/event.hpp"
#include "core/model/result.hpp"
#include "core/store/blob_store.hpp"
#include "core/store/puppet_store.hpp"

namespace coibridge::connectors::matrix {

class GhostDirectory {
 public:
  // `puppets` may be null (tests): then nothing outlives the process.
  GhostDirectory(ClientApi& api, core::BlobStore& blobs, core::PuppetStore* puppets,
                 GhostNaming naming, std::string connector)
      : api_(api),
        blobs_(blobs),
        puppets_(puppets),
        naming_(std::move(naming)),
        connector_(std::move(connector)) {}

  // What the puppet store remembers of earlier runs.
  boost::asio::awaitable<core::Status> restore();

  // The ghost of `who` exists and shows their name (and picture, a blob location); its id.
  boost::asio::awaitable<core::Result<std::string>> ready(const core::ActorRef& who);
  // ready(), and the ghost is in `room`: where the room needs an invite, the bot (a member of
  // every bridged room) invites it. The ghost's id.
  boost::asio::awaitable<core::Result<std::string>> enter(const core::ActorRef& who,
                                                          const std::string& room);
  // A ghost joined or left a room other than through enter() (a direct chat it opened or
  // was invited to, a member who left on the other side).
  // A failure to record it is logged: the ghost is in the room either way.
  boost::asio::awaitable<void> joined(const std::string& ghost, const std::string& room);
  boost::asio::awaitable<void> left(const std::string& ghost, const std::string& room);
  // The rooms ghosts are in, each with a ghost in it: (room, ghost) in ghost order.
  std::vector<std::pair<std::string, std::string>> rooms() const;

 private:
  ClientApi& api_;
  core::BlobStore& blobs_;
  core::PuppetStore* puppets_;
  const GhostNaming naming_;
  const std::string connector_;
  mutable std::mutex mu_;
  std::set<std::string> ready_;                       // "<user id>\n<name>\n<avatar>"
  std::set<std::pair<std::string, std::string>> in_;  // (ghost, room)
};

}  // namespace coibridge::connectors::matrix
