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
#include "core/net/backoff.hpp"

namespace coibridge::connectors::coi {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

constexpr const char* kInbox = "INBOX";

// The IMAP and SMTP endpoints have the same shape; one mapping from the config serves both.
template <class Endpoint>
Endpoint endpoint_from(const MailServerConfig& server) {
  using TlsMode = decltype(Endpoint::tls);
  Endpoint ep;
  ep.host = server.host;
  ep.port = server.port;
  ep.tls = server.tls == MailTls::kStartTls ? TlsMode::kStartTls
           : server.tls == MailTls::kNone   ? TlsMode::kNone
                                            : TlsMode::kImplicit;
  ep.ca_file = server.ca_file;
  ep.verify_peer = server.verify_certificate;
  ep.username = server.username;
  ep.password = server.password;
  return ep;
}

// The reader's mailbox is an IMAP session.
class SessionSource final : public MailboxSource {
 public:
  explicit SessionSource(imap::ImapSession& session) : session_(session) {}
  awaitable<core::Result<imap::MailboxState>> select(std::string mailbox) override {
    return session_.select(std::move(mailbox));
  }
  awaitable<core::Result<std::vector<imap::FetchedMessage>>> fetch_from(
      std::uint32_t from_uid, std::size_t max_count) override {
    return session_.fetch_from(from_uid, max_count);
  }
  awaitable<core::Result<imap::IdleResult>> idle(std::chrono::seconds max) override {
    return session_.idle(max);
  }

 private:
  imap::ImapSession& session_;
};

class SmtpSubmission final : public MailSubmission {
 public:
  explicit SmtpSubmission(smtp::SmtpEndpoint endpoint) : sender_(std::move(endpoint)) {}
  awaitable<core::Status> submit(const smtp::Envelope& envelope,
                                 const std::string& message) override {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await sender_.send(ex, envelope, message);
  }

 private:
  // Deliveries share logged-in SMTP sessions: a backlog pays connect, TLS and AUTH once.
  smtp::SmtpSender sender_;
};

}  // namespace

CoiConnector::CoiConnector(CoiConnectorConfig config, Stores stores, core::MetricsRegistry& metrics,
                           std::unique_ptr<MailSubmission> submission)
    : config_(std::move(config)),
      blobs_(stores.blobs),
      conversations_(stores.conversations),
      metrics_(metrics),
      addresses_(config_.address),
      reader_(config_, addresses_, stores, metrics),
      dates_(config_.name, stores.conversations, MailDateClock::Options{config_.date_lead}),
      imap_(endpoint_from<imap::ImapEndpoint>(config_.imap)),
      submission_(submission ? std::move(submission)
                             : std::make_unique<SmtpSubmission>(
                                   endpoint_from<smtp::SmtpEndpoint>(config_.smtp))) {
  imap_.max_message_bytes = config_.max_message_bytes;
}

core::Capabilities CoiConnector::capabilities() const {
  return {core::Capability::kEdit,     core::Capability::kDelete,
          core::Capability::kReaction, core::Capability::kReadReceipt,
          core::Capability::kReply,    core::Capability::kAttachments};
}

bool CoiConnector::is_own_actor(const core::ActorRef& actor) const {
  return actor.connector == config_.name && addresses_.is_ours(actor.remote_id);
}

awaitable<core::Result<std::string>> CoiConnector::open_direct_chat(std::string person,
                                                                    core::ActorRef other) {
  // A mail chat needs no creating: it is the puppet's address and the person's.
  if (person.find('@') == std::string::npos)
    co_return core::Error::invalid("person", "not a mail address: " + person);
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
      SessionSource source(**session);
      st = co_await reader_.watch(ctx, source, mailbox);
    } else {
      st = session.error();
    }
    if (!st) {
      ++failures;
      spdlog::warn("coi {}: {}: {}; reconnecting", config_.name, mailbox, st.error().message);
      metrics_
          .counter("coibridge_coi_reconnects_total", "IMAP sessions re-established after an error",
                   {{"connector", config_.name}})
          .inc();
    } else {
      failures = 0;
    }
    timer.expires_after(core::backoff_delay(backoff, failures, 0.5));
    co_await timer.async_wait(asio::use_awaitable);  // cancellation ends the connector
  }
}

awaitable<core::Status> CoiConnector::load_attachments(const core::Event& event,
                                                       mime::OutgoingMail& mail) {
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
      co_return core::Error::permanent("attachment \"" + file.filename +
                                       "\": " + blob.error().message);
    }
    part.data = std::move(blob->data);
    if (part.content_type.empty()) part.content_type = blob->content_type;
    loaded.push_back(std::move(part));
  }
  mail.attachments = std::move(loaded);
  co_return core::Status{};
}

awaitable<core::Status> CoiConnector::stamp_date(const core::Delivery& delivery,
                                                 mime::OutgoingMail& mail) {
  // Edits, deletions, reactions and receipts change what a chat shows already; they take no
  // place in its order, so they keep the event's time and never wait.
  const auto& payload = delivery.event.payload;
  if (std::holds_alternative<core::MessageEdited>(payload) ||
      std::holds_alternative<core::MessageDeleted>(payload) ||
      std::holds_alternative<core::ReactionChanged>(payload) ||
      std::holds_alternative<core::ReadUpTo>(payload)) {
    co_return core::Status{};
  }
  auto slot = co_await dates_.next(delivery.target.remote_id, delivery.event.at);
  if (!slot) co_return slot.error();
  const auto not_before =
      std::chrono::system_clock::time_point(std::chrono::seconds(slot->not_before));
  if (const auto wait = not_before - std::chrono::system_clock::now(); wait.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(wait);
    co_await timer.async_wait(asio::use_awaitable);
  }
  mail.date_unix = slot->date;
  co_return core::Status{};
}

awaitable<core::Result<core::RemoteMessageRef>> CoiConnector::deliver(
    const core::Delivery& delivery) {
  const IdentityOptions identity{config_.identity == MailIdentity::kRelay, config_.display_name};
  std::optional<GroupState> group;
  if (is_group_conversation(delivery.target.remote_id)) {
    auto saved = co_await conversations_.load(config_.name, delivery.target.remote_id);
    if (!saved) co_return saved.error();
    if (*saved) group = group_state_from_json(**saved);
  }
  auto mail = mail_for_delivery(delivery, mapping(), identity, group ? &*group : nullptr);
  if (!mail) co_return mail.error();
  if (!*mail) co_return core::RemoteMessageRef{config_.name, ""};  // nothing the mail side can show
  if (auto st = co_await load_attachments(delivery.event, **mail); !st) co_return st.error();
  if (auto st = co_await stamp_date(delivery, **mail); !st) co_return st.error();
  auto bytes = mime::compose_mail(**mail);
  if (!bytes) co_return core::Error::permanent("cannot compose the mail: " + bytes.error().message);
  // A named envelope: g++ 12 destroys aggregate temporaries inside a co_await expression twice.
  smtp::Envelope envelope{config_.address, {}};
  for (const auto& to : (*mail)->to) envelope.rcpt_to.push_back(to.address);
  auto st = co_await submission_->submit(envelope, *bytes);
  if (!st) co_return st.error();
  co_return core::RemoteMessageRef{config_.name, (*mail)->message_id};
}

}  // namespace coibridge::connectors::coi
