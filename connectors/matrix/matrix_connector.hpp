#pragma once
// The Matrix connector: coi-bridge as an application service of one homeserver. The
// homeserver pushes room events in transactions (PUT /_matrix/app/v1/transactions/{txnId});
// the connector publishes them and answers 200 only after they are committed. Deliveries
// go out through the client-server API as ghosts (@<prefix><escaped id>:<server>), with a
// transaction id derived from the event id so a retried delivery cannot post twice.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/matrix_config.hpp"
#include "connectors/matrix/matrix_event_mapping.hpp"
#include "connectors/matrix/permissions.hpp"
#include "connectors/matrix/registration.hpp"
#include "core/connector/connector.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/blob_store.hpp"
#include "core/store/conversation_state_store.hpp"
#include "core/store/inbound_ledger.hpp"

namespace coibridge::connectors::matrix {

class MatrixConnector final : public core::Connector {
 public:
  struct Stores {
    core::BlobStore& blobs;
    core::InboundLedger& ledger;
    // The mail groups the dm_connector knows (portal rooms by alias are made for those only).
    core::ConversationStateStore* conversations = nullptr;
  };
  MatrixConnector(boost::asio::any_io_executor executor, MatrixConnectorConfig config,
                  Stores stores, core::MetricsRegistry& metrics);

  std::string_view name() const override { return config_.name; }
  core::Capabilities capabilities() const override;
  boost::asio::awaitable<core::Status> preflight() override;
  boost::asio::awaitable<void> run(core::ConnectorContext& ctx) override;
  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> deliver(
      const core::Delivery& delivery) override;
  bool is_own_actor(const core::ActorRef& actor) const override;
  boost::asio::awaitable<core::Result<std::string>> open_direct_chat(std::string person,
                                                                     core::ActorRef other) override;
  boost::asio::awaitable<core::Status> linked(core::PortalLink link) override;
  boost::asio::awaitable<core::Status> unlinked(core::PortalLink link) override;
  core::HttpClaim claims_http(const core::HttpRequest& request) const override;
  boost::asio::awaitable<core::HttpResponse> handle_http(const core::HttpRequest& request) override;

 private:
  boost::asio::awaitable<core::HttpResponse> on_transaction(const core::HttpRequest& request,
                                                            std::string txn_id);
  boost::asio::awaitable<core::HttpResponse> on_user_query(std::string user_id);
  // A room alias in our namespace was asked for: the portal room of a known mail group is
  // made on the spot (connectors.matrix[].public_portals).
  boost::asio::awaitable<core::HttpResponse> on_room_query(std::string alias);
  // One room event of a transaction (or of the history read after a gap): published, parked
  // as a dead letter, or left alone; false when the transaction must be retried.
  // Events of one transaction waiting to be published together, each with its raw JSON
  // (owned by the caller, for dead letters) and, for a text in a bot room, the command.
  struct Inbound {
    std::vector<core::BatchEvent> events;
    std::vector<const nlohmann::json*> raw;
    std::vector<std::optional<std::string>> commands;
  };
  boost::asio::awaitable<bool> take_room_event(const nlohmann::json& raw, Inbound& inbound);
  // Reads the recent history of the rooms we are in after transactions went missing.
  boost::asio::awaitable<bool> backfill();
  static std::optional<std::uint64_t> transaction_number(std::string_view txn_id);
  void queue(Inbound& inbound, core::Event event, const nlohmann::json& raw);
  // Publishes what is queued in one transaction, runs the commands of unlinked bot rooms,
  // parks refused events as dead letters; false when the transaction must be retried.
  boost::asio::awaitable<bool> flush(Inbound& inbound);
  boost::asio::awaitable<core::Status> fetch_media(core::Event& event);
  boost::asio::awaitable<core::Status> ensure_ghost_in_room(const core::ActorRef& who,
                                                            const std::string& room_id,
                                                            std::string& ghost);
  // The ghost exists and shows the person's name; its user id.
  boost::asio::awaitable<core::Result<std::string>> ready_ghost(const core::ActorRef& who);
  // A user of ours was invited: the bot joins (a room to bridge), a ghost joins and links
  // the room as a direct chat with the person it stands for.
  boost::asio::awaitable<core::Status> on_invite(const nlohmann::json& event);
  boost::asio::awaitable<core::Status> upload_attachments(core::Event& event,
                                                          const std::string& ghost);
  // Member changes and renames of the mail side: ghosts join and leave, the room is renamed.
  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> manage_room(
      const core::Event& event, const std::string& room, const std::string& ghost);
  std::string bot_user_id() const;

  MatrixConnectorConfig config_;
  Stores stores_;
  core::MetricsRegistry& metrics_;
  Registration registration_;
  MappingContext mapping_;
  std::unique_ptr<ClientApi> api_;
  boost::asio::any_io_executor executor_;
  core::EventSink* sink_ = nullptr;       // set while run() is active
  core::MessageMap* messages_ = nullptr;  // likewise
  core::DirectChats* direct_chats_ = nullptr;
  core::PortalLinks* portal_links_ = nullptr;
  std::uint64_t last_transaction_ = 0;  // the highest numeric transaction id seen since start
  std::set<std::string> bot_rooms_;     // rooms the bot joined since start
  bool is_bot_room(const std::string& room);
  boost::asio::awaitable<void> run_command(const std::string& room, const core::ActorRef& who,
                                           const std::string& text);
  boost::asio::awaitable<void> bot_says(const std::string& room, const std::string& text);
  // `dm <address>` of the management room; the answer to post.
  boost::asio::awaitable<std::string> open_dm_command(const core::ActorRef& who,
                                                      const std::string& address);
  // `link <room> <connector>:<conversation>` and `unlink <room>`; the answer to post.
  boost::asio::awaitable<std::string> link_command(const core::ActorRef& who,
                                                   const std::string& args);
  boost::asio::awaitable<std::string> unlink_command(const core::ActorRef& who,
                                                     const std::string& args);
  // A room id, or the room an alias names (client-server API, "Room aliases").
  boost::asio::awaitable<core::Result<std::string>> resolve_room(const std::string& id_or_alias);
  PermissionLevel permission_of(const std::string& user_id) const;
  // MSC2346 bridge info (m.bridge and the unstable uk.half-shot.bridge, which clients still
  // read) as `as_user` in `room`; empty content withdraws it.
  boost::asio::awaitable<core::Status> put_bridge_info(const std::string& room,
                                                       const std::string& state_key,
                                                       const nlohmann::json& content,
                                                       const std::string& as_user);
  nlohmann::json bridge_info(const std::string& creator, const std::string& channel_id,
                             const std::string& channel_name) const;

  std::mutex mu_;
  std::set<std::string> ghosts_ready_;  // "<user id>\n<display name>" registered and named
  std::set<std::string> joined_;        // "<user id>\n<room id>"
  // Who types in which room, by the last m.typing of the room (ephemeral: not kept across
  // restarts; a stop missed then ends with the typing notice's timeout on the other side).
  std::map<std::string, std::set<std::string>> typing_;
  // Display names of Matrix users (from their profile and m.room.member events), so bridged
  // messages carry the name people know, not the user id.
  std::map<std::string, std::string> display_names_;
  boost::asio::awaitable<void> learn_display_name(const nlohmann::json& event);
};

}  // namespace coibridge::connectors::matrix
