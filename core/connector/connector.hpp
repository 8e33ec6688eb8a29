#pragma once
// The contract between the core and one network. A connector translates between its network
// and the core model only; it never includes another connector.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/model/event.hpp"
#include "core/model/publish.hpp"
#include "core/model/result.hpp"
#include "core/net/http_types.hpp"

namespace coibridge::core {

// Where connectors hand inbound events. publish() returns only after PostgreSQL committed the
// event and its outbox rows, so a connector acknowledges its peer (IMAP checkpoint, HTTP 200)
// only after the returned awaitable completed with a value. Safe to call from any executor.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual boost::asio::awaitable<Result<PublishOutcome>> publish(Event event) = 0;
  // Publishes events in their order in one transaction: one commit for all of them, which is
  // what lets a connector drain a backlog quickly. Returns one outcome per event processed,
  // a prefix of `events`: processing ends after the first event marked stop_if_unlinked whose
  // outcome is kUnlinked (that event is not written). An event the router refuses (no origin)
  // gets its error in its slot and the others go on. The outer error means nothing of the
  // batch was committed. The caller keeps the events (they must outlive the call): after a
  // stop it publishes the rest again from them.
  virtual boost::asio::awaitable<Result<std::vector<Result<PublishOutcome>>>> publish_batch(
      std::span<const BatchEvent> events) = 0;
  // An inbound item this connector could not parse or map. It is logged, counted and parked
  // as a dead letter (raw: an excerpt of the input), so the connector can acknowledge it and
  // move on instead of blocking its source.
  virtual boost::asio::awaitable<Status> reject(std::string connector, std::string reason,
                                                std::string raw) = 0;
};

// What the bridge knows of messages it has seen, read-only: for networks whose messages name
// other messages (a reply, a receipt, a redaction) without saying where those belong.
class MessageMap {
 public:
  virtual ~MessageMap() = default;
  // The conversation a message of this network belongs to, when the message map knows it: for
  // networks whose messages do not name their conversation (a mail answering into a group).
  virtual boost::asio::awaitable<Result<std::optional<ConversationRef>>> conversation_of(
      RemoteMessageRef ref) = 0;
  // The same for many messages of one network in one round trip: message id -> conversation
  // id, for the messages the map knows.
  virtual boost::asio::awaitable<Result<std::map<std::string, std::string>>> conversations_of(
      std::string connector, std::vector<std::string> ids) = 0;
  // The event an earlier message of this network became (its origin is `ref`), if any.
  virtual boost::asio::awaitable<Result<std::optional<Event>>> event_by_origin(
      RemoteMessageRef ref) = 0;
  // See EventStore::newest_of.
  virtual boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> newest_of(
      std::vector<RemoteMessageRef> refs) = 0;
  // See EventStore::reaction_delivered.
  virtual boost::asio::awaitable<Result<std::optional<std::string>>> reaction_delivered(
      ConversationRef where, std::string who, RemoteMessageRef target,
      std::string target_connector) = 0;
};

// One delivery of one event to one target conversation.
// The message a reply answers, as the bridge knows it: for networks whose replies carry the
// quoted text (mail's "> " quote, XEP-0461's fallback).
struct QuotedMessage {
  ActorRef who;
  std::string text;  // its text, or the name of its first file when it has no text
};

struct Delivery {
  EventId event_id;  // idempotency key: the same event id must never post twice
  ConversationRef target;
  Event event;  // message references already translated to the target network where known
  int attempt = 1;
  std::optional<QuotedMessage> quoted;  // a posted reply: what it answers, when known
};

// Direct chats between people of two networks. A person writing to another network's person
// (a Matrix user inviting a mail contact's ghost, a mail user writing to a Matrix user's
// puppet address) gets a direct chat on each side and a bridge linking the two.
class DirectChats {
 public:
  virtual ~DirectChats() = default;
  // `here` is the direct chat on the requesting connector, `requester` the person there who
  // started it; `target_person` is the id of the person on `target_connector`. Asks that
  // connector for its side of the chat (Connector::open_direct_chat) and links both in a new
  // bridge. Returns the target's conversation. kConflict when `here` is linked already.
  virtual boost::asio::awaitable<Result<ConversationRef>> link(ConversationRef here,
                                                               ActorRef requester,
                                                               std::string target_connector,
                                                               std::string target_person) = 0;
};

// One conversation's link in a bridge, as the core tells the conversation's connector about
// it (Connector::linked / unlinked).
struct PortalLink {
  std::int64_t bridge_id = 0;
  std::string bridge_name;
  std::string conversation;  // the remote id on the connector told
};

