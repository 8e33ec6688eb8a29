#include "connectors/coi/coi_connector.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "connectors/coi/imap/coi_server.hpp"
#include "connectors/coi/mail_mapping.hpp"
#include "connectors/coi/mime/mime_compose.hpp"
#include "connectors/coi/mime/mime_parse.hpp"
#include "core/net/backoff.hpp"

namespace coibridge::connectors::coi {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

constexpr const char* kInbox = "INBOX";
// RFC 2177 §3: re-issue IDLE at least every 29 minutes so servers do not drop the session.
constexpr std::chrono::minutes kIdleRefresh{25};
constexpr std::size_t kFetchBatch = 50;

// The IMAP and SMTP endpoints have the same shape; one mapping from the config serves both.
template <class Endpoint>
Endpoint endpoint_from(const core::MailServerConfig& server) {
  using TlsMode = decltype(Endpoint::tls);
  Endpoint ep;
  ep.host = server.host;
  ep.port = server.port;
  ep.tls = server.tls == "starttls" ? TlsMode::kStartTls : server.tls == "none" ? TlsMode::kNone : TlsMode::kImplicit;
  ep.ca_file = server.ca_file;
  ep.verify_peer = server.verify_certificate;
  ep.username = server.username;
  ep.password = server.password;
  return ep;
}

}  // namespace

CoiConnector::CoiConnector(core::CoiConnectorConfig config, Stores stores, core::MetricsRegistry& metrics)
    : config_(std::move(config)),
      checkpoints_(stores.checkpoints),
      blobs_(stores.blobs),
      conversations_(stores.conversations),
      metrics_(metrics),
      addresses_(config_.address),
      imap_(endpoint_from<imap::ImapEndpoint>(config_.imap)),
      smtp_(endpoint_from<smtp::SmtpEndpoint>(config_.smtp)) {
  imap_.max_message_bytes = config_.max_message_bytes;
}

core::Capabilities CoiConnector::capabilities() const {
  return {core::Capability::kEdit, core::Capability::kDelete, core::Capability::kReaction,
          core::Capability::kReadReceipt, core::Capability::kReply, core::Capability::kAttachments};
}

bool CoiConnector::is_own_actor(const core::ActorRef& actor) const {
  return actor.connector == config_.name && addresses_.is_ours(actor.remote_id);
}

awaitable<core::Result<std::string>> CoiConnector::open_direct_chat(std::string person, core::ActorRef other) {
  // A mail chat needs no creating: it is the puppet's address and the person's.
  if (person.find('@') == std::string::npos) co_return core::Error::invalid("person", "not a mail address: " + person);
  co_return dm_conversation(person, addresses_.puppet_address(other.connector, other.remote_id));
}

awaitable<void> CoiConnector::run(core::ConnectorContext& ctx) {
  // Which folders to watch: INBOX, and on a COI server with server-side filtering its Chats
  // folder too (coi_server.hpp). Asked once per start; a folder added later needs a restart.
  const core::BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(60)};
  asio::steady_timer timer(ctx.executor);
  std::optional<std::string> chats;
  for (int failures = 1;; ++failures) {
    auto session = co_await imap::ImapSession::connect(ctx.executor, imap_);
    core::Result<std::optional<std::string>> found = core::Error::unavailable("not connected");
    if (session) {
      found = co_await imap::coi_chats_folder(**session);
      (void)co_await (*session)->logout();
    } else {
      found = session.error();
    }
    if (found) {
      chats = *found;
      break;
    }
    spdlog::warn("coi {}: {}; reconnecting", config_.name, found.error().message);
    timer.expires_after(core::backoff_delay(backoff, failures, 0.5));
    co_await timer.async_wait(asio::use_awaitable);  // cancellation ends the connector
  }
  if (chats) {
    spdlog::info("coi {}: COI server: watching {} besides {}", config_.name, *chats, kInbox);
    co_await (watch_forever(ctx, kInbox) && watch_forever(ctx, *chats));
  } else {
    co_await watch_forever(ctx, kInbox);
  }
}

awaitable<void> CoiConnector::watch_forever(core::ConnectorContext& ctx, std::string mailbox) {
  const core::BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(60)};
  asio::steady_timer timer(ctx.executor);
  int failures = 0;
  for (;;) {
    // No co_await inside a conditional expression: g++ 12 mishandles the temporaries.
    core::Status st;
    auto session = co_await imap::ImapSession::connect(ctx.executor, imap_);
    if (session) {
      st = co_await watch(ctx, **session, mailbox);
    } else {
      st = session.error();
    }
    if (!st) {
      ++failures;
      spdlog::warn("coi {}: {}: {}; reconnecting", config_.name, mailbox, st.error().message);
      metrics_.counter("coibridge_coi_reconnects_total", "IMAP sessions re-established after an error",
                       {{"connector", config_.name}})
          .inc();
    } else {
      failures = 0;
    }
    timer.expires_after(core::backoff_delay(backoff, failures, 0.5));
    co_await timer.async_wait(asio::use_awaitable);  // cancellation ends the connector
  }
}

