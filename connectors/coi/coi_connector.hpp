#pragma once
// The COI / Delta Chat connector: one mail account the bridge owns. It watches the account's
// INBOX over IMAP (IDLE), turns chat mail into events, and delivers events as chat mail over
// SMTP submission.
//
// Durability: the IMAP checkpoint (UIDVALIDITY, last UID) advances only after every message
// up to it was published (committed) or rejected as a dead letter; after a crash or a
// UIDVALIDITY change the mailbox is re-read and the router's Message-ID dedupe drops what was
// seen. Deliveries are idempotent through their Message-ID, derived from the event id.

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "connectors/coi/coi_addresses.hpp"
#include "connectors/coi/coi_config.hpp"
#include "connectors/coi/group_state.hpp"
#include "connectors/coi/imap/imap_session.hpp"
#include "connectors/coi/inbound_mail.hpp"
#include "connectors/coi/mail_mapping.hpp"
#include "connectors/coi/mime/chat_mail.hpp"
#include "connectors/coi/smtp/smtp_client.hpp"
#include "core/connector/connector.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/blob_store.hpp"
#include "core/store/checkpoint_store.hpp"
#include "core/store/conversation_state_store.hpp"

namespace coibridge::connectors::coi {

class CoiConnector final : public core::Connector {
 public:
  struct Stores {
    core::CheckpointStore& checkpoints;
    core::BlobStore& blobs;
    core::ConversationStateStore& conversations;
  };
  CoiConnector(CoiConnectorConfig config, Stores stores, core::MetricsRegistry& metrics);

  std::string_view name() const override { return config_.name; }
  core::Capabilities capabilities() const override;
  boost::asio::awaitable<void> run(core::ConnectorContext& ctx) override;
  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> deliver(
      const core::Delivery& delivery) override;
  bool is_own_actor(const core::ActorRef& actor) const override;
  boost::asio::awaitable<core::Result<std::string>> open_direct_chat(std::string person,
                                                                     core::ActorRef other) override;

 private:
  // One mailbox, reconnecting with backoff, until cancelled.
  boost::asio::awaitable<void> watch_forever(core::ConnectorContext& ctx, std::string mailbox);
  // One connected session: drain what is new, then wait in IDLE; returns on any error.
  // A backlog is read as a pipeline: while batch n is committed, batch n+1 is parsed (off
  // the I/O thread) and batch n+2 is fetched.
  boost::asio::awaitable<core::Status> watch(core::ConnectorContext& ctx,
                                             imap::ImapSession& session,
                                             const std::string& mailbox);
  struct Batch;
  struct HeldMail;
  struct Holding;
  // Parses and maps a fetched batch on ctx.compute.
  boost::asio::awaitable<core::Status> prepare(core::ConnectorContext& ctx, Batch& batch);
  // Publishes (or rejects) a prepared batch, and the held mails it lets go, then saves the
  // checkpoint: up to the oldest mail still held. An error means: the checkpoint stays where
  // it was. An empty batch places held mails that stopped waiting.
  boost::asio::awaitable<core::Status> commit(core::ConnectorContext& ctx, Batch& batch,
                                              const std::string& mailbox, std::uint32_t uidvalidity,
                                              Holding& holding);
  struct Pending;
  // Places the held mails whose group is known now, in chain order, then those that stop
  // waiting (group_threads.hpp).
  boost::asio::awaitable<core::Status> release_held(Pending& pending, Holding& holding);
  // The ad-hoc groups of the messages a mail names, as far as this commit knows them.
  std::vector<std::string> chain_groups(const Pending& pending, const mime::ParsedMail& mail) const;
  // The ad-hoc group of a mail (group_threads.hpp), or nullopt: wait for what it names. With
  // give_up, never nullopt.
  boost::asio::awaitable<core::Result<std::optional<std::string>>> adhoc_group_of(
      Pending& pending, const mime::ParsedMail& mail, bool give_up);
  // Several conversations that are one group: merged (ConversationStateStore::merge) into
  // the survivor, which is returned; what this commit placed follows it.
  boost::asio::awaitable<core::Result<std::string>> unite(Pending& pending,
                                                          std::vector<std::string> groups);
  // The group's state, loaded once per commit.
  boost::asio::awaitable<core::Result<GroupState*>> group_state(Pending& pending,
                                                                const std::string& conversation);
  // Queues a mapped mail's event (and member-joined events for group members it addressed
  // first) for publishing.
  boost::asio::awaitable<core::Status> place(Pending& pending, MappedMail& mapped,
                                             const imap::FetchedMessage* source);
  // Publishes the events a batch became in one transaction, in order; acts on mail to a
  // puppet whose direct chat is not linked yet (publish_direct) before going on.
  boost::asio::awaitable<core::Status> publish_pending(core::ConnectorContext& ctx,
                                                       Pending& pending);
  // Mail to a puppet belongs to the 1:1 chat with that person, which is not linked yet.
  boost::asio::awaitable<core::Status> publish_direct(core::ConnectorContext& ctx,
                                                      core::Event event,
                                                      const imap::FetchedMessage& message);
  // What a refused publish becomes: a dead letter for a refused event, else a retry.
  boost::asio::awaitable<core::Status> refused(core::ConnectorContext& ctx,
                                               const core::Error& error,
                                               const imap::FetchedMessage& message);
  // Moves the mail's attachment bytes into the blob store and points the event at them.
  boost::asio::awaitable<core::Status> store_attachments(core::Event& event,
                                                         const mime::ParsedMail& mail);
  // Fills the outgoing mail's attachment bytes from the blob store.
  boost::asio::awaitable<core::Status> load_attachments(const core::Event& event,
                                                        mime::OutgoingMail& mail);

  MappingContext mapping() const {
    return MappingContext{config_.name, addresses_, config_.max_attachment_bytes};
  }

  CoiConnectorConfig config_;
  core::CheckpointStore& checkpoints_;
  core::BlobStore& blobs_;
  core::ConversationStateStore& conversations_;
  core::MetricsRegistry& metrics_;
  AddressBook addresses_;
  imap::ImapEndpoint imap_;
  smtp::SmtpEndpoint smtp_;
  // Deliveries share logged-in SMTP sessions: a backlog pays connect, TLS and AUTH once.
  smtp::SmtpSender smtp_sender_;
};

}  // namespace coibridge::connectors::coi
