#include "connectors/matrix/matrix_connector.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "connectors/matrix/appservice_endpoint.hpp"
#include "connectors/matrix/bot_commands.hpp"
#include "connectors/matrix/bot_rooms.hpp"
#include "connectors/matrix/delivery.hpp"
#include "connectors/matrix/ghost_directory.hpp"
#include "connectors/matrix/http_client_api.hpp"
#include "connectors/matrix/inbound_events.hpp"
#include "connectors/matrix/portals.hpp"
#include "connectors/matrix/user_names.hpp"
#include "core/net/backoff.hpp"

namespace coibridge::connectors::matrix {
namespace {

namespace asio = boost::asio;
using asio::awaitable;

// How long start-up keeps trying to reach a homeserver that is not up yet.
constexpr std::chrono::seconds kPreflightPatience{60};
// Pings the homeserver answers with M_CONNECTION_FAILED before start-up gives up on the URL.
constexpr int kUnreachablePings = 3;

core::Error not_started() { return core::Error::unavailable("matrix connector not started"); }

}  // namespace

// Declared in dependency order: each part is built from those before it.
struct MatrixConnector::Parts {
  explicit Parts(MatrixConnector& c)
      : names(*c.api_, c.mapping_.naming),
        ghosts(*c.api_, c.stores_.blobs, c.stores_.puppets, c.mapping_.naming, c.config_.name),
        bot(*c.api_, c.config_.name),
        portals(c.config_, c.mapping_, *c.api_, ghosts, bot, c.runtime_, c.stores_.conversations),
        commands(c.config_, *c.api_, bot, portals, c.runtime_),
        delivery(c.mapping_, *c.api_, ghosts, c.stores_.blobs, c.runtime_),
        inbound(c.mapping_,
                InboundEvents::Parts{*c.api_, names, ghosts, bot, commands, portals,
                                     c.stores_.blobs, c.runtime_},
                c.metrics_.counter("coibridge_matrix_events_total",
                                   "Room and ephemeral events received",
                                   {{"connector", c.config_.name}})),
        endpoint(
            c.config_.name, c.registration_.hs_token, c.mapping_.naming, c.metrics_,
            AppserviceEndpoint::Parts{*c.api_, inbound, portals, c.stores_.ledger, c.runtime_}) {}

