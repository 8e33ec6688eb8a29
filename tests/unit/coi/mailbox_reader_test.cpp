// The COI connector's inbound path without a server: mail bytes as IMAP fetched them are
// parsed, placed in their conversations, published and checkpointed (MailboxReader), against
// an in-memory mailbox, router and stores.

#include "connectors/coi/mailbox_reader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/this_coro.hpp>
#include <fstream>
#include <sstream>

#include "coi_fakes.hpp"
#include "connectors/coi/mime/gmime_init.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::connectors::coi {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kConnector = "coi";
constexpr const char* kBridge = "bridge@example.org";

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(COIBRIDGE_EML_FIXTURE_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A Delta Chat group mail (a Chat-Group-ID group) from Alice to the bridge and `to`.
std::string group_mail(const std::string& id, const std::string& to, const std::string& text,
                       const std::string& in_reply_to = "") {
  std::string mail =
      "From: Alice <alice@example.org>\r\n"
      "To: bridge@example.org, " +
      to +
      "\r\n"
      "Subject: Team\r\n"
      "Date: Tue, 07 Jan 2025 10:05:00 +0000\r\n"
      "Message-ID: <" +
      id + ">\r\n";
  if (!in_reply_to.empty()) mail += "In-Reply-To: <" + in_reply_to + ">\r\n";
  mail +=
      "Chat-Version: 1.0\r\n"
      "Chat-Group-ID: TeamGroupId0001\r\n"
      "Chat-Group-Name: Team\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n" +
      text + "\r\n";
  return mail;
}

const std::string kGroup = group_conversation("TeamGroupId0001");

class MailboxReaderTest : public ::testing::Test {
 protected:
  MailboxReaderTest() {
    mime::ensure_gmime_initialized();
    config_.name = kConnector;
    config_.address = kBridge;
  }

  // One IMAP session: reads from the checkpoint until the mailbox has nothing new. Returns
  // how it ended: the mailbox's end of session when every batch was committed.
  core::Status session() {
    return coibridge::testing::run_awaitable([this]() -> boost::asio::awaitable<core::Status> {
      const auto executor = co_await boost::asio::this_coro::executor;
      core::ConnectorContext ctx{executor, sink_, messages_};
      co_return co_await reader_.watch(ctx, mailbox_, "INBOX");
    }());
  }
  static bool ended_cleanly(const core::Status& st) {
    return !st && st.error().message == fakes::FakeMailbox::kSessionEnd;
  }

  std::optional<std::uint64_t> checkpoint() const {
    auto it = checkpoints_.saved.find(std::string(kConnector) + "/INBOX");
    if (it == checkpoints_.saved.end()) return std::nullopt;
    EXPECT_EQ(it->second.uidvalidity, mailbox_.uidvalidity);
    return it->second.last_uid;
  }

  GroupState saved_group(const std::string& conversation) const {
    auto it = conversations_.states.find(conversation);
    if (it == conversations_.states.end()) return {};
    return group_state_from_json(it->second);
  }

  double counter(const std::string& name, const std::string& help) {
    return metrics_.counter(name, help, {{"connector", kConnector}}).value();
  }

  CoiConnectorConfig config_;
  AddressBook addresses_{kBridge};
  fakes::FakeMailbox mailbox_;
  fakes::FakeSink sink_;
  fakes::EmptyMessageMap messages_;
  fakes::MemoryCheckpoints checkpoints_;
  fakes::MemoryBlobs blobs_;
  fakes::MemoryConversations conversations_;
  core::MetricsRegistry metrics_;
  MailboxReader reader_{config_, addresses_, {checkpoints_, blobs_, conversations_}, metrics_};
};

TEST_F(MailboxReaderTest, APlainChatMailIsAMessageInTheSendersDirectChat) {
  mailbox_.add(fixture("dc_1to1_plain.eml"));
  ASSERT_TRUE(ended_cleanly(session()));

  ASSERT_EQ(sink_.accepted.size(), 1u);
  const auto& event = sink_.accepted.front();
  EXPECT_EQ(event.where, (core::ConversationRef{kConnector, dm_conversation("alice@example.org")}));
  EXPECT_EQ(event.who.connector, kConnector);
  EXPECT_EQ(event.who.remote_id, "alice@example.org");
  EXPECT_EQ(event.who.display_name, "Alice DC");
  EXPECT_EQ(event.origin,
            (core::RemoteMessageRef{kConnector, "eb66f519-2f6f-4d5b-a4c4-6c1c7e1b9c01@localhost"}));
  const auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  ASSERT_NE(posted, nullptr);
  EXPECT_THAT(posted->body.text, StartsWith("Hello Bob from Delta Chat"));
  EXPECT_EQ(checkpoint(), 1u);
  // The conversation directory learns what the chat is.
  const auto& info = conversations_.infos.at(dm_conversation("alice@example.org"));
  EXPECT_EQ(info.kind, "direct");
  EXPECT_EQ(info.title, "Alice DC <alice@example.org>");
  EXPECT_EQ(info.members, std::vector<std::string>{"alice@example.org"});
}

TEST_F(MailboxReaderTest, AnAttachmentIsPublishedAsABlobOfItsBytes) {
  mailbox_.add(fixture("image_attachment.eml"));
  ASSERT_TRUE(ended_cleanly(session()));

  ASSERT_EQ(sink_.accepted.size(), 1u);
  const auto* posted = std::get_if<core::MessagePosted>(&sink_.accepted.front().payload);
  ASSERT_NE(posted, nullptr);
  ASSERT_EQ(posted->body.attachments.size(), 1u);
  const auto& file = posted->body.attachments.front();
  EXPECT_EQ(file.filename, "cat.png");
  ASSERT_TRUE(core::is_blob_location(file.location)) << file.location;
  ASSERT_TRUE(blobs_.blobs.contains(file.location));
  const auto& blob = blobs_.blobs.at(file.location);
  EXPECT_EQ(blob.content_type, "image/png");
  EXPECT_EQ(blob.data.size(), file.size);
  EXPECT_THAT(blob.data, StartsWith("\x89PNG"));
}

TEST_F(MailboxReaderTest, AMailReadAgainPublishesNothingTwice) {
  // The same mail twice in the box (copied back by a client), then the whole box again after
  // a UIDVALIDITY change: every reading offers the same origin, which the router dedupes.
  const auto mail = fixture("dc_1to1_plain.eml");
  mailbox_.add(mail);
  mailbox_.add(mail);
  ASSERT_TRUE(ended_cleanly(session()));
  EXPECT_EQ(checkpoint(), 2u);

  mailbox_.uidvalidity = 8;
  ASSERT_TRUE(ended_cleanly(session()));
  EXPECT_EQ(checkpoint(), 2u);

  ASSERT_EQ(sink_.attempted.size(), 4u);
  for (const auto& event : sink_.attempted) EXPECT_EQ(event.origin, sink_.accepted.front().origin);
  EXPECT_EQ(sink_.accepted.size(), 1u);
}

TEST_F(MailboxReaderTest, AMailThatCannotBeParsedIsDeadLetteredAndReadingGoesOn) {
  const auto garbage = fixture("binary_garbage.eml");
  mailbox_.add(garbage);
  mailbox_.add(fixture("dc_1to1_plain.eml"));
  ASSERT_TRUE(ended_cleanly(session()));

  ASSERT_EQ(sink_.rejected.size(), 1u);
  EXPECT_EQ(sink_.rejected.front().connector, kConnector);
  EXPECT_THAT(sink_.rejected.front().reason, StartsWith("UID 1: "));
  EXPECT_EQ(sink_.rejected.front().raw, garbage);
  ASSERT_EQ(sink_.accepted.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<core::MessagePosted>(sink_.accepted.front().payload));
  EXPECT_EQ(checkpoint(), 2u);
}

TEST_F(MailboxReaderTest, AMailThatIsNoChatIsSkippedAndCounted) {
  mailbox_.add(fixture("plain_email.eml"));
  ASSERT_TRUE(ended_cleanly(session()));

  EXPECT_TRUE(sink_.attempted.empty());
  EXPECT_TRUE(sink_.rejected.empty());
  EXPECT_EQ(counter("coibridge_coi_skipped_total", "Mails read but not relayed"), 1.0);
  EXPECT_EQ(checkpoint(), 1u);
}

TEST_F(MailboxReaderTest, AGroupMailIsPublishedInItsGroupAndRemembersTheMembers) {
  mailbox_.add(group_mail("team-1@example.org", "bob@example.org", "Hello team"));
  ASSERT_TRUE(ended_cleanly(session()));

  ASSERT_EQ(sink_.accepted.size(), 1u);
  EXPECT_EQ(sink_.accepted.front().where, (core::ConversationRef{kConnector, kGroup}));
  const auto state = saved_group(kGroup);
  EXPECT_EQ(state.name, "Team");
  EXPECT_EQ(state.members, (std::vector<std::string>{"alice@example.org", "bridge@example.org",
                                                     "bob@example.org"}));
  EXPECT_EQ(conversations_.infos.at(kGroup).kind, "group");
}

// A group member Delta Chat adds without announcing it (an unencrypted group) is just
// addressed from then on; the bridge announces a MemberJoined for them. When the batch that
// carries it fails to publish, the mail is read again, and the remembered members must not
// include them yet: else the re-read mail no longer announces them.
TEST_F(MailboxReaderTest, AMemberAddedInAFailedBatchIsAnnouncedWhenTheMailIsReadAgain) {
  mailbox_.add(group_mail("team-1@example.org", "bob@example.org", "Hello team"));
  ASSERT_TRUE(ended_cleanly(session()));
  ASSERT_EQ(checkpoint(), 1u);
  const auto before = saved_group(kGroup);

  mailbox_.add(group_mail("team-2@example.org", "bob@example.org, erin@example.net",
                          "Erin is with us", "team-1@example.org"));
  sink_.fail_batches = 1;
  const auto failed = session();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_THAT(failed.error().message, HasSubstr("unreachable"));
  // Nothing of the failed batch is acknowledged: neither the checkpoint nor the members.
  EXPECT_EQ(checkpoint(), 1u);
  EXPECT_EQ(saved_group(kGroup).members, before.members);
  ASSERT_EQ(sink_.accepted.size(), 1u);

  ASSERT_TRUE(ended_cleanly(session()));
  ASSERT_EQ(sink_.accepted.size(), 3u);
  const auto& joined = sink_.accepted[1];
  EXPECT_EQ(joined.where, (core::ConversationRef{kConnector, kGroup}));
  EXPECT_EQ(joined.who.remote_id, "alice@example.org");
  const auto* member = std::get_if<core::MemberJoined>(&joined.payload);
  ASSERT_NE(member, nullptr) << "the re-read mail announced no new member";
  EXPECT_EQ(member->member.remote_id, "erin@example.net");
  const auto* posted = std::get_if<core::MessagePosted>(&sink_.accepted[2].payload);
  ASSERT_NE(posted, nullptr);
  EXPECT_THAT(posted->body.text, StartsWith("Erin is with us"));
  EXPECT_EQ(checkpoint(), 2u);
  EXPECT_THAT(saved_group(kGroup).members, ::testing::Contains("erin@example.net"));
}

TEST_F(MailboxReaderTest, AnAnnouncedMemberAdditionIsAMemberJoinedOfItsOwn) {
  mailbox_.add(group_mail("team-1@example.org", "bob@example.org", "Hello team"));
  std::string added =
      group_mail("team-2@example.org", "bob@example.org, dave@example.org",
                 "Member dave@example.org added by alice@example.org.", "team-1@example.org");
  added.insert(added.find("MIME-Version"), "Chat-Group-Member-Added: dave@example.org\r\n");
  mailbox_.add(added);
  ASSERT_TRUE(ended_cleanly(session()));

  ASSERT_EQ(sink_.accepted.size(), 2u);
  const auto* member = std::get_if<core::MemberJoined>(&sink_.accepted[1].payload);
  ASSERT_NE(member, nullptr);
  EXPECT_EQ(member->member.remote_id, "dave@example.org");
  EXPECT_EQ(sink_.accepted[1].origin, (core::RemoteMessageRef{kConnector, "team-2@example.org"}));
  EXPECT_THAT(saved_group(kGroup).members, ::testing::Contains("dave@example.org"));
}

// Delta Chat gives each message its own later Date second; the mail server may deliver a
// burst in another order. A direct chat's mails read together go out in Date order.
TEST_F(MailboxReaderTest, ADirectChatsMailsDeliveredOutOfOrderArePublishedByDate) {
  const auto mail = [](const std::string& id, const std::string& second, const std::string& text) {
    return "From: Alice <alice@example.org>\r\nTo: bridge@example.org\r\nSubject: x\r\n"
           "Date: Tue, 07 Jan 2025 10:05:" +
           second + " +0000\r\nMessage-ID: <" + id +
           ">\r\nChat-Version: 1.0\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
           text + "\r\n";
  };
  // In mailbox (UID) order: the first, then the third, then the second; and a group mail
  // between them, which keeps its place.
  mailbox_.add(mail("m1@example.org", "01", "one"));
  mailbox_.add(mail("m3@example.org", "03", "three"));
  mailbox_.add(group_mail("team-1@example.org", "bob@example.org", "group"));
  mailbox_.add(mail("m2@example.org", "02", "two"));
  ASSERT_TRUE(ended_cleanly(session()));
  std::vector<std::string> texts;
  for (const auto& event : sink_.accepted) {
    if (const auto* posted = std::get_if<core::MessagePosted>(&event.payload)) {
      texts.push_back(posted->body.text.substr(0, posted->body.text.find_first_of("\r\n")));
    }
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"one", "two", "group", "three"}));
  EXPECT_EQ(checkpoint(), 4u);
}

}  // namespace
}  // namespace coibridge::connectors::coi
