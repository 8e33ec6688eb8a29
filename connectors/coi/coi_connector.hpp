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
#include "connectors/coi/mail_date_clock.hpp"
#include "connectors/coi/mail_mapping.hpp"
#include "connectors/coi/mail_submission.hpp"
#include "connectors/coi/mailbox_reader.hpp"
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
  using Stores = MailboxReader::Stores;
  // Mail goes out through `submission`; by default SMTP submission to config.smtp.
  CoiConnector(CoiConnectorConfig config, Stores stores, core::MetricsRegistry& metrics,
               std::unique_ptr<MailSubmission> submission = nullptr);

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
  // Fills the outgoing mail's attachment bytes from the blob store.
  boost::asio::awaitable<core::Status> load_attachments(const core::Event& event,
                                                        mime::OutgoingMail& mail);
  // Gives a mail that adds to the conversation its own Date second (mail_date_clock.hpp) and
  // waits until that second may go out.
  boost::asio::awaitable<core::Status> stamp_date(const core::Delivery& delivery,
                                                  mime::OutgoingMail& mail);

  MappingContext mapping() const {
    return MappingContext{config_.name, addresses_, config_.max_attachment_bytes};
  }

  CoiConnectorConfig config_;
  core::BlobStore& blobs_;
  core::ConversationStateStore& conversations_;
  core::MetricsRegistry& metrics_;
  AddressBook addresses_;
  MailboxReader reader_;
  MailDateClock dates_;
  imap::ImapEndpoint imap_;
  std::unique_ptr<MailSubmission> submission_;
};

}  // namespace coibridge::connectors::coi
