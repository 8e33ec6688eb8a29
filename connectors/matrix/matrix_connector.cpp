#include "connectors/matrix/matrix_connector.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <deque>

#include "core/model/media_type.hpp"
#include "core/net/backoff.hpp"
#include "core/text/percent.hpp"

namespace coibridge::connectors::matrix {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

// How long a processed transaction id is remembered: far longer than a homeserver keeps
// retrying one (Synapse backs off to about 8.5 minutes between attempts).
constexpr std::chrono::hours kTransactionMemory{24 * 7};
// How long start-up keeps trying to reach a homeserver that is not up yet.
constexpr std::chrono::seconds kPreflightPatience{60};
// Pings the homeserver answers with M_CONNECTION_FAILED before start-up gives up on the URL.
constexpr int kUnreachablePings = 3;
// How far back a room's history is read when transactions went missing.
constexpr int kBackfillEvents = 100;
// MSC2346 bridge info, under its stable type and the unstable one clients still read.
constexpr std::array<const char*, 2> kBridgeInfoTypes{"m.bridge", "uk.half-shot.bridge"};

// A string field of untrusted JSON, "" when absent or not a string (json::value would throw).
std::string text_field(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

core::HttpResponse matrix_error(int status, const char* errcode, const std::string& message) {
  return core::HttpResponse::json(status, json{{"errcode", errcode}, {"error", message}}.dump());
}

}  // namespace

MatrixConnector::MatrixConnector(asio::any_io_executor executor, MatrixConnectorConfig config,
                                 Stores stores, core::MetricsRegistry& metrics)
    : config_(std::move(config)),
      stores_(stores),
      metrics_(metrics),
      executor_(std::move(executor)) {
  mapping_.connector = config_.name;
  mapping_.naming = GhostNaming{config_.server_name, config_.ghost_prefix};
  mapping_.bot_localpart = config_.bot_localpart;
  mapping_.display_name = [this](std::string_view user_id) -> std::optional<std::string> {
    std::lock_guard lock(mu_);
    auto it = display_names_.find(std::string(user_id));
    if (it == display_names_.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

awaitable<void> MatrixConnector::learn_display_name(const json& event) {
  // The newest name from a member event; else, for a sender not seen yet, their profile.
  constexpr std::size_t kMaxNames = 100000;
  const std::string sender = text_field(event, "sender");
  if (text_field(event, "type") == "m.room.member" && event.contains("content") &&
      event["content"].is_object()) {
    const auto& content = event["content"];
    if (text_field(content, "membership") == "join" && content.contains("displayname") &&
        content["displayname"].is_string()) {
      std::lock_guard lock(mu_);
      const std::string member = text_field(event, "state_key");
      if (display_names_.size() < kMaxNames)
        display_names_[member.empty() ? sender : member] =
            content["displayname"].get<std::string>();
    }
  }
  if (!is_valid_user_id(sender) || in_ghost_namespace(sender, mapping_.naming)) co_return;
  {
    std::lock_guard lock(mu_);
    if (display_names_.contains(sender) || display_names_.size() >= kMaxNames) co_return;
  }
  auto profile = co_await api_->call(
      "GET", "/_matrix/client/v3/profile/" + core::url_encode(sender) + "/displayname", "", json());
  std::string name;
  if (profile && profile->contains("displayname") && (*profile)["displayname"].is_string()) {
    name = (*profile)["displayname"].get<std::string>();
  }
  std::lock_guard lock(mu_);
  display_names_[sender] = name;  // also "" (no name): asked once
}

core::Capabilities MatrixConnector::capabilities() const {
  return {
      core::Capability::kEdit,        core::Capability::kDelete,     core::Capability::kReaction,
      core::Capability::kReadReceipt, core::Capability::kTyping,     core::Capability::kReply,
      core::Capability::kAttachments, core::Capability::kMembership, core::Capability::kRename};
}

std::string MatrixConnector::bot_user_id() const {
  return "@" + config_.bot_localpart + ":" + config_.server_name;
}

bool MatrixConnector::is_own_actor(const core::ActorRef& actor) const {
  return actor.connector == config_.name &&
         (actor.remote_id == bot_user_id() || in_ghost_namespace(actor.remote_id, mapping_.naming));
}

awaitable<core::Status> MatrixConnector::preflight() {
  auto loaded = load_registration(config_.registration);
  if (!loaded) co_return loaded.error();
  if (auto st = check_registration(*loaded, config_); !st) co_return st;
  registration_ = std::move(*loaded);
  core::HttpClientOptions options;
  options.ca_file = config_.ca_file;
  options.verify_peer = config_.verify_certificate;
  api_ = std::make_unique<ClientApi>(executor_, config_.homeserver_url, registration_.as_token,
                                     options);

  // The homeserver calls our /ping with the hs_token it holds (v1.7, "Pinging"), so one
  // round trip proves both tokens and the URL each side uses to reach the other.
  asio::steady_timer timer(executor_);
  const auto deadline = std::chrono::steady_clock::now() + kPreflightPatience;
  int unreachable = 0;
  for (int attempt = 1;; ++attempt) {
    json body{{"transaction_id", "coi-bridge-preflight"}};
    auto r = co_await api_->call(
        "POST", "/_matrix/client/v1/appservice/" + core::url_encode(registration_.id) + "/ping", "",
        body);
    if (r) {
      spdlog::info("matrix {}: homeserver {} accepted the registration (ping {} ms)", config_.name,
                   config_.homeserver_url,
                   (r->contains("duration_ms") && (*r)["duration_ms"].is_number()
                        ? (*r)["duration_ms"].get<double>()
                        : 0.0));
      break;
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
      break;
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
  if (auto st = co_await api_->ensure_user(config_.bot_localpart); !st) co_return st;
  // The rooms the bot is in already: those no bridge links take commands.
  if (auto joined = co_await api_->joined_rooms("")) {
    std::lock_guard lock(mu_);
    bot_rooms_.insert(joined->begin(), joined->end());
  }
  co_return core::Status{};
}

awaitable<void> MatrixConnector::run(core::ConnectorContext& ctx) {
  // Inbound traffic arrives over HTTP; run() only opens the door for it while it lasts.
  sink_ = &ctx.sink;
  messages_ = &ctx.messages;
  direct_chats_ = ctx.direct_chats;
  portal_links_ = ctx.portal_links;
  struct Close {
    core::EventSink*& sink;
    ~Close() { sink = nullptr; }
  } close{sink_};
  asio::steady_timer forever(ctx.executor, std::chrono::steady_clock::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);  // cancellation ends the connector
}

namespace {

// Application Service API, "Authorization": the hs_token as a Bearer token, or (legacy) the
// access_token query parameter.
std::optional<std::string> presented_token(const core::HttpRequest& request) {
  if (auto auth = request.header("authorization"); auth && auth->starts_with("Bearer ")) {
    return auth->substr(7);
  }
  if (auto it = request.query.find("access_token"); it != request.query.end()) return it->second;
  return std::nullopt;
}

}  // namespace

core::HttpClaim MatrixConnector::claims_http(const core::HttpRequest& request) const {
  const std::string_view path = request.path;
  const bool ours = path.starts_with("/_matrix/app/") || path.starts_with("/transactions/") ||
                    path.starts_with("/users/") || path.starts_with("/rooms/");
  if (!ours) return core::HttpClaim::kNone;
  // Every Matrix instance serves these paths; the one whose registration's hs_token the
  // request carries is the one its homeserver meant.
  const auto token = presented_token(request);
  if (token && !registration_.hs_token.empty() && tokens_equal(*token, registration_.hs_token)) {
    return core::HttpClaim::kInstance;
  }
  return core::HttpClaim::kPath;
}

awaitable<core::HttpResponse> MatrixConnector::handle_http(const core::HttpRequest& request) {
  const auto token = presented_token(request);
  if (!token) co_return matrix_error(401, "M_UNAUTHORIZED", "missing hs_token");
  if (registration_.hs_token.empty() || !tokens_equal(*token, registration_.hs_token)) {
    metrics_
        .counter("coibridge_matrix_rejected_requests_total",
                 "Homeserver requests refused for a wrong hs_token", {{"connector", config_.name}})
        .inc();
    co_return matrix_error(403, "M_FORBIDDEN", "wrong hs_token");
  }
  std::string_view rest = request.path;
  if (rest.starts_with("/_matrix/app/v1"))
    rest.remove_prefix(std::string_view("/_matrix/app/v1").size());
  const auto segment_after = [&](std::string_view prefix) -> std::optional<std::string> {
    if (!rest.starts_with(prefix) || rest.size() == prefix.size()) return std::nullopt;
    const auto tail = rest.substr(prefix.size());
    if (tail.find('/') != std::string_view::npos) return std::nullopt;
    // Path segments arrive percent-encoded (a user id's '@' and ':' as %40 and %3A).
    return core::percent_decode(tail);
  };
  const auto wrong_method = [] {
    return matrix_error(405, "M_UNRECOGNIZED", "method not allowed");
  };
  if (auto txn = segment_after("/transactions/")) {
    if (request.method != "PUT") co_return wrong_method();
    co_return co_await on_transaction(request, *txn);
  }
  if (auto user = segment_after("/users/")) {
    if (request.method != "GET") co_return wrong_method();
    co_return co_await on_user_query(*user);
  }
  if (auto alias = segment_after("/rooms/")) {
    if (request.method != "GET") co_return wrong_method();
    co_return co_await on_room_query(*alias);
  }
  if (rest == "/ping") {
    if (request.method != "POST") co_return wrong_method();
    co_return core::HttpResponse::json(200, "{}");
  }
  co_return matrix_error(404, "M_UNRECOGNIZED", "unknown endpoint");
}

awaitable<core::HttpResponse> MatrixConnector::on_user_query(std::string user_id) {
  // Only ids this bridge could have made exist; creating them answers the query.
  if (!remote_id_of_ghost(user_id, mapping_.naming))
    co_return matrix_error(404, "M_NOT_FOUND", "not a ghost of this bridge");
  const auto localpart = split_id(user_id);
  if (!localpart) co_return matrix_error(404, "M_NOT_FOUND", "malformed user id");
  if (auto st = co_await api_->ensure_user(localpart->localpart); !st) {
    co_return matrix_error(500, "M_UNKNOWN", st.error().message);
  }
  co_return core::HttpResponse::json(200, "{}");
}

awaitable<core::HttpResponse> MatrixConnector::on_room_query(std::string alias) {
  // Application Service API, "Querying room aliases": answering 200 means the room now
  // exists with that alias; the homeserver then resolves it. Anything else is 404.
  const auto not_found = [] { return matrix_error(404, "M_NOT_FOUND", "no such portal"); };
  if (!config_.public_portals || config_.dm_connector.empty() || portal_links_ == nullptr ||
      stores_.conversations == nullptr || !api_) {
    co_return not_found();
  }
  const auto conversation = group_id_of_portal_alias(alias, mapping_.naming);
  if (!conversation ||
      !(conversation->starts_with("group:") || conversation->starts_with("adhoc:"))) {
    co_return not_found();
  }
  // Only groups the mail side has seen: an alias must not conjure up conversations.
  auto known = co_await stores_.conversations->load(config_.dm_connector, *conversation);
  if (!known) co_return matrix_error(500, "M_UNKNOWN", known.error().message);
  if (!*known) co_return not_found();
  const auto parts = split_id(alias);
  if (!parts) co_return not_found();

  // A public room, so that anyone who knows the alias can join it (an invite-only room is
  // not joinable by alias). The bridge info follows from the link (linked()).
  json body{{"preset", "public_chat"},
            {"visibility", "private"},  // not listed in the room directory
            {"room_alias_name", parts->localpart},
            {"name", *conversation},
            {"topic",
             "Bridged with the mail group " + *conversation + " (" + config_.dm_connector + ")"}};
  auto created = co_await api_->call("POST", "/_matrix/client/v3/createRoom", "", body);
  if (!created) {
    // Another query made it a moment ago: the alias exists, which is all the answer says.
    if (ClientApi::errcode_of(created.error()) == "M_ROOM_IN_USE")
      co_return core::HttpResponse::json(200, "{}");
    spdlog::warn("matrix {}: portal {} not created: {}", config_.name, alias,
                 created.error().message);
    co_return matrix_error(500, "M_UNKNOWN", created.error().message);
  }
  const std::string room = text_field(*created, "room_id");
  if (!is_valid_room_id(room))
    co_return matrix_error(500, "M_UNKNOWN", "createRoom answered without a room id");
  {
    std::lock_guard lock(mu_);
    bot_rooms_.insert(room);
  }
  const core::ConversationRef here{config_.name, room};
  const core::ConversationRef there{config_.dm_connector, *conversation};
  const std::string actor = config_.name + ":alias-query";
  auto linked_bridge = co_await portal_links_->link(here, there, actor);
  if (!linked_bridge) {
    // The group is linked elsewhere already (or the store failed): the new room must not
    // keep the alias, or it would name a room that relays nothing.
    spdlog::warn("matrix {}: portal {} not linked with {}: {}", config_.name, alias, *conversation,
                 linked_bridge.error().message);
    (void)co_await api_->call(
        "DELETE", "/_matrix/client/v3/directory/room/" + core::url_encode(alias), "", json());
    (void)co_await api_->leave(room, "");
    if (linked_bridge.error().kind == core::ErrorKind::kUnavailable) {
      co_return matrix_error(500, "M_UNKNOWN", linked_bridge.error().message);
    }
    co_return not_found();
  }
  spdlog::info("matrix {}: portal {} ({}) for {}:{}", config_.name, alias, room,
               config_.dm_connector, *conversation);
  co_return core::HttpResponse::json(200, "{}");
}

void MatrixConnector::queue(Inbound& inbound, core::Event event, const json& raw) {
  // A text to the bot in a room no bridge links is a command (the management room): the
  // batch ends there when the room is unlinked, so the command runs in its place.
  std::optional<std::string> command;
  if (const auto* posted = std::get_if<core::MessagePosted>(&event.payload);
      posted != nullptr && is_bot_room(event.where.remote_id)) {
    command = posted->body.text;
  }
  const bool stop = command.has_value();
  inbound.events.push_back(core::BatchEvent{std::move(event), stop});
  inbound.raw.push_back(&raw);
  inbound.commands.push_back(std::move(command));
}

awaitable<bool> MatrixConnector::flush(Inbound& inbound) {
  std::size_t next = 0;
  while (next < inbound.events.size()) {
    // The router stops at a command of an unlinked room; what follows it goes next round.
    const auto rest = std::span<const core::BatchEvent>(inbound.events).subspan(next);
    auto outcomes = co_await sink_->publish_batch(rest);
    if (!outcomes) co_return false;
    if (outcomes->empty()) co_return false;
    for (std::size_t k = 0; k < outcomes->size(); ++k) {
      const auto& outcome = (*outcomes)[k];
      const std::size_t index = next + k;
      if (!outcome) {
        if (outcome.error().kind != core::ErrorKind::kInvalidArgument) co_return false;
        auto st = co_await sink_->reject(config_.name, outcome.error().message,
                                         inbound.raw[index]->dump());
        if (!st) co_return false;
      } else if (outcome->status == core::PublishStatus::kUnlinked && inbound.commands[index]) {
        const std::string room = text_field(*inbound.raw[index], "room_id");
        co_await run_command(room, inbound.events[index].event.who, *inbound.commands[index]);
      }
    }
    next += outcomes->size();
  }
  inbound = Inbound{};
  co_return true;
}

awaitable<core::Status> MatrixConnector::fetch_media(core::Event& event) {
  auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  for (auto& file : posted->body.attachments) {
    if (!file.location.starts_with("mxc://")) continue;
    auto bytes = co_await api_->download(file.location);
    if (!bytes) co_return bytes.error();
    file.size = bytes->size();
    auto location = co_await stores_.blobs.put(file.content_type, std::move(*bytes));
    if (!location) co_return location.error();
    file.location = std::move(*location);
  }
  co_return core::Status{};
}

awaitable<bool> MatrixConnector::take_room_event(const json& raw, Inbound& inbound) {
  if (raw.is_object()) co_await learn_display_name(raw);
  auto mapped = map_room_event(raw, mapping_);
  if (!mapped) {
    if (!(co_await sink_->reject(config_.name, mapped.error().message, raw.dump())))
      co_return false;
    co_return true;
  }
  if (mapped->echo) co_return true;
  if (auto* ignored = std::get_if<Ignored>(&mapped->result)) {
    if (text_field(raw, "type") == "m.room.member" && raw.contains("content") &&
        raw["content"].is_object() && text_field(raw["content"], "membership") == "invite") {
      // What came before the invite is committed first: the invite may link the room.
      if (!(co_await flush(inbound))) co_return false;
      if (auto st = co_await on_invite(raw); !st) {
        if (st.error().kind == core::ErrorKind::kUnavailable) co_return false;
        spdlog::warn("matrix {}: invite not taken: {}", config_.name, st.error().message);
      }
    }
    spdlog::debug("matrix {}: not relayed: {}", config_.name, ignored->reason);
    co_return true;
  }
  core::Event event;
  if (auto* redaction = std::get_if<Redaction>(&mapped->result)) {
    // A redacted reaction is a withdrawn reaction; anything else a deleted message. The
    // redacted event may be in this very transaction: what is queued is committed first.
    if (!(co_await flush(inbound))) co_return false;
    const core::RemoteMessageRef redacted{config_.name, redaction->redacted_event_id};
    auto earlier = co_await messages_->event_by_origin(redacted);
    if (!earlier) co_return false;
    const core::ReactionChanged* reaction =
        *earlier ? std::get_if<core::ReactionChanged>(&(*earlier)->payload) : nullptr;
    if (reaction != nullptr && reaction->added) {
      event = reaction_removed(*redaction, reaction->target, reaction->reaction);
    } else {
      event = std::move(redaction->event);
    }
  } else {
    event = std::get<core::Event>(std::move(mapped->result));
  }
  if (auto st = co_await fetch_media(event); !st) {
    if (st.error().kind == core::ErrorKind::kUnavailable) co_return false;
    if (!(co_await sink_->reject(config_.name, st.error().message, raw.dump()))) co_return false;
    co_return true;
  }
  queue(inbound, std::move(event), raw);
  co_return true;
}

std::optional<std::uint64_t> MatrixConnector::transaction_number(std::string_view txn_id) {
  if (txn_id.empty() || txn_id.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : txn_id) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

awaitable<bool> MatrixConnector::backfill() {
  // Client-server API, "Syncing": the newest events of every room the bot is in, oldest
  // first. The ghosts' direct chats are read as the ghost that is in them.
  std::vector<std::pair<std::string, std::string>> rooms;  // room, as user
  auto joined = co_await api_->joined_rooms("");
  if (!joined) co_return joined.error().kind != core::ErrorKind::kUnavailable;
  for (const auto& room : *joined) rooms.emplace_back(room, "");
  {
    std::lock_guard lock(mu_);
    for (const auto& key : joined_) {
      const auto nl = key.find('\n');
      const std::string room = key.substr(nl + 1);
      if (std::none_of(rooms.begin(), rooms.end(),
                       [&](const auto& r) { return r.first == room; })) {
        rooms.emplace_back(room, key.substr(0, nl));
      }
    }
  }
  for (const auto& [room, as_user] : rooms) {
    auto page = co_await api_->call("GET",
                                    "/_matrix/client/v3/rooms/" + core::url_encode(room) +
                                        "/messages?dir=b&limit=" + std::to_string(kBackfillEvents),
                                    as_user, json());
    if (!page) {
      if (page.error().kind == core::ErrorKind::kUnavailable) co_return false;
      spdlog::warn("matrix {}: cannot read the history of {}: {}", config_.name, room,
                   page.error().message);
      continue;
    }
    if (!page->contains("chunk") || !(*page)["chunk"].is_array()) continue;
    const auto& chunk = (*page)["chunk"];
    std::deque<json> events;  // queued events point at their raw JSON: it must not move
    Inbound inbound;
    for (auto it = chunk.rbegin(); it != chunk.rend(); ++it) {
      if (!it->is_object()) continue;
      json& event = events.emplace_back(*it);
      if (!event.contains("room_id")) event["room_id"] = room;
      // State and membership were applied when they happened; only what people wrote is
      // read again.
      const std::string type = text_field(event, "type");
      if (type != "m.room.message" && type != "m.reaction" && type != "m.room.redaction") continue;
      if (!(co_await take_room_event(event, inbound))) co_return false;
    }
    if (!(co_await flush(inbound))) co_return false;
  }
  co_return true;
}

awaitable<core::HttpResponse> MatrixConnector::on_transaction(const core::HttpRequest& request,
                                                              std::string txn_id) {
  if (sink_ == nullptr || !api_) co_return matrix_error(503, "M_UNKNOWN", "the bridge is starting");
  auto seen = co_await stores_.ledger.seen(config_.name, txn_id);
  if (!seen) co_return matrix_error(500, "M_UNKNOWN", seen.error().message);
  if (*seen) co_return core::HttpResponse::json(200, "{}");  // a retransmission: done before
  auto body = json::parse(request.body, nullptr, false);
  if (!body.is_object())
    co_return matrix_error(400, "M_NOT_JSON", "the transaction is not a JSON object");
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string ids;
    if (auto events = body.find("events"); events != body.end() && events->is_array()) {
      for (const auto& e : *events) {
        const bool named = e.is_object() && e.contains("event_id") && e["event_id"].is_string();
        ids += " " + (named ? e["event_id"].get<std::string>() : std::string("?"));
      }
    }
    spdlog::debug("matrix {}: transaction {}:{}", config_.name, txn_id, ids);
  }

  const auto retry_later = [] {
    return matrix_error(500, "M_UNKNOWN", "not committed; send the transaction again");
  };
  auto& counter =
      metrics_.counter("coibridge_matrix_events_total", "Room and ephemeral events received",
                       {{"connector", config_.name}});
  // Synapse numbers transactions 1, 2, 3, ... per application service. A number skipped
  // means a transaction the homeserver will never send (seen with Synapse 1.163 when an
  // appservice recovers while new events queue up): what it carried is fetched from the
  // rooms' history instead, and the message map's dedupe drops what arrived already.
  if (auto number = transaction_number(txn_id)) {
    const auto last = last_transaction_;
    last_transaction_ = std::max(last_transaction_, *number);
    if (last != 0 && *number > last + 1) {
      spdlog::warn(
          "matrix {}: transactions {}..{} never arrived; reading the rooms' recent history",
          config_.name, last + 1, *number - 1);
      if (!(co_await backfill())) co_return retry_later();
    }
  }
  // The transaction's events are published together, in one database transaction where
  // nothing in between needs what came before committed (a redaction, an invite).
  Inbound inbound;
  if (auto events = body.find("events"); events != body.end() && events->is_array()) {
    for (const auto& raw : *events) {
      counter.inc();
      if (!(co_await take_room_event(raw, inbound))) co_return retry_later();
    }
  }
  // Receipts and typing: the stable key (v1.13) and the unstable MSC2409 one.
  const TransactionInfo info{txn_id, std::chrono::system_clock::now()};
  for (const char* key : {"ephemeral", "de.sorunome.msc2409.ephemeral"}) {
    auto list = body.find(key);
    if (list == body.end() || !list->is_array()) continue;
    for (const auto& raw : *list) {
      counter.inc();
      auto mapped = map_ephemeral_event(raw, mapping_, info);
      if (!mapped) continue;  // presence and the like; a malformed one costs nothing else
      if (text_field(raw, "type") == "m.typing") {
        // The list is who types now: who is missing from it since the last one stopped.
        const core::ConversationRef room{config_.name, text_field(raw, "room_id")};
        std::set<std::string> now;
        for (const auto& event : *mapped) now.insert(event.who.remote_id);
        std::set<std::string> before;
        {
          std::lock_guard lock(mu_);
          auto& typing = typing_[room.remote_id];
          before.swap(typing);
          typing = now;
          if (typing.empty()) typing_.erase(room.remote_id);
        }
        for (auto& stopped : typing_stopped(before, now, room, mapping_, info))
          mapped->push_back(std::move(stopped));
      }
      for (auto& event : *mapped) {
        queue(inbound, std::move(event), raw);
      }
    }
  }
  if (!(co_await flush(inbound))) co_return retry_later();
  if (auto st = co_await stores_.ledger.remember(config_.name, txn_id, kTransactionMemory); !st) {
    // Everything is committed; a retransmission would only meet the router's dedupe.
    spdlog::warn("matrix {}: transaction {} not recorded: {}", config_.name, txn_id,
                 st.error().message);
  }
  co_return core::HttpResponse::json(200, "{}");
}

awaitable<core::Result<std::string>> MatrixConnector::ready_ghost(const core::ActorRef& who) {
  auto id = ghost_user_id(who.remote_id, mapping_.naming);
  if (!id) co_return id.error();
  const std::string ghost = *id;
  const std::string name = who.display_name.empty() ? who.remote_id : who.display_name;
  // Avatar locations are content addresses: a changed picture is a changed key.
  const std::string ready_key = ghost + "\n" + name + "\n" + who.avatar;
  {
    std::lock_guard lock(mu_);
    if (ghosts_ready_.contains(ready_key)) co_return ghost;
  }
  const auto parts = split_id(ghost);
  if (!parts) co_return core::Error::internal("ghost id " + ghost + " does not split");
  if (auto st = co_await api_->ensure_user(parts->localpart); !st) co_return st.error();
  if (auto st = co_await api_->set_display_name(ghost, name); !st) co_return st.error();
  if (core::is_blob_location(who.avatar)) {
    // A picture that cannot be read (purged) leaves the ghost as it was; the message still goes.
    auto blob = co_await stores_.blobs.get(who.avatar);
    if (blob) {
      const std::string type =
          blob->content_type.empty() ? core::sniff_image_type(blob->data) : blob->content_type;
      auto mxc = co_await api_->upload(type, "avatar", std::move(blob->data), ghost);
      if (!mxc) co_return mxc.error();
      if (auto st = co_await api_->set_avatar_url(ghost, *mxc); !st) co_return st.error();
    } else if (blob.error().kind == core::ErrorKind::kUnavailable) {
      co_return blob.error();
    } else {
      spdlog::info("matrix {}: avatar of {} not set: {}", config_.name, ghost,
                   blob.error().message);
    }
  }
  std::lock_guard lock(mu_);
  ghosts_ready_.insert(ready_key);
  co_return ghost;
}

awaitable<core::Result<std::string>> MatrixConnector::open_direct_chat(std::string person,
                                                                       core::ActorRef other) {
  if (!api_) co_return core::Error::unavailable("matrix connector not started");
  if (!is_valid_user_id(person))
    co_return core::Error::invalid("person", "not a Matrix user id: " + person);
  auto ghost = co_await ready_ghost(other);
  if (!ghost) co_return ghost.error();
  // Client-server API, "Direct Messaging": a room created with is_direct and the person
  // invited shows as a direct chat on their side.
  // MSC2346 bridge info (m.bridge, and the unstable name clients still read): clients show
  // which network the room reaches and through which bot.
  const json info = bridge_info(*ghost, other.remote_id,
                                other.display_name.empty() ? other.remote_id : other.display_name);
  json initial_state = json::array();
  for (const char* type : kBridgeInfoTypes) {
    initial_state.push_back({{"type", type},
                             {"state_key", "coi:" + config_.name + ":" + other.remote_id},
                             {"content", info}});
  }
  json body{{"preset", "trusted_private_chat"},
            {"is_direct", true},
            {"invite", json::array({person})},
            {"initial_state", initial_state}};
  auto created = co_await api_->call("POST", "/_matrix/client/v3/createRoom", *ghost, body);
  if (!created) co_return created.error();
  if (!created->contains("room_id") || !(*created)["room_id"].is_string()) {
    co_return core::Error::unavailable("createRoom answered without a room_id");
  }
  const std::string room = (*created)["room_id"].get<std::string>();
  std::lock_guard lock(mu_);
  joined_.insert(*ghost + "\n" + room);
  co_return room;
}

bool MatrixConnector::is_bot_room(const std::string& room) {
  std::lock_guard lock(mu_);
  return bot_rooms_.contains(room);
}

awaitable<void> MatrixConnector::bot_says(const std::string& room, const std::string& text) {
  // m.notice: bots answer with notices so that other bots do not answer them (spec, m.notice).
  json content{{"msgtype", "m.notice"}, {"body", text}};
  const std::string txn = "coi.cmd." + core::new_event_id().value;
  auto r = co_await api_->call(
      "PUT", "/_matrix/client/v3/rooms/" + core::url_encode(room) + "/send/m.room.message/" + txn,
      "", content);
  if (!r) spdlog::warn("matrix {}: cannot answer in {}: {}", config_.name, room, r.error().message);
}

awaitable<void> MatrixConnector::run_command(const std::string& room, const core::ActorRef& who,
                                             const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  const auto space = line.find(' ');
  std::string word = line.substr(0, space);
  if (word.starts_with("!")) word.erase(0, 1);
  const std::string arg = space == std::string::npos ? std::string() : line.substr(space + 1);
  // Every answer is built before it is awaited: g++ 12 mishandles temporaries (and
  // conditional expressions) inside a co_await expression.
  std::string answer;
  if (word == "help") {
    answer =
        "coi-bridge commands (in this room, which is linked to nothing):\n"
        "  dm <address>   open a direct chat with a mail (COI, Delta Chat) contact\n"
        "  link <room id or #alias> <connector>:<conversation>\n"
        "                 bridge a room with another network's conversation (admins), for example\n"
        "                 link #team:" +
        config_.server_name + " " +
        (config_.dm_connector.empty() ? std::string("mail") : config_.dm_connector) +
        ":group:<group id>; invite the bot to the room first\n"
        "  unlink <room id or #alias>\n"
        "                 end that room's bridge (admins)\n"
        "  status         what this bridge serves\n"
        "  help           this text\n"
        "Rooms can also be linked through the bridge's REST API (POST /api/v1/bridges/{id}/links); "
        "inviting a contact's ghost @" +
        config_.ghost_prefix + "<address>:" + config_.server_name +
        " opens a direct chat too.\n"
        "You may use commands up to level \"" +
        std::string(to_string(permission_of(who.remote_id))) + "\".";
  } else if (word == "status" || word == "dm" || word == "link" || word == "unlink") {
    // connectors.matrix[].permissions: dm and status need "user", link and unlink "admin".
    const PermissionLevel needed =
        word == "link" || word == "unlink" ? PermissionLevel::kAdmin : PermissionLevel::kUser;
    const PermissionLevel has = permission_of(who.remote_id);
    if (has < needed) {
      answer = "sorry, " + who.remote_id + ": \"" + word + "\" needs the " +
               std::string(to_string(needed)) +
               " level on this bridge (connectors.matrix[].permissions), and you have " +
               (has == PermissionLevel::kNone ? std::string("none")
                                              : "\"" + std::string(to_string(has)) + "\"") +
               ".";
    } else if (word == "link") {
      answer = co_await link_command(who, arg);
    } else if (word == "unlink") {
      answer = co_await unlink_command(who, arg);
    } else if (word == "dm") {
      answer = co_await open_dm_command(who, arg);
    } else {
      const std::string target =
          config_.dm_connector.empty() ? std::string("(no mail connector)") : config_.dm_connector;
      answer = "coi-bridge is running. Homeserver " + config_.homeserver_url +
               ", direct chats go to " + target + ", ghosts are @" + config_.ghost_prefix +
               "…:" + config_.server_name + ".";
    }
  } else if (text.starts_with("!")) {
    answer = "unknown command \"" + word.substr(0, 40) + "\"; say help";
  }
  // Anything else is chat in a room waiting to be linked: not the bot's business.
  if (!answer.empty()) co_await bot_says(room, answer);
}

awaitable<std::string> MatrixConnector::open_dm_command(const core::ActorRef& who,
                                                        const std::string& address) {
  if (address.empty() || address.find('@') == std::string::npos ||
      address.find(' ') != std::string::npos) {
    co_return std::string("usage: dm <address>, for example: dm bob@example.org");
  }
  if (direct_chats_ == nullptr || config_.dm_connector.empty()) {
    co_return std::string("direct chats are not configured (connectors.matrix[].dm_connector)");
  }
  // The ghost creates the room and invites the user; the room is then linked with the mail
  // chat between the address and the user's puppet.
  const core::ActorRef contact{config_.dm_connector, address, address};
  const std::string person = who.remote_id;
  auto opened = co_await open_direct_chat(person, contact);
  if (!opened)
    co_return "cannot open a direct chat with " + address + ": " + opened.error().message;
  const core::ConversationRef here{config_.name, *opened};
  const std::string target = config_.dm_connector;
  auto linked = co_await direct_chats_->link(here, who, target, address);
  if (!linked)
    co_return "cannot link the direct chat with " + address + ": " + linked.error().message;
  co_return "invited you to a direct chat with " + address;
}

PermissionLevel MatrixConnector::permission_of(const std::string& user_id) const {
  return matrix::permission_of(user_id, config_.permissions, config_.server_name);
}

json MatrixConnector::bridge_info(const std::string& creator, const std::string& channel_id,
                                  const std::string& channel_name) const {
  // MSC2346: which network the room reaches, through which bot, and what it is there.
  return json{{"bridgebot", bot_user_id()},
              {"creator", creator},
              {"protocol", {{"id", "coi"}, {"displayname", "Chat over email"}}},
              {"channel", {{"id", channel_id}, {"displayname", channel_name}}}};
}

awaitable<core::Status> MatrixConnector::put_bridge_info(const std::string& room,
                                                         const std::string& state_key,
                                                         const json& content,
                                                         const std::string& as_user) {
  for (const char* type : kBridgeInfoTypes) {
    const std::string path = "/_matrix/client/v3/rooms/" + core::url_encode(room) + "/state/" +
                             type + "/" + core::url_encode(state_key);
    auto r = co_await api_->call("PUT", path, as_user, content);
    if (!r) co_return r.error();
  }
  co_return core::Status{};
}

namespace {
// The state key of the bridge info of a room linked into bridge `id` (direct chats, made by
// open_direct_chat, use "coi:<connector>:<person>").
std::string bridge_state_key(std::int64_t id) { return "coi:bridge:" + std::to_string(id); }
}  // namespace

awaitable<core::Status> MatrixConnector::linked(core::PortalLink link) {
  if (!api_) co_return core::Error::unavailable("matrix connector not started");
  if (!is_valid_room_id(link.conversation)) co_return core::Status{};
  const json info = bridge_info(
      bot_user_id(), "bridge:" + std::to_string(link.bridge_id),
      link.bridge_name.empty() ? "bridge " + std::to_string(link.bridge_id) : link.bridge_name);
  const std::string key = bridge_state_key(link.bridge_id);
  auto st = co_await put_bridge_info(link.conversation, key, info, "");
  if (!st && ClientApi::errcode_of(st.error()) == "M_FORBIDDEN") {
    // The bot lacks the power level for state events (50 by default): say so where the
    // room's admins see it. The link itself stands.
    const std::string note =
        "This room is now bridged, but I may not show it (m.bridge state): give " + bot_user_id() +
        " power level 50 or more, then link it again to refresh.";
    co_await bot_says(link.conversation, note);
  }
  co_return st;
}

awaitable<core::Status> MatrixConnector::unlinked(core::PortalLink link) {
  if (!api_) co_return core::Error::unavailable("matrix connector not started");
  if (!is_valid_room_id(link.conversation)) co_return core::Status{};
  // State cannot be deleted; empty content is how a state event is withdrawn (MSC2346).
  const json empty = json::object();
  const std::string key = bridge_state_key(link.bridge_id);
  co_return co_await put_bridge_info(link.conversation, key, empty, "");
}

awaitable<core::Result<std::string>> MatrixConnector::resolve_room(const std::string& id_or_alias) {
  if (is_valid_room_id(id_or_alias)) co_return id_or_alias;
  if (!is_valid_room_alias(id_or_alias)) {
    co_return core::Error::invalid("room", "\"" + id_or_alias.substr(0, 80) +
                                               "\" is neither a room id (!…) nor an alias (#…)");
  }
  // Client-server API, "GET /_matrix/client/v3/directory/room/{roomAlias}".
  auto found = co_await api_->call(
      "GET", "/_matrix/client/v3/directory/room/" + core::url_encode(id_or_alias), "", json());
  if (!found) {
    if (ClientApi::errcode_of(found.error()) == "M_NOT_FOUND")
      co_return core::Error::not_found("no room has the alias " + id_or_alias);
    co_return found.error();
  }
  const std::string room = text_field(*found, "room_id");
  if (!is_valid_room_id(room))
    co_return core::Error::unavailable("the directory answered without a room id");
  co_return room;
}

awaitable<std::string> MatrixConnector::link_command(const core::ActorRef& who,
                                                     const std::string& args) {
  const std::string usage =
      "usage: link <room id or #alias> <connector>:<conversation>, for example: link #team:" +
      config_.server_name + " mail:group:1234";
  const auto space = args.find(' ');
  if (space == std::string::npos) co_return usage;
  const std::string target = args.substr(0, space);
  std::string conversation = args.substr(space + 1);
  while (!conversation.empty() && conversation.front() == ' ') conversation.erase(0, 1);
  const auto colon = conversation.find(':');
  if (conversation.empty() || conversation.find(' ') != std::string::npos ||
      colon == std::string::npos || colon == 0 || colon + 1 == conversation.size()) {
    co_return usage;
  }
  const std::string connector = conversation.substr(0, colon);
  const std::string remote_id = conversation.substr(colon + 1);
  if (connector == config_.name)
    co_return "a room is linked with another network's conversation, not with " + connector;
  if (portal_links_ == nullptr)
    co_return std::string("this bridge cannot link rooms from Matrix (no portal links)");
  auto room = co_await resolve_room(target);
  if (!room) co_return "cannot link " + target + ": " + room.error().message;
  // The bot must be in the room to relay it: a member stays, an invited bot joins now.
  if (auto joined = co_await api_->join(*room, ""); !joined) {
    co_return "cannot link " + target + ": the bot cannot join it (" + joined.error().message +
        "); invite " + bot_user_id() + " first";
  }
  {
    std::lock_guard lock(mu_);
    bot_rooms_.insert(*room);
  }
  const core::ConversationRef here{config_.name, *room};
  const core::ConversationRef there{connector, remote_id};
  const std::string actor = config_.name + ":" + who.remote_id;
  auto bridge = co_await portal_links_->link(here, there, actor);
  if (!bridge) {
    const auto& e = bridge.error();
    if (e.kind == core::ErrorKind::kConflict) {
      co_return "cannot link " + target + " with " + conversation +
          ": one of them is linked already (unlink it first)";
    }
    if (e.kind == core::ErrorKind::kNotFound) co_return "cannot link " + target + ": " + e.message;
    co_return "cannot link " + target + " with " + conversation + ": " + e.message;
  }
  const std::string shown = target == *room ? *room : target + " (" + *room + ")";
  co_return "linked " + shown + " with " + conversation + " (bridge " + std::to_string(*bridge) +
      ")";
}

awaitable<std::string> MatrixConnector::unlink_command(const core::ActorRef& who,
                                                       const std::string& args) {
  if (args.empty() || args.find(' ') != std::string::npos)
    co_return std::string("usage: unlink <room id or #alias>");
  if (portal_links_ == nullptr)
    co_return std::string("this bridge cannot unlink rooms from Matrix (no portal links)");
  auto room = co_await resolve_room(args);
  if (!room) co_return "cannot unlink " + args + ": " + room.error().message;
  const core::ConversationRef here{config_.name, *room};
  const std::string actor = config_.name + ":" + who.remote_id;
  auto others = co_await portal_links_->unlink(here, actor);
  if (!others) {
    if (others.error().kind == core::ErrorKind::kNotFound) co_return args + " is not linked";
    co_return "cannot unlink " + args + ": " + others.error().message;
  }
  std::string names;
  for (const auto& other : *others)
    names += (names.empty() ? "" : ", ") + other.connector + ":" + other.remote_id;
  co_return "unlinked " + args + (names.empty() ? std::string() : " from " + names);
}

awaitable<core::Status> MatrixConnector::on_invite(const json& event) {
  const std::string room = text_field(event, "room_id");
  const std::string invitee = text_field(event, "state_key");
  const std::string inviter = text_field(event, "sender");
  if (!is_valid_room_id(room))
    co_return core::Error::invalid("room_id", "invite without a valid room id");
  if (invitee == bot_user_id()) {
    // The bot joins rooms it is invited to: that is how a room gets bridged (then linked),
    // and where no bridge links the room, it takes commands there.
    auto joined = co_await api_->join(room, "");
    if (joined) {
      std::lock_guard lock(mu_);
      bot_rooms_.insert(room);
    }
    co_return joined;
  }
  const auto person = remote_id_of_ghost(invitee, mapping_.naming);
  if (!person) co_return core::Status{};
  if (permission_of(inviter) < PermissionLevel::kUser) {
    // A direct chat is a room the bridge opens on request: that needs the "user" level. The
    // ghost declines (leaving an invited room rejects the invite).
    spdlog::info(
        "matrix {}: {} may not open direct chats (connectors.matrix[].permissions); declined",
        config_.name, inviter);
    co_return co_await api_->leave(room, invitee);
  }
  if (auto st = co_await api_->join(room, invitee); !st) co_return st;
  {
    std::lock_guard lock(mu_);
    joined_.insert(invitee + "\n" + room);
  }
  if (direct_chats_ == nullptr || config_.dm_connector.empty()) {
    co_return core::Error::permanent("no connector for direct chats (set dm_connector)");
  }
  const core::ActorRef requester{config_.name, inviter,
                                 mapping_.display_name(inviter).value_or(inviter)};
  // Named, not braced in the call: g++ 12 destroys such a temporary twice in a co_await.
  const core::ConversationRef here{config_.name, room};
  const std::string target = config_.dm_connector;
  auto linked = co_await direct_chats_->link(here, requester, target, *person);
  if (!linked && linked.error().kind != core::ErrorKind::kConflict) co_return linked.error();
  co_return core::Status{};
}

awaitable<core::Status> MatrixConnector::ensure_ghost_in_room(const core::ActorRef& who,
                                                              const std::string& room_id,
                                                              std::string& ghost) {
  auto ready = co_await ready_ghost(who);
  if (!ready) co_return ready.error();
  ghost = *ready;
  const std::string join_key = ghost + "\n" + room_id;
  {
    std::lock_guard lock(mu_);
    if (joined_.contains(join_key)) co_return core::Status{};
  }
  auto joined = co_await api_->join(room_id, ghost);
  if (!joined && ClientApi::errcode_of(joined.error()) == "M_FORBIDDEN") {
    // Not invited: the bot, a member of every bridged room, invites its ghost.
    if (auto st = co_await api_->invite(room_id, ghost, ""); !st) co_return st;
    joined = co_await api_->join(room_id, ghost);
  }
  if (!joined) co_return joined;
  std::lock_guard lock(mu_);
  joined_.insert(join_key);
  co_return core::Status{};
}

awaitable<core::Result<core::RemoteMessageRef>> MatrixConnector::manage_room(
    const core::Event& event, const std::string& room, const std::string& ghost) {
  const core::RemoteMessageRef nothing{config_.name, ""};
  const std::string room_path = "/_matrix/client/v3/rooms/" + core::url_encode(room);
  if (const auto* joined = std::get_if<core::MemberJoined>(&event.payload)) {
    // The new member's ghost joins (the bot invites it where the room needs an invite).
    std::string member;
    if (auto st = co_await ensure_ghost_in_room(joined->member, room, member); !st)
      co_return st.error();
    co_return nothing;
  }
  if (const auto* left = std::get_if<core::MemberLeft>(&event.payload)) {
    auto member = ghost_user_id(left->member.remote_id, mapping_.naming);
    if (!member) co_return core::Error::permanent(member.error().message);
    const std::string leaver = *member;
    auto r = co_await api_->leave(room, leaver);
    // M_FORBIDDEN: not in the room (never joined, or gone already) - the outcome wanted.
    if (!r && ClientApi::errcode_of(r.error()) != "M_FORBIDDEN") co_return r.error();
    std::lock_guard lock(mu_);
    joined_.erase(leaver + "\n" + room);
    co_return nothing;
  }
  const auto& renamed = std::get<core::ConversationRenamed>(event.payload);
  // The bot names the room when its power level allows (m.room.name needs 50 by default);
  // else the person's ghost says what happened, so the rename is not lost on Matrix.
  json name{{"name", renamed.name}};
  auto r = co_await api_->call("PUT", room_path + "/state/m.room.name/", "", name);
  if (r) co_return core::RemoteMessageRef{config_.name, text_field(*r, "event_id")};
  if (ClientApi::errcode_of(r.error()) != "M_FORBIDDEN") co_return r.error();
  json notice{{"msgtype", "m.emote"},
              {"body", "renamed the chat to \u201c" + renamed.name + "\u201d"}};
  const std::string txn = "coi.rename." + event.id.value;
  auto said = co_await api_->call("PUT", room_path + "/send/m.room.message/" + txn, ghost, notice);
  if (!said) co_return said.error();
  co_return core::RemoteMessageRef{config_.name, text_field(*said, "event_id")};
}

awaitable<core::Status> MatrixConnector::upload_attachments(core::Event& event,
                                                            const std::string& ghost) {
  auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  for (auto& file : posted->body.attachments) {
    if (!core::is_blob_location(file.location)) continue;
    auto blob = co_await stores_.blobs.get(file.location);
    if (!blob) {
      if (blob.error().kind == core::ErrorKind::kUnavailable) co_return blob.error();
      co_return core::Error::permanent("attachment " + file.filename + ": " + blob.error().message);
    }
    const std::string type = file.content_type.empty() ? blob->content_type : file.content_type;
    auto mxc = co_await api_->upload(type, file.filename, std::move(blob->data), ghost);
    if (!mxc) co_return mxc.error();
    file.location = std::move(*mxc);
  }
  co_return core::Status{};
}

awaitable<core::Result<core::RemoteMessageRef>> MatrixConnector::deliver(
    const core::Delivery& delivery) {
  if (!api_) co_return core::Error::unavailable("matrix connector not started");
  const std::string& room = delivery.target.remote_id;
  std::string ghost;
  if (auto st = co_await ensure_ghost_in_room(delivery.event.who, room, ghost); !st)
    co_return st.error();
  core::Event event = delivery.event;
  if (std::holds_alternative<core::MemberJoined>(event.payload) ||
      std::holds_alternative<core::MemberLeft>(event.payload) ||
      std::holds_alternative<core::ConversationRenamed>(event.payload)) {
    co_return co_await manage_room(event, room, ghost);
  }
  if (auto st = co_await upload_attachments(event, ghost); !st) co_return st.error();
  if (auto* reaction = std::get_if<core::ReactionChanged>(&event.payload);
      reaction != nullptr && !reaction->added) {
    // Withdrawing a reaction redacts the event that carried it here (client-server API,
    // "Reactions"): find it by the reaction's origin, in the source network's terms.
    if (messages_ == nullptr) co_return core::Error::unavailable("matrix connector not running");
    auto original = co_await messages_->event_by_origin(event.origin);
    if (!original) co_return original.error();
    const auto* source =
        *original ? std::get_if<core::ReactionChanged>(&(*original)->payload) : nullptr;
    if (source == nullptr) co_return core::RemoteMessageRef{config_.name, ""};
    auto part = co_await messages_->reaction_delivered(event.where, event.who.remote_id,
                                                       source->target, config_.name);
    if (!part) co_return part.error();
    if (!*part)
      co_return core::RemoteMessageRef{config_.name, ""};  // never shown here: nothing to withdraw
    reaction->target = core::RemoteMessageRef{config_.name, **part};
  }
  auto sends = sends_for_event(event, room, mapping_);
  if (!sends) co_return core::Error::permanent(sends.error().message);
  const std::string room_path = "/_matrix/client/v3/rooms/" + core::url_encode(room);
  std::string first_event_id;
  for (const auto& send : *sends) {
    core::Result<json> r;
    switch (send.kind) {
      case MatrixSend::Kind::kSend:
        r = co_await api_->call(
            "PUT", room_path + "/send/" + core::url_encode(send.event_type) + "/" + send.txn_id,
            ghost, send.content);
        break;
      case MatrixSend::Kind::kRedact:
        r = co_await api_->call(
            "PUT",
            room_path + "/redact/" + core::url_encode(send.target_event_id) + "/" + send.txn_id,
            ghost, send.content);
        break;
      case MatrixSend::Kind::kReceipt:
        r = co_await api_->call("POST",
                                room_path + "/receipt/" + core::url_encode(send.event_type) + "/" +
                                    core::url_encode(send.target_event_id),
                                ghost, send.content);
        break;
      case MatrixSend::Kind::kTyping:
        r = co_await api_->call("PUT", room_path + "/typing/" + core::url_encode(ghost), ghost,
                                send.content);
        break;
    }
    if (!r) co_return r.error();
    if (first_event_id.empty() && r->is_object() && r->contains("event_id") &&
        (*r)["event_id"].is_string()) {
      first_event_id = (*r)["event_id"].get<std::string>();
    }
  }
  co_return core::RemoteMessageRef{config_.name, first_event_id};
}

}  // namespace coibridge::connectors::matrix