awaitable<core::Status> CoiConnector::watch(core::ConnectorContext& ctx, imap::ImapSession& session,
                                            const std::string& mailbox) {
  auto state = co_await session.select(mailbox);
  if (!state) co_return state.error();
  auto saved = co_await checkpoints_.load(config_.name, mailbox);
  if (!saved) co_return saved.error();
  std::uint64_t last = 0;
  if (*saved && (*saved)->uidvalidity == state->uidvalidity) {
    last = (*saved)->last_uid;
  } else if (*saved) {
    // RFC 3501 §2.3.1.1: UIDs of the old UIDVALIDITY mean nothing now. Re-read everything;
    // Message-ID dedupe keeps what was relayed from being relayed again.
    spdlog::warn("coi {}: UIDVALIDITY of {} changed ({} -> {}); resynchronising", config_.name, mailbox,
                 (*saved)->uidvalidity, state->uidvalidity);
  }
  spdlog::info("coi {}: watching {} from UID {}", config_.name, mailbox, last + 1);

  for (;;) {
    auto batch = co_await session.fetch_from(static_cast<std::uint32_t>(last + 1), kFetchBatch);
    if (!batch) co_return batch.error();
    for (const auto& message : *batch) {
      if (auto st = co_await take(ctx, message); !st) co_return st;
      last = message.uid;
    }
    if (!batch->empty()) {
      if (auto st = co_await checkpoints_.save(config_.name, mailbox, {state->uidvalidity, last}); !st) co_return st;
    }
    if (batch->size() == kFetchBatch) continue;
    auto idle = co_await session.idle(std::chrono::duration_cast<std::chrono::seconds>(kIdleRefresh));
    if (!idle) co_return idle.error();
  }
}

awaitable<core::Status> CoiConnector::take(core::ConnectorContext& ctx, const imap::FetchedMessage& message) {
  if (message.too_large) {
    // Not downloaded at all; parked with its size so an operator can see what was dropped.
    co_return co_await ctx.sink.reject(config_.name,
                                       "UID " + std::to_string(message.uid) + ": " + std::to_string(message.size) +
                                           " bytes exceed max_message_bytes (" +
                                           std::to_string(config_.max_message_bytes) + ")",
                                       std::string());
  }
  auto parsed = mime::parse_mail(message.body, {config_.max_message_bytes});
  if (!parsed) {
    co_return co_await ctx.sink.reject(config_.name, "UID " + std::to_string(message.uid) + ": " + parsed.error().message,
                                       message.body);
  }
  auto mapped = event_from_mail(*parsed, MappingContext{config_.name, addresses_, config_.max_attachment_bytes});
  if (auto* skip = std::get_if<Skip>(&mapped)) {
    spdlog::debug("coi {}: UID {} not relayed: {}", config_.name, message.uid, skip->reason);
    metrics_.counter("coibridge_coi_skipped_total", "Mails read but not relayed", {{"connector", config_.name}}).inc();
    co_return core::Status{};
  }
  auto& event = std::get<core::Event>(mapped);
  if (auto st = co_await store_attachments(event, *parsed); !st) co_return st;
  if (adhoc_root_of(event.where.remote_id)) {
    // Delta Chat's References name the parent chain, not always the group's first mail: the
    // group is the one a referenced mail belongs to, newest reference first.
    std::vector<std::string> ids = parsed->in_reply_to;
    ids.insert(ids.end(), parsed->references.rbegin(), parsed->references.rend());
    for (const auto& id : ids) {
      const core::RemoteMessageRef ref{config_.name, id};  // named: see run()
      auto known = co_await ctx.sink.conversation_of(ref);
      if (!known) co_return known.error();
      if (*known && adhoc_root_of((*known)->remote_id)) {
        event.where.remote_id = (*known)->remote_id;
        break;
      }
    }
  }
  if (is_group_conversation(event.where.remote_id)) {
    auto added = co_await observe_group(event.where.remote_id, *parsed);
    if (!added) co_return added.error();
    for (const auto& member : *added) {
      if (addresses_.is_ours(member)) continue;
      // One event per member this mail addressed first; its origin is derived from the mail,
      // so a re-read publishes nothing twice.
      core::Event joined;
      joined.where = event.where;
      joined.who = event.who;
      joined.origin = {config_.name, parsed->message_id + "#joined:" + member};
      joined.at = event.at;
      joined.payload = core::MemberJoined{core::ActorRef{config_.name, member, ""}};
      auto out = co_await ctx.sink.publish(std::move(joined));
      if (!out) co_return out.error();
    }
  }
  auto again = event;
  auto outcome = co_await ctx.sink.publish(std::move(event));
  if (outcome && outcome->status == core::PublishStatus::kUnlinked && dm_puppet(again.where.remote_id)) {
    // Mail to a puppet belongs to the 1:1 chat with that person. Not linked yet: a direct
    // chat is opened on the puppet's network when it has them; else, when the chat with the
    // bridge account is linked (a room whose people all write through puppets), it goes there.
    const auto puppet = addresses_.parse_puppet(*dm_puppet(again.where.remote_id));
    bool opened = false;
    if (puppet && ctx.direct_chats != nullptr && puppet->connector != config_.name) {
      auto linked = co_await ctx.direct_chats->link(again.where, again.who, puppet->connector, puppet->remote_id);
      opened = linked.ok() || linked.error().kind == core::ErrorKind::kConflict;
      if (!linked && linked.error().kind == core::ErrorKind::kUnavailable) co_return linked.error();
      if (!linked) spdlog::debug("coi {}: no direct chat with {}: {}", config_.name, puppet->remote_id, linked.error().message);
    }
    if (!opened) again.where.remote_id = dm_conversation(*dm_peer(again.where.remote_id));
    outcome = co_await ctx.sink.publish(std::move(again));
  }
  if (!outcome) {
    if (outcome.error().kind == core::ErrorKind::kInvalidArgument) {
      co_return co_await ctx.sink.reject(config_.name, outcome.error().message, message.body);
    }
    co_return outcome.error();
  }
  co_return core::Status{};
}

