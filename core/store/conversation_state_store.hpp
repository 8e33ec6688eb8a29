#pragma once
// What a connector keeps about its conversations beyond the events: its own opaque state (a
// mail group's members and name), the description the admin API's conversation directory
// shows, a key to find a conversation by what it is, and merging two conversations that
// turned out to be one.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/model/result.hpp"

namespace coibridge::core {

// A conversation as its connector describes it (GET /api/v1/conversations).
struct ConversationInfo {
  std::string kind;  // "group", "direct", or empty when unknown
  std::string title;
  std::vector<std::string> members;  // ids on the connector's network
  // Finds the conversation by what it is rather than by its id (find_by_key); empty: none.
  std::string match_key;
};

class ConversationStateStore {
 public:
  virtual ~ConversationStateStore() = default;
  virtual boost::asio::awaitable<Result<std::optional<nlohmann::json>>> load(
      std::string connector, std::string conversation) = 0;
  // Saves the state and, when given, the description, in one transaction. The core stores
  // the state and never reads it.
  virtual boost::asio::awaitable<Status> save(
      std::string connector, std::string conversation, nlohmann::json state,
      std::optional<ConversationInfo> info = std::nullopt) = 0;
  // What the connector last said the conversation is (save's `info`), if it said anything.
  virtual boost::asio::awaitable<Result<std::optional<ConversationInfo>>> describe(
      std::string connector, std::string conversation) = 0;
  // Conversations of this connector whose description has this match key, oldest first;
  // merged ones are left out.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> find_by_key(
      std::string connector, std::string match_key) = 0;
  // `a` and `b` are one conversation. In one transaction, exactly once: the survivor is the
  // linked one, else the one seen first; the other's link (when only it was linked), queued
  // deliveries and counts move to the survivor, and from then on its id resolves to the
  // survivor (MessageMap::conversation_of, linking it through the admin API). A repeat, or a
  // merge of an id already merged, changes nothing and names the survivor. kConflict when
  // both are linked in different bridges: nothing changes. The connector's opaque state is
  // its own to merge. Returns the survivor.
  virtual boost::asio::awaitable<Result<std::string>> merge(std::string connector, std::string a,
                                                            std::string b) = 0;
};

}  // namespace coibridge::core
