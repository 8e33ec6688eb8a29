#pragma once
// The Matrix connector: coi-bridge as an application service of one homeserver. The
// homeserver pushes room events in transactions (PUT /_matrix/app/v1/transactions/{txnId});
// the connector publishes them and answers 200 only after they are committed. Deliveries
// go out through the client-server API as ghosts (@<prefix><escaped id>:<server>), with a
// transaction id derived from the event id so a retried delivery cannot post twice.
//
// A composition of parts, each with its own state and lock: the appservice endpoint
// (appservice_endpoint.hpp) and what transactions carry (inbound_events.hpp), the bot's
// management commands (bot_commands.hpp, bot_rooms.hpp), the ghosts (ghost_directory.hpp),
// portal rooms and bridge info (portals.hpp), deliveries (delivery.hpp) and the names of
// Matrix users (user_names.hpp).

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/matrix_config.hpp"
#include "connectors/matrix/matrix_event_mapping.hpp"
#include "connectors/matrix/registration.hpp"
#include "connectors/matrix/runtime.hpp"
#include "core/connector/connector.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/blob_store.hpp"
#include "core/store/conversation_state_store.hpp"
#include "core/store/inbound_ledger.hpp"
#include "core/store/puppet_store.hpp"

namespace coibridge::connectors::matrix {

class MatrixConnector final : public core::Connector {
 public:
  struct Stores {
    core::BlobStore& blobs;
    core::InboundLedger& ledger;
    // The mail groups the dm_connector knows (portal rooms by alias are made for those only).
    core::ConversationStateStore* conversations = nullptr;
    core::PuppetStore* puppets = nullptr;  // ghosts and their rooms across restarts
  };
  // preflight() loads the registration file named in `config` and reaches the homeserver
  // over HTTP.
  MatrixConnector(boost::asio::any_io_executor executor, MatrixConnectorConfig config,
                  Stores stores, core::MetricsRegistry& metrics);
  // With the registration and the client-server API given (a fake homeserver in tests):
  // ready to serve at once; preflight() only pings through `api` and registers the bot.
  MatrixConnector(boost::asio::any_io_executor executor, MatrixConnectorConfig config,
                  Stores stores, core::MetricsRegistry& metrics, Registration registration,
                  std::shared_ptr<ClientApi> api);
  ~MatrixConnector() override;

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
  std::size_t http_body_limit() const override { return config_.max_transaction_bytes; }
  boost::asio::awaitable<core::HttpResponse> handle_http(const core::HttpRequest& request) override;

 private:
  struct Parts;
  // Builds the parts once the registration and the API exist.
  void assemble();
  // Checks the registration with the homeserver (v1.7, "Pinging"), waiting for it to come up.
  boost::asio::awaitable<core::Status> ping_homeserver();

  MatrixConnectorConfig config_;
  Stores stores_;
  core::MetricsRegistry& metrics_;
  boost::asio::any_io_executor executor_;
  Registration registration_;
  MappingContext mapping_;
  Runtime runtime_;
  std::shared_ptr<ClientApi> api_;
  std::unique_ptr<Parts> parts_;  // set by preflight() (or the second constructor)
};

}  // namespace coibridge::connectors::matrix
