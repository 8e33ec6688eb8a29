#pragma once
// The puppets a connector keeps for people of other networks (a Matrix ghost for a mail
// contact): what it last made each show, and the conversations each is in. Kept so that a
// restart neither redoes that work for every puppet nor forgets the conversations only a
// puppet is in (a direct chat whose history is read again after missed pushes).

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "core/model/result.hpp"

namespace coibridge::core {

struct PuppetProfile {
  std::string puppet_id;
  std::string profile;  // the connector's own words for what the puppet shows
};

struct PuppetMembership {
  std::string puppet_id;
  std::string conversation;
  bool operator==(const PuppetMembership&) const = default;
};

struct PuppetState {
  std::vector<PuppetProfile> profiles;
  std::vector<PuppetMembership> memberships;
};

class PuppetStore {
 public:
  virtual ~PuppetStore() = default;
  virtual boost::asio::awaitable<Result<PuppetState>> load(std::string connector) = 0;
  virtual boost::asio::awaitable<Status> save_profile(std::string connector, std::string puppet_id,
                                                      std::string profile) = 0;
  // The puppet is in the conversation (`member`), or no longer. Idempotent.
  virtual boost::asio::awaitable<Status> set_member(std::string connector, std::string puppet_id,
                                                    std::string conversation, bool member) = 0;
};

}  // namespace coibridge::core
