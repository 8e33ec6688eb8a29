// CoiConnector::deliver without a mail server: the mail it composes for a delivery is caught
// by an in-memory MailSubmission and read back with the bridge's own parser.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "coi_fakes.hpp"
#include "connectors/coi/coi_connector.hpp"
#include "connectors/coi/mime/gmime_init.hpp"
#include "connectors/coi/mime/mime_parse.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::connectors::coi {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

constexpr const char* kConnector = "coi";

struct Submitted {
  smtp::Envelope envelope;
  std::string message;
};

class FakeSubmission final : public MailSubmission {
 public:
  explicit FakeSubmission(std::vector<Submitted>& out) : out_(out) {}
  std::optional<core::Error> fail_next;
  boost::asio::awaitable<core::Status> submit(const smtp::Envelope& envelope,
                                              const std::string& message) override {
    if (fail_next) {
      auto error = *fail_next;
      fail_next.reset();
      co_return error;
    }
    out_.push_back({envelope, message});
    co_return core::Status{};
  }

 private:
  std::vector<Submitted>& out_;
};

class CoiDeliverTest : public ::testing::Test {
 protected:
  CoiDeliverTest() {
    mime::ensure_gmime_initialized();
    CoiConnectorConfig config;
    config.name = kConnector;
    config.address = "bridge@example.org";
    auto submission = std::make_unique<FakeSubmission>(submitted_);
    submission_ = submission.get();
    connector_ = std::make_unique<CoiConnector>(
        config, CoiConnector::Stores{checkpoints_, blobs_, conversations_}, metrics_,
        std::move(submission));
  }

  static core::Delivery delivery(core::Payload payload,
                                 std::string target = "dm:alice@example.org") {
    core::Delivery d;
    d.event_id = core::EventId{"11111111-2222-4333-8444-555555555555"};
    d.target = {kConnector, std::move(target)};
    d.event.id = d.event_id;
    d.event.who = {"matrix", "@mia:matrix.test", "Mia Matrix"};
    d.event.at = core::Timestamp{std::chrono::seconds(1795000000)};
    d.event.payload = std::move(payload);
    return d;
  }

  core::Result<core::RemoteMessageRef> deliver(const core::Delivery& d) {
    return coibridge::testing::run_awaitable(connector_->deliver(d));
  }

  mime::ParsedMail parsed(std::size_t index) const {
    auto mail = mime::parse_mail(submitted_.at(index).message);
    EXPECT_TRUE(mail.ok()) << mail.error().message;
    return mail.ok() ? *mail : mime::ParsedMail{};
  }

  fakes::MemoryCheckpoints checkpoints_;
  fakes::MemoryBlobs blobs_;
  fakes::MemoryConversations conversations_;
  core::MetricsRegistry metrics_;
  std::vector<Submitted> submitted_;
  FakeSubmission* submission_ = nullptr;
  std::unique_ptr<CoiConnector> connector_;
};

TEST_F(CoiDeliverTest, AMessageIsOneChatMailFromThePuppetToThePerson) {
  const auto d = delivery(core::MessagePosted{{"hello Alice", std::nullopt, {}, std::nullopt}});
  auto ref = deliver(d);
  ASSERT_TRUE(ref.ok()) << ref.error().message;

  ASSERT_EQ(submitted_.size(), 1u);
  const auto& sent = submitted_.front();
  EXPECT_EQ(sent.envelope.mail_from, "bridge@example.org");
  EXPECT_THAT(sent.envelope.rcpt_to, ElementsAre("alice@example.org"));
  const auto mail = parsed(0);
  EXPECT_TRUE(mail.is_chat);
  EXPECT_EQ(mail.from.address,
            AddressBook("bridge@example.org").puppet_address("matrix", "@mia:matrix.test"));
  EXPECT_EQ(mail.from.name, "Mia Matrix");
  EXPECT_THAT(mail.text, StartsWith("hello Alice"));
  // The message map learns the mail by its Message-ID, which a retry repeats.
  EXPECT_EQ(*ref, (core::RemoteMessageRef{kConnector, mail.message_id}));
  EXPECT_THAT(mail.message_id, StartsWith("chat$" + d.event_id.value + "."));
  ASSERT_TRUE(deliver(d).ok());
  ASSERT_EQ(submitted_.size(), 2u);
  EXPECT_EQ(parsed(1).message_id, mail.message_id);
}

