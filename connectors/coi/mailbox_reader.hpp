#pragma once
// The reading half of the COI connector: one mailbox drained as a pipeline of batches, each
// batch published in one transaction and then checkpointed, then IDLE. It reads through a
// MailboxSource, which the connector backs with an IMAP session (imap_session.hpp); so the
// path from fetched bytes to published events and saved group states runs without a server.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/coi/coi_addresses.hpp"
#include "connectors/coi/coi_config.hpp"
#include "connectors/coi/group_state.hpp"
#include "connectors/coi/imap/imap_types.hpp"
#include "connectors/coi/inbound_mail.hpp"
#include "connectors/coi/mail_mapping.hpp"
#include "core/connector/connector.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/blob_store.hpp"
#include "core/store/checkpoint_store.hpp"
#include "core/store/conversation_state_store.hpp"

namespace coibridge::connectors::coi {

// What reading needs of a connected, logged-in IMAP session (ImapSession has the contracts).
// Any error ends the reader's session; the caller reconnects and reading resumes from the
// checkpoint.
class MailboxSource {
 public:
  virtual ~MailboxSource() = default;
  virtual boost::asio::awaitable<core::Result<imap::MailboxState>> select(std::string mailbox) = 0;
  // Messages with UID >= from_uid, ascending, at most max_count.
  virtual boost::asio::awaitable<core::Result<std::vector<imap::FetchedMessage>>> fetch_from(
      std::uint32_t from_uid, std::size_t max_count) = 0;
  // Waits at most `max` for a change to the selected mailbox.
  virtual boost::asio::awaitable<core::Result<imap::IdleResult>> idle(std::chrono::seconds max) = 0;
};

class MailboxReader {
 public:
  struct Stores {
    core::CheckpointStore& checkpoints;
    core::BlobStore& blobs;
    core::ConversationStateStore& conversations;
  };
  // config and addresses must outlive the reader.
  MailboxReader(const CoiConnectorConfig& config, const AddressBook& addresses, Stores stores,
                core::MetricsRegistry& metrics);

  // One connected session, on ctx.executor: drain what is new from the checkpoint on, then
  // wait in IDLE; returns on any error (of the source, the sink or a store), with the
  // checkpoint after the last batch committed. A backlog is read as a pipeline: while batch
  // n is committed, batch n+1 is parsed (off the I/O thread) and batch n+2 is fetched.
  boost::asio::awaitable<core::Status> watch(core::ConnectorContext& ctx, MailboxSource& source,
                                             const std::string& mailbox);

 private:
  struct Batch;
  struct HeldMail;
  struct Holding;
  // Parses and maps a fetched batch on ctx.compute.
  boost::asio::awaitable<core::Status> prepare(core::ConnectorContext& ctx, Batch& batch);
  // Publishes (or rejects) a prepared batch, and the held mails it lets go, then saves the
  // group states it changed and the checkpoint: up to the oldest mail still held. An error
  // means: the checkpoint and the group states stay where they were. An empty batch places
  // held mails that stopped waiting.
  boost::asio::awaitable<core::Status> commit(core::ConnectorContext& ctx, Batch& batch,
                                              const std::string& mailbox, std::uint32_t uidvalidity,
                                              Holding& holding);
  struct Pending;
  // Direct chats' events of this commit in the order of their mails' Date.
  static void order_direct_chats_by_date(Pending& pending);
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
  // Tells the conversation directory what the 1:1 chat of a published event is (kind
  // "direct", the person's name and address), once per chat and process.
  boost::asio::awaitable<core::Status> describe_direct_chat(const core::Event& event);
  // Moves the mail's attachment bytes into the blob store and points the event at them.
  boost::asio::awaitable<core::Status> store_attachments(core::Event& event,
                                                         const mime::ParsedMail& mail);

  MappingContext mapping() const {
    return MappingContext{config_.name, addresses_, config_.max_attachment_bytes};
  }

  const CoiConnectorConfig& config_;
  const AddressBook& addresses_;
  core::CheckpointStore& checkpoints_;
  core::BlobStore& blobs_;
  core::ConversationStateStore& conversations_;
  core::MetricsRegistry& metrics_;
  // 1:1 chats this process has described to the conversation directory already.
  std::set<std::string> described_;
};

}  // namespace coibridge::connectors::coi