// Bridges a connector makes and unmakes for its users (a Matrix admin's `link` and `unlink`
// in the bot's management room), as the REST API does for an admin token. The connector
// checks who may; these calls do not.
class PortalLinks {
 public:
  virtual ~PortalLinks() = default;
  // A new bridge linking `a` and `b` (two different connectors; kInvalidArgument otherwise,
  // kNotFound when one is not a connector of this process, kConflict when either is linked
  // already, and then nothing is left behind). `actor` goes to the audit log. Both
  // connectors are told (Connector::linked) before this returns. The new bridge's id.
  virtual boost::asio::awaitable<Result<std::int64_t>> link(ConversationRef a, ConversationRef b,
                                                            std::string actor) = 0;
  // Removes the link of `conversation` (kNotFound when it has none); the bridge goes too when
  // fewer than two links would remain. Returns the conversations it was linked with. The
  // connector of `conversation` is told (Connector::unlinked) before this returns.
  virtual boost::asio::awaitable<Result<std::vector<ConversationRef>>> unlink(
      ConversationRef conversation, std::string actor) = 0;
  // History for a bridge just made: of each linked conversation's newest `messages` messages,
  // those kept while nothing linked it go to the other conversations (EventStore::backfill).
  // The number of deliveries queued; kInvalidArgument where the process offers no backfill.
  virtual boost::asio::awaitable<Result<int>> backfill(std::int64_t bridge_id, int messages) = 0;
};

struct ConnectorContext {
  boost::asio::any_io_executor executor;  // the connector's strand
  EventSink& sink;
  MessageMap& messages;
  DirectChats* direct_chats = nullptr;  // null where the process offers none (tests)
  // A thread pool for CPU-bound work (parsing a batch of mail) that would hold up the I/O
  // thread; use with core::offload. Empty (tests): the work runs in place.
  boost::asio::any_io_executor compute{};
  PortalLinks* portal_links = nullptr;  // null where the process offers none (tests)
};

// How a connector claims an HTTP request: not at all, by its path, or by its path and the
// credentials that identify this instance (the hs_token of a Matrix registration).
enum class HttpClaim { kNone, kPath, kInstance };

class Connector {
 public:
  virtual ~Connector() = default;

  // The instance name, unique in the process; it is the `connector` field of every reference
  // this instance produces and of the links that target it.
  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;

  // Receives from the network and publishes through ctx.sink until cancelled. Called once,
  // on ctx.executor. Returning (or throwing) ends the connector; the supervisor restarts it.
  virtual boost::asio::awaitable<void> run(ConnectorContext& ctx) = 0;

  // Delivers one event. Called by the delivery worker of the target conversation, one call
  // in flight per conversation. Must be idempotent on delivery.event_id: a retry after a
  // crash may repeat a delivery that already succeeded. Errors of kind kUnavailable are
  // retried with backoff; any other error dead-letters the delivery at once.
  virtual boost::asio::awaitable<Result<RemoteMessageRef>> deliver(const Delivery& delivery) = 0;

  // Whether the actor is one this connector itself represents (a puppet of a person on
  // another network), so that its events are echoes of our own deliveries.
  virtual bool is_own_actor(const ActorRef& /*actor*/) const { return false; }

  // This network's side of a direct chat between `person` (an id on this network) and
  // `other`, a person of another network who appears here as a puppet or ghost: an existing
  // conversation id, or a new one this call created. kPermanent when the connector has no
  // direct chats.
  virtual boost::asio::awaitable<Result<std::string>> open_direct_chat(std::string /*person*/,
                                                                       ActorRef /*other*/) {
    co_return Error::permanent("connector " + std::string(name()) + " has no direct chats");
  }

  // One of this connector's conversations was linked into a bridge (by the REST API or by
  // PortalLinks), or its link was removed: a chance to tell the network (Matrix rooms carry
  // MSC2346 bridge info). Called after the change is committed, on any executor; a failure
  // is logged by the caller and changes nothing else. Must tolerate repeats.
  virtual boost::asio::awaitable<Status> linked(PortalLink /*link*/) { co_return Status{}; }
  virtual boost::asio::awaitable<Status> unlinked(PortalLink /*link*/) { co_return Status{}; }

  // Checks that must pass before the bridge serves: credentials, registrations, reachability
  // of a peer that cannot be retried into working. Runs after the HTTP server listens (a
  // peer may call back) and before run(); an error ends start-up with its message.
  virtual boost::asio::awaitable<Status> preflight() { co_return Status{}; }

  // Push-based networks (a Matrix homeserver, Slack's Events API) call the bridge over HTTP.
  // A connector claims requests here; the server hands each to the strongest claim (the first
  // instance among equals), so several instances of one type share a path space and each
  // gets the requests that carry its own credentials. The response must be sent only after
  // what the request carried is committed (or rejected).
  virtual HttpClaim claims_http(const HttpRequest& /*request*/) const { return HttpClaim::kNone; }
  // The largest request body this connector takes on the paths it claims; 0: the server's
  // http.max_body_bytes.
  virtual std::size_t http_body_limit() const { return 0; }
  virtual boost::asio::awaitable<HttpResponse> handle_http(const HttpRequest& /*request*/) {
    co_return HttpResponse::json(404, R"({"error":"not found"})");
  }
};

using ConnectorPtr = std::shared_ptr<Connector>;

}  // namespace coibridge::core