  UserNames names;
  GhostDirectory ghosts;
  BotRooms bot;
  Portals portals;
  BotCommands commands;
  RoomDelivery delivery;
  InboundEvents inbound;
  AppserviceEndpoint endpoint;
};

MatrixConnector::MatrixConnector(asio::any_io_executor executor, MatrixConnectorConfig config,
                                 Stores stores, core::MetricsRegistry& metrics)
    : config_(std::move(config)),
      stores_(stores),
      metrics_(metrics),
      executor_(std::move(executor)) {
  mapping_.connector = config_.name;
  mapping_.naming = GhostNaming{config_.server_name, config_.ghost_prefix, config_.dm_connector};
  mapping_.bot_localpart = config_.bot_localpart;
}

MatrixConnector::MatrixConnector(asio::any_io_executor executor, MatrixConnectorConfig config,
                                 Stores stores, core::MetricsRegistry& metrics,
                                 Registration registration, std::shared_ptr<ClientApi> api)
    : MatrixConnector(std::move(executor), std::move(config), stores, metrics) {
  registration_ = std::move(registration);
  api_ = std::move(api);
  assemble();
}

MatrixConnector::~MatrixConnector() = default;

void MatrixConnector::assemble() {
  parts_ = std::make_unique<Parts>(*this);
  mapping_.display_name = [names = &parts_->names](std::string_view user_id) {
    return names->of(user_id);
  };
}

core::Capabilities MatrixConnector::capabilities() const {
  return {
      core::Capability::kEdit,        core::Capability::kDelete,     core::Capability::kReaction,
      core::Capability::kReadReceipt, core::Capability::kTyping,     core::Capability::kReply,
      core::Capability::kAttachments, core::Capability::kMembership, core::Capability::kRename};
}

bool MatrixConnector::is_own_actor(const core::ActorRef& actor) const {
  const std::string bot = "@" + config_.bot_localpart + ":" + config_.server_name;
  return actor.connector == config_.name &&
         (actor.remote_id == bot || in_ghost_namespace(actor.remote_id, mapping_.naming));
}

awaitable<core::Status> MatrixConnector::preflight() {
  if (!api_) {
    auto loaded = load_registration(config_.registration);
    if (!loaded) co_return loaded.error();
    if (auto st = check_registration(*loaded, config_); !st) co_return st;
    registration_ = std::move(*loaded);
    core::HttpClientOptions options;
    options.ca_file = config_.ca_file;
    options.verify_peer = config_.verify_certificate;
    api_ = std::make_shared<HttpClientApi>(executor_, config_.homeserver_url,
                                           registration_.as_token, options);
  }
  // The endpoint exists before the ping: the homeserver answers it by calling us.
  if (!parts_) assemble();
  if (auto st = co_await parts_->ghosts.restore(); !st) co_return st;
  if (auto st = co_await ping_homeserver(); !st) co_return st;
  if (auto st = co_await api_->register_user(config_.bot_localpart); !st) co_return st;
  // The rooms the bot is in already: those no bridge links take commands.
  if (auto joined = co_await api_->joined_rooms("")) {
    for (const auto& room : *joined) parts_->bot.add(room);
  }
  co_return core::Status{};
}

awaitable<core::Status> MatrixConnector::ping_homeserver() {
  // The homeserver calls our /ping with the hs_token it holds (v1.7, "Pinging"), so one
  // round trip proves both tokens and the URL each side uses to reach the other.
  asio::steady_timer timer(executor_);
  const auto deadline = std::chrono::steady_clock::now() + kPreflightPatience;
  int unreachable = 0;
  for (int attempt = 1;; ++attempt) {
    auto r = co_await api_->ping(registration_.id, "coi-bridge-preflight");
    if (r) {
      spdlog::info("matrix {}: homeserver {} accepted the registration (ping {} ms)", config_.name,
                   config_.homeserver_url, *r);
      co_return core::Status{};
    }
    const auto code = ClientApi::errcode_of(r.error()).value_or("");
    if (code == "M_UNKNOWN_TOKEN" || code == "M_FORBIDDEN" || code == "M_MISSING_TOKEN") {
      co_return core::Error::invalid(
          "registration",
          "the homeserver does not accept the as_token of " + config_.registration +
              ": load this file in the homeserver's app_service_config_files and restart it (" +
              r.error().message + ")");
    }
    if (code == "M_BAD_STATUS") {
      co_return core::Error::invalid("registration",
                                     "the homeserver reached " + registration_.url +
                                         " but the bridge refused its hs_token: the "
                                         "homeserver holds a different hs_token than " +
                                         config_.registration + " (" + r.error().message + ")");
    }
    // A wrong URL fails every time; right after this bridge was killed, Synapse may fail the
    // first pings to its new listener too (502 "AlreadyCalled" from its old connection).
    if (code == "M_CONNECTION_FAILED" && ++unreachable >= kUnreachablePings) {
      co_return core::Error::invalid("url", "the homeserver cannot reach the bridge at " +
                                                registration_.url + " (" + r.error().message + ")");
    }
    if (code == "M_UNRECOGNIZED") {
      spdlog::warn(
          "matrix {}: the homeserver has no appservice ping; tokens are checked on first use",
          config_.name);
      co_return core::Status{};
    }
    if (code != "M_CONNECTION_FAILED" && (r.error().kind != core::ErrorKind::kUnavailable ||
                                          std::chrono::steady_clock::now() > deadline)) {
      co_return core::Error::unavailable("matrix " + config_.name + ": " + r.error().message);
    }
    spdlog::warn("matrix {}: homeserver not reachable yet ({}); retrying", config_.name,
                 r.error().message);
    timer.expires_after(core::backoff_delay(
        {std::chrono::milliseconds(500), std::chrono::seconds(5)}, attempt, 0.2));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

awaitable<void> MatrixConnector::run(core::ConnectorContext& ctx) {
  // Inbound traffic arrives over HTTP; run() only opens the door for it while it lasts.
  runtime_.messages = &ctx.messages;
  runtime_.direct_chats = ctx.direct_chats;
  runtime_.portal_links = ctx.portal_links;
  runtime_.sink = &ctx.sink;
  struct Close {
    core::EventSink*& sink;
    ~Close() { sink = nullptr; }
  } close{runtime_.sink};
  asio::steady_timer forever(ctx.executor, std::chrono::steady_clock::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);  // cancellation ends the connector
}

core::HttpClaim MatrixConnector::claims_http(const core::HttpRequest& request) const {
  return AppserviceEndpoint::claim(request, registration_.hs_token);
}

awaitable<core::HttpResponse> MatrixConnector::handle_http(const core::HttpRequest& request) {
  if (!parts_) {
    // Before the registration is loaded no token is right.
    auto refusal = AppserviceEndpoint::refused(request, "", metrics_, config_.name);
    co_return *refusal;
  }
  co_return co_await parts_->endpoint.handle(request);
}

awaitable<core::Result<std::string>> MatrixConnector::open_direct_chat(std::string person,
                                                                       core::ActorRef other) {
  if (!parts_) co_return not_started();
  co_return co_await parts_->portals.open_direct_chat(std::move(person), std::move(other));
}

awaitable<core::Status> MatrixConnector::linked(core::PortalLink link) {
  if (!parts_) co_return not_started();
  co_return co_await parts_->portals.linked(std::move(link));
}

awaitable<core::Status> MatrixConnector::unlinked(core::PortalLink link) {
  if (!parts_) co_return not_started();
  co_return co_await parts_->portals.unlinked(std::move(link));
}

awaitable<core::Result<core::RemoteMessageRef>> MatrixConnector::deliver(
    const core::Delivery& delivery) {
  if (!parts_) co_return not_started();
  co_return co_await parts_->delivery.deliver(delivery);
}

}  // namespace coibridge::connectors::matrix