TEST_F(CoiDeliverTest, AGroupMessageGoesToTheMembersTheConnectorRemembers) {
  const GroupState team{"Team",
                        {"alice@example.org", "bridge@example.org", "bob@example.org"},
                        "",
                        "team-1@example.org"};
  conversations_.states["group:TeamGroupId0001"] = to_json(team);
  auto ref = deliver(delivery(core::MessagePosted{{"hello team", std::nullopt, {}, std::nullopt}},
                              "group:TeamGroupId0001"));
  ASSERT_TRUE(ref.ok()) << ref.error().message;

  // Every member but the sender, the bridge's account included: Delta Chat takes a group's
  // members from the addresses of its mail.
  ASSERT_EQ(submitted_.size(), 1u);
  EXPECT_THAT(submitted_.front().envelope.rcpt_to,
              ElementsAre("alice@example.org", "bridge@example.org", "bob@example.org"));
  const auto mail = parsed(0);
  EXPECT_EQ(mail.group_id, "TeamGroupId0001");
  EXPECT_EQ(mail.group_name, "Team");
}

TEST_F(CoiDeliverTest, AnAdHocGroupMessageAnswersInTheGroupsThread) {
  const GroupState team{"Team",
                        {"alice@example.org", "bridge@example.org", "bob@example.org"},
                        "team-1@example.org",
                        "team-5@example.org"};
  conversations_.states["adhoc:team-1@example.org"] = to_json(team);
  auto ref = deliver(delivery(core::MessagePosted{{"hello team", std::nullopt, {}, std::nullopt}},
                              "adhoc:team-1@example.org"));
  ASSERT_TRUE(ref.ok()) << ref.error().message;

  const auto mail = parsed(0);
  EXPECT_FALSE(mail.group_id.has_value());
  EXPECT_EQ(mail.group_name, "Team");
  EXPECT_EQ(mail.in_reply_to, std::vector<std::string>{"team-5@example.org"});
  EXPECT_EQ(mail.references,
            (std::vector<std::string>{"team-1@example.org", "team-5@example.org"}));
}