awaitable<core::Result<std::vector<std::string>>> CoiConnector::observe_group(const std::string& conversation,
                                                                             const mime::ParsedMail& mail) {
  auto saved = co_await conversations_.load(config_.name, conversation);
  if (!saved) co_return saved.error();
  GroupState state = *saved ? group_state_from_json(**saved) : GroupState{};
  auto added = observe_group_mail(state, mail);
  if (auto root = adhoc_root_of(conversation)) state.root = *root;
  if (auto st = co_await conversations_.save(config_.name, conversation, to_json(state)); !st) co_return st.error();
  co_return added;
}

awaitable<core::Status> CoiConnector::store_attachments(core::Event& event, const mime::ParsedMail& mail) {
  auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  for (auto& file : posted->body.attachments) {
    const auto index = mail_part_index(file.location);
    if (!index || *index >= mail.attachments.size()) continue;
    const auto& part = mail.attachments[*index];
    auto location = co_await blobs_.put(part.content_type, part.data);
    if (!location) co_return location.error();  // the checkpoint stays; the mail is read again
    file.location = std::move(*location);
  }
  co_return core::Status{};
}

awaitable<core::Status> CoiConnector::load_attachments(const core::Event& event, mime::OutgoingMail& mail) {
  const auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  std::vector<mime::MailAttachment> loaded;
  for (std::size_t i = 0; i < posted->body.attachments.size() && i < mail.attachments.size(); ++i) {
    const auto& file = posted->body.attachments[i];
    auto& part = mail.attachments[i];
    if (file.size > config_.max_attachment_bytes) {
      mail.text += "\n[attachment \"" + file.filename + "\" (" + std::to_string(file.size) +
                   " bytes) left out: over the bridge's limit]";
      continue;
    }
    auto blob = co_await blobs_.get(file.location);
    if (!blob) {
      // A purged or foreign location can never be delivered; a database outage can.
      if (blob.error().kind == core::ErrorKind::kUnavailable) co_return blob.error();
      co_return core::Error::permanent("attachment \"" + file.filename + "\": " + blob.error().message);
    }
    part.data = std::move(blob->data);
    if (part.content_type.empty()) part.content_type = blob->content_type;
    loaded.push_back(std::move(part));
  }
  mail.attachments = std::move(loaded);
  co_return core::Status{};
}

awaitable<core::Result<core::RemoteMessageRef>> CoiConnector::deliver(const core::Delivery& delivery) {
  const IdentityOptions identity{config_.identity == "relay", config_.display_name};
  std::optional<GroupState> group;
  if (is_group_conversation(delivery.target.remote_id)) {
    auto saved = co_await conversations_.load(config_.name, delivery.target.remote_id);
    if (!saved) co_return saved.error();
    if (*saved) group = group_state_from_json(**saved);
  }
  auto mail = mail_for_delivery(delivery, MappingContext{config_.name, addresses_, config_.max_attachment_bytes},
                                identity, group ? &*group : nullptr);
  if (!mail) co_return mail.error();
  if (!*mail) co_return core::RemoteMessageRef{config_.name, ""};  // nothing the mail side can show
  if (auto st = co_await load_attachments(delivery.event, **mail); !st) co_return st.error();
  auto bytes = mime::compose_mail(**mail);
  if (!bytes) co_return core::Error::permanent("cannot compose the mail: " + bytes.error().message);
  // A named envelope: g++ 12 destroys aggregate temporaries inside a co_await expression twice.
  smtp::Envelope envelope{config_.address, {}};
  for (const auto& to : (*mail)->to) envelope.rcpt_to.push_back(to.address);
  auto ex = co_await asio::this_coro::executor;
  auto st = co_await smtp::send_mail(ex, smtp_, envelope, *bytes);
  if (!st) co_return st.error();
  co_return core::RemoteMessageRef{config_.name, (*mail)->message_id};
}

}  // namespace coibridge::connectors::coi
