#pragma once
// Bridges and their links: the mappings an admin manages through the REST API.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/model/event.hpp"
#include "core/model/result.hpp"

namespace coibridge::core {

struct Bridge {
  std::int64_t id = 0;
  std::string name;
  Timestamp created_at{};
  Timestamp updated_at{};
};

struct Link {
  std::int64_t id = 0;
  std::int64_t bridge_id = 0;
  std::string connector;
  std::string remote_id;
  nlohmann::json options = nlohmann::json::object();
  Timestamp created_at{};
};

// A conversation the bridge has seen (the directory behind GET /api/v1/conversations).
struct ConversationSummary {
  std::int64_t id = 0;
  std::string connector;
  std::string remote_id;
  std::string kind;  // "group", "direct", or empty when the connector did not say
  std::string title;
  std::vector<std::string> members;
  std::int64_t messages = 0;         // chat messages published from it
  std::int64_t unlinked_events = 0;  // events that found no link
  std::optional<std::int64_t> bridge_id;
  Timestamp first_seen{};
  Timestamp last_activity{};
};

struct ConversationFilter {
  std::string connector;       // empty: every connector
  std::optional<bool> linked;  // unset: both
  std::string query;           // empty, or a case-insensitive part of the title or id
  std::int64_t after = 0;
  int limit = 100;
  // Only conversations with events that crossed nowhere (unlinked_events > 0).
  bool with_unlinked_events = false;
};

struct ConversationPage {
  std::vector<ConversationSummary> items;
  std::optional<std::int64_t> next_after;
};

struct BridgePage {
  std::vector<Bridge> items;
  std::optional<std::int64_t> next_after;  // pass as `after` to get the next page
};

// All methods run their SQL on the database executor and resume the caller on its own
// executor. Names are unique (kConflict); (connector, remote_id) of a link is unique across
// all bridges (kConflict); unknown ids give kNotFound.
class BridgeStore {
 public:
  virtual ~BridgeStore() = default;
  virtual boost::asio::awaitable<Result<Bridge>> create_bridge(std::string name,
                                                               std::string actor) = 0;
  // Bridges with id > after, ascending by id, at most limit of them.
  virtual boost::asio::awaitable<Result<BridgePage>> list_bridges(std::int64_t after,
                                                                  int limit) = 0;
  virtual boost::asio::awaitable<Result<Bridge>> get_bridge(std::int64_t id) = 0;
  virtual boost::asio::awaitable<Result<Bridge>> rename_bridge(std::int64_t id, std::string name,
                                                               std::string actor) = 0;
  // Deletes the bridge and its links; pending outbox rows of the bridge are dead-lettered.
  virtual boost::asio::awaitable<Status> delete_bridge(std::int64_t id, std::string actor) = 0;

  // A conversation merged into another is linked as its survivor (Link::remote_id says which).
  virtual boost::asio::awaitable<Result<Link>> add_link(std::int64_t bridge_id,
                                                        std::string connector,
                                                        std::string remote_id,
                                                        nlohmann::json options,
                                                        std::string actor) = 0;
  virtual boost::asio::awaitable<Result<std::vector<Link>>> list_links(std::int64_t bridge_id) = 0;
  // The bridge a conversation is linked into, if any.
  virtual boost::asio::awaitable<Result<std::optional<std::int64_t>>> bridge_of(
      std::string connector, std::string remote_id) = 0;
  virtual boost::asio::awaitable<Status> remove_link(std::int64_t bridge_id, std::int64_t link_id,
                                                     std::string actor) = 0;
  // Conversations with id > filter.after that match the filter, ascending by id; merged ones
  // are left out (their survivor stands for them).
  virtual boost::asio::awaitable<Result<ConversationPage>> list_conversations(
      ConversationFilter filter) = 0;
};

}  // namespace coibridge::core