TEST_F(CoiDeliverTest, AGroupWithoutAMailYetWaitsForItsMemberListAndNothingIsSent) {
  const auto d =
      delivery(core::MessagePosted{{"hello?", std::nullopt, {}, std::nullopt}}, "group:Later0001");
  auto ref = deliver(d);
  ASSERT_FALSE(ref.ok());
  // Linked before its first mail: not a failure of the message, the queue waits.
  EXPECT_EQ(ref.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_TRUE(ref.error().unreachable);
  EXPECT_TRUE(submitted_.empty());
  // The group's first mail was read: the same delivery goes to its members.
  conversations_.states["group:Later0001"] =
      to_json(GroupState{"Later", {"alice@example.org", "bridge@example.org"}, "", "l-1@x.org"});
  ASSERT_TRUE(deliver(d).ok());
  ASSERT_EQ(submitted_.size(), 1u);
  EXPECT_THAT(submitted_[0].envelope.rcpt_to,
              ElementsAre("alice@example.org", "bridge@example.org"));
}

TEST_F(CoiDeliverTest, AnAttachmentIsSentWithTheBytesOfItsBlob) {
  const std::string bytes = "\x89PNG\r\n\x1a\n-not-really-an-image";
  auto location = coibridge::testing::run_awaitable(blobs_.put("image/png", bytes));
  ASSERT_TRUE(location.ok());
  core::MessageBody body{"a picture", std::nullopt, {}, std::nullopt};
  body.attachments.push_back({"cat.png", "image/png", bytes.size(), *location});
  ASSERT_TRUE(deliver(delivery(core::MessagePosted{body})).ok());

  const auto mail = parsed(0);
  ASSERT_EQ(mail.attachments.size(), 1u);
  EXPECT_EQ(mail.attachments.front().filename, "cat.png");
  EXPECT_EQ(mail.attachments.front().content_type, "image/png");
  EXPECT_EQ(mail.attachments.front().data, bytes);
}

TEST_F(CoiDeliverTest, ASubmissionThatFailsIsAnErrorToRetry) {
  submission_->fail_next = core::Error::unavailable("451 try again later");
  auto ref = deliver(delivery(core::MessagePosted{{"hello", std::nullopt, {}, std::nullopt}}));
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_TRUE(submitted_.empty());
}

TEST_F(CoiDeliverTest, MessagesOfOneSecondGetOneDateSecondEachAndAReactionTakesNone) {
  const auto d = delivery(core::MessagePosted{{"first", std::nullopt, {}, std::nullopt}});
  const auto at = std::chrono::duration_cast<std::chrono::seconds>(d.event.at.time_since_epoch());
  ASSERT_TRUE(deliver(d).ok());
  ASSERT_TRUE(
      deliver(delivery(core::MessagePosted{{"second", std::nullopt, {}, std::nullopt}})).ok());
  // Another conversation keeps its own seconds.
  ASSERT_TRUE(deliver(delivery(core::MessagePosted{{"to bob", std::nullopt, {}, std::nullopt}},
                               "dm:bob@example.org"))
                  .ok());
  ASSERT_TRUE(
      deliver(delivery(core::ReactionChanged{{kConnector, "first@example.org"}, "👍", true})).ok());
  ASSERT_TRUE(
      deliver(delivery(core::MessagePosted{{"third", std::nullopt, {}, std::nullopt}})).ok());
  ASSERT_EQ(submitted_.size(), 5u);
  EXPECT_EQ(parsed(0).date_unix, at.count());
  EXPECT_EQ(parsed(1).date_unix, at.count() + 1);
  EXPECT_EQ(parsed(2).date_unix, at.count());
  EXPECT_EQ(parsed(3).date_unix, at.count());  // the reaction: the event's own time
  EXPECT_EQ(parsed(4).date_unix, at.count() + 2);
}

TEST_F(CoiDeliverTest, AReplyQuotesTheMessageItAnswersSoDeltaChatShowsAReply) {
  core::MessagePosted reply{{"at three", std::nullopt, {}, std::nullopt}};
  reply.body.reply_to = core::RemoteMessageRef{kConnector, "question-1@example.org"};
  auto d = delivery(reply);
  d.quoted = core::QuotedMessage{{"coi", "alice@example.org", "Alice"}, "what time is the call?"};
  ASSERT_TRUE(deliver(d).ok());
  // A long message is quoted in part, never cut inside a character.
  auto long_reply = delivery(reply);
  long_reply.quoted = core::QuotedMessage{{"coi", "alice@example.org", "Alice"},
                                          std::string(498, 'x') + "\u00e9\u00e9"};
  ASSERT_TRUE(deliver(long_reply).ok());
  // What mail cannot refer to is not quoted either.
  core::MessagePosted elsewhere{{"hm", std::nullopt, {}, std::nullopt}};
  elsewhere.body.reply_to = core::RemoteMessageRef{"matrix", "$never-in-mail"};
  auto d3 = delivery(elsewhere);
  d3.quoted = d.quoted;
  ASSERT_TRUE(deliver(d3).ok());

  const auto mail = parsed(0);
  EXPECT_THAT(mail.in_reply_to, ElementsAre("question-1@example.org"));
  ASSERT_TRUE(mail.quote.has_value());
  EXPECT_EQ(*mail.quote, "what time is the call?");
  EXPECT_THAT(mail.text, StartsWith("at three"));
  const auto long_mail = parsed(1);
  ASSERT_TRUE(long_mail.quote.has_value());
  EXPECT_EQ(*long_mail.quote, std::string(498, 'x') + "\u00e9\u2026");
  EXPECT_FALSE(parsed(2).quote.has_value());
}

TEST_F(CoiDeliverTest, WhatMailCannotShowSendsNothing) {
  auto ref = deliver(delivery(core::Typing{true}));
  ASSERT_TRUE(ref.ok()) << ref.error().message;
  EXPECT_EQ(*ref, (core::RemoteMessageRef{kConnector, ""}));
  EXPECT_TRUE(submitted_.empty());
}

}  // namespace
}  // namespace coibridge::connectors::coi
