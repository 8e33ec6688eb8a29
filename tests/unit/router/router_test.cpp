// Router and delivery logic without a database: an in-memory EventStore and the in-process
// TestConnector.

#include "core/router/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>

#include "core/router/delivery_scheduler.hpp"
#include "core/router/fanout.hpp"
#include "tests/support/memory_event_store.hpp"
#include "tests/support/run_until.hpp"
#include "tests/support/test_connector.hpp"

namespace coibridge::core {
namespace {

using namespace std::chrono_literals;
using testing::MemoryEventStore;
using testing::run_until;
using testing::TestConnector;

Link link(std::int64_t id, std::string connector, std::string remote,
          nlohmann::json options = nlohmann::json::object()) {
  Link l;
  l.id = id;
  l.bridge_id = 1;
  l.connector = std::move(connector);
  l.remote_id = std::move(remote);
  l.options = std::move(options);
  return l;
}

Event posted(std::string connector, std::string conv, std::string origin, std::string text = "hi") {
  Event e;
  e.where = {connector, std::move(conv)};
  e.who = {connector, "alice", "Alice"};
  e.origin = {std::move(connector), std::move(origin)};
  e.payload = MessagePosted{{std::move(text), std::nullopt, {}, std::nullopt}};
  return e;
}

TEST(Fanout, EveryOtherLinkInOrder) {
  auto targets =
      plan_fanout(posted("a", "r", "m"), {link(1, "a", "r"), link(2, "b", "c"), link(3, "c", "m")});
  EXPECT_EQ(targets, (std::vector<ConversationRef>{{"b", "c"}, {"c", "m"}}));
}

TEST(Fanout, SameConnectorOtherConversationIsATarget) {
  auto targets = plan_fanout(posted("a", "r1", "m"), {link(1, "a", "r1"), link(2, "a", "r2")});
  EXPECT_EQ(targets, (std::vector<ConversationRef>{{"a", "r2"}}));
}

TEST(Fanout, DirectionsAreHonoured) {
  const auto in_only = nlohmann::json{{"direction", "inbound"}};
  const auto out_only = nlohmann::json{{"direction", "outbound"}};
  EXPECT_EQ(
      plan_fanout(posted("a", "r", "m"), {link(1, "a", "r"), link(2, "b", "c", in_only)}).size(),
      0u);
  EXPECT_EQ(
      plan_fanout(posted("a", "r", "m"), {link(1, "a", "r", out_only), link(2, "b", "c")}).size(),
      0u);
  EXPECT_EQ(
      plan_fanout(posted("a", "r", "m"), {link(1, "a", "r", in_only), link(2, "b", "c", out_only)})
          .size(),
      1u);
}

TEST(Fanout, SourceNotAmongLinksGoesNowhere) {
  EXPECT_TRUE(plan_fanout(posted("x", "y", "m"), {link(1, "a", "r"), link(2, "b", "c")}).empty());
}

TEST(Fanout, EachPayloadNeedsWhatShowsIt) {
  EXPECT_FALSE(capability_needed(MessagePosted{}).has_value());
  EXPECT_FALSE(capability_needed(MessageEdited{}).has_value());  // degraded, never dropped
  EXPECT_EQ(capability_needed(MessageDeleted{}), Capability::kDelete);
  EXPECT_EQ(capability_needed(ReactionChanged{}), Capability::kReaction);
  EXPECT_EQ(capability_needed(ReadUpTo{}), Capability::kReadReceipt);
  EXPECT_EQ(capability_needed(Typing{}), Capability::kTyping);
  EXPECT_EQ(capability_needed(MemberJoined{}), Capability::kMembership);
  EXPECT_EQ(capability_needed(MemberLeft{}), Capability::kMembership);
  EXPECT_EQ(capability_needed(ConversationRenamed{}), Capability::kRename);
}

TEST(Fanout, TargetsThatCannotShowThePayloadAreLeftOut) {
  auto typing = posted("a", "r", "t");
  typing.payload = Typing{true};
  const std::vector<Link> links{link(1, "a", "r"), link(2, "mail", "g"), link(3, "chat", "c"),
                                link(4, "later", "x")};
  const auto capabilities_of = [](std::string_view name) -> std::optional<Capabilities> {
    if (name == "mail") return Capabilities{Capability::kEdit, Capability::kReaction};
    if (name == "chat") return Capabilities::all();
    return std::nullopt;  // not running here (yet): kept
  };
  EXPECT_EQ(plan_capable_fanout(typing, links, capabilities_of),
            (std::vector<ConversationRef>{{"chat", "c"}, {"later", "x"}}));
  EXPECT_EQ(plan_capable_fanout(posted("a", "r", "m"), links, capabilities_of).size(), 3u);
}

TEST(Fanout, EditsAndRepliesAreAdaptedToWhatTheTargetShows) {
  auto edit = posted("a", "r", "e");
  edit.payload = MessageEdited{RemoteMessageRef{"b", "m1"},
                               {"fixed", std::string("<b>fixed</b>"), {}, std::nullopt}};
  // A target with edits gets the edit as it is.
  EXPECT_EQ(adapt_to_capabilities(edit, Capabilities::all()), edit);
  const auto correction = adapt_to_capabilities(edit, Capabilities{Capability::kReply});
  const auto& body = std::get<MessagePosted>(correction.payload).body;
  EXPECT_EQ(body.text, "* fixed");
  EXPECT_EQ(body.html, "* <b>fixed</b>");
  EXPECT_EQ(body.reply_to, (RemoteMessageRef{"b", "m1"}));
  // Without replies either, it is a plain new message.
  const auto plain = adapt_to_capabilities(edit, Capabilities{});
  EXPECT_FALSE(std::get<MessagePosted>(plain.payload).body.reply_to.has_value());
  auto reply = posted("a", "r", "m");
  std::get<MessagePosted>(reply.payload).body.reply_to = RemoteMessageRef{"b", "m0"};
  EXPECT_EQ(adapt_to_capabilities(reply, Capabilities{Capability::kReply}), reply);
  EXPECT_FALSE(std::get<MessagePosted>(adapt_to_capabilities(reply, Capabilities{}).payload)
                   .body.reply_to.has_value());
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.add(src_).ok());
    ASSERT_TRUE(registry_.add(dst_).ok());
    store_.links = {link(1, "src", "room"), link(2, "dst", "chan")};
  }

  void start(int max_attempts = 4) {
    DeliveryPolicy policy;
    policy.max_attempts = max_attempts;
    policy.backoff = {5ms, 20ms};
    policy.poll_interval = 100ms;
    scheduler_ = std::make_unique<DeliveryScheduler>(io_.get_executor(), store_, registry_,
                                                     metrics_, policy, [] { return 0.5; });
    router_ =
        std::make_unique<Router>(store_, registry_, metrics_, [this] { scheduler_->notify(); });
    boost::asio::co_spawn(io_, scheduler_->run(), [this](std::exception_ptr) { stopped_ = true; });
  }

  Result<PublishOutcome> publish(Event e) {
    std::optional<Result<PublishOutcome>> out;
    boost::asio::co_spawn(
        io_, router_->publish(std::move(e)),
        [&](std::exception_ptr, Result<PublishOutcome> r) { out.emplace(std::move(r)); });
    EXPECT_TRUE(run_until(io_, [&] { return out.has_value(); }));
    return std::move(*out);
  }

  // `events` lives until the publish completed, as publish_batch requires.
  Result<std::vector<Result<PublishOutcome>>> publish_batch(const std::vector<BatchEvent>& events) {
    std::optional<Result<std::vector<Result<PublishOutcome>>>> out;
    boost::asio::co_spawn(io_, router_->publish_batch(events),
                          [&](std::exception_ptr, Result<std::vector<Result<PublishOutcome>>> r) {
                            out.emplace(std::move(r));
                          });
    EXPECT_TRUE(run_until(io_, [&] { return out.has_value(); }));
    return std::move(*out);
  }

  void stop() {
    scheduler_->stop();
    ASSERT_TRUE(run_until(io_, [this] { return stopped_; }));
  }

  boost::asio::io_context io_;
  MemoryEventStore store_;
  MetricsRegistry metrics_;
  ConnectorRegistry registry_;
  std::shared_ptr<TestConnector> src_ = std::make_shared<TestConnector>("src");
  std::shared_ptr<TestConnector> dst_ = std::make_shared<TestConnector>("dst");
  std::unique_ptr<DeliveryScheduler> scheduler_;
  std::unique_ptr<Router> router_;
  bool stopped_ = false;
};

TEST_F(RouterTest, AssignsIdAndTimeAndCountsOutcome) {
  start();
  auto out = publish(posted("src", "room", "m1"));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, PublishStatus::kAccepted);
  EXPECT_FALSE(out->event_id.empty());
  ASSERT_TRUE(run_until(io_, [&] { return dst_->delivered.size() == 1; }));
  stop();
  EXPECT_NE(dst_->calls[0].event.at, Timestamp{});
  EXPECT_EQ(metrics_
                .counter("coibridge_events_published_total", "",
                         {{"connector", "src"}, {"status", "accepted"}})
                .value(),
            1.0);
}

TEST_F(RouterTest, NothingIsQueuedForATargetThatCannotShowIt) {
  dst_->caps = Capabilities{Capability::kEdit};
  start();
  auto typing = posted("src", "room", "t1");
  typing.payload = Typing{true};
  auto out = publish(typing);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, PublishStatus::kAccepted);
  EXPECT_EQ(out->targets, 0u);
  EXPECT_TRUE(store_.outbox.empty());
  auto message = publish(posted("src", "room", "m1"));
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(message->targets, 1u);
  ASSERT_TRUE(run_until(io_, [&] { return dst_->delivered.size() == 1; }));
  stop();
  EXPECT_TRUE(std::holds_alternative<MessagePosted>(dst_->calls.at(0).event.payload));
}

TEST_F(RouterTest, EchoOfOwnPuppetNeverReachesTheStore) {
  start();
  auto e = posted("src", "room", "m1");
  e.who.remote_id = "puppet:bob";
  auto out = publish(e);
  stop();
  EXPECT_EQ(out->status, PublishStatus::kEcho);
  EXPECT_EQ(store_.publish_calls, 0);
}

TEST_F(RouterTest, EventWithoutOriginIsRejected) {
  start();
  auto out = publish(posted("src", "room", ""));
  stop();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(RouterTest, BatchIsOneStoreCallWithAnOutcomePerEventInOrder) {
  start();
  auto echo = posted("src", "room", "m2");
  echo.who.remote_id = "puppet:bob";
  std::vector<BatchEvent> batch{{posted("src", "room", "m1", "one"), false},
                                {echo, false},
                                {posted("src", "room", "", "no origin"), false},
                                {posted("src", "room", "m1", "one again"), false},
                                {posted("src", "room", "m3", "three"), false}};
  auto out = publish_batch(batch);
  ASSERT_TRUE(run_until(io_, [&] { return dst_->delivered_order.size() == 2; }));
  stop();
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 5u);
  EXPECT_EQ((*out)[0]->status, PublishStatus::kAccepted);
  EXPECT_EQ((*out)[1]->status, PublishStatus::kEcho);
  ASSERT_FALSE((*out)[2].ok());
  EXPECT_EQ((*out)[2].error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ((*out)[3]->status, PublishStatus::kDuplicate);
  EXPECT_EQ((*out)[3]->event_id, (*out)[0]->event_id);
  EXPECT_EQ((*out)[4]->status, PublishStatus::kAccepted);
  EXPECT_EQ(store_.publish_calls, 1);
  EXPECT_EQ(std::get<MessagePosted>(dst_->delivered_order[0].event.payload).body.text, "one");
  EXPECT_EQ(std::get<MessagePosted>(dst_->delivered_order[1].event.payload).body.text, "three");
}

// PostgreSQL's text and jsonb cannot hold U+0000 (SQLSTATE 22P05 / 22021).
std::optional<Error> refuse_nul(const Event& event) {
  const auto* posted = std::get_if<MessagePosted>(&event.payload);
  const bool nul = event.who.display_name.find('\0') != std::string::npos ||
                   (posted != nullptr && posted->body.text.find('\0') != std::string::npos);
  if (nul) return Error::internal("database error: unsupported Unicode escape sequence");
  return std::nullopt;
}

TEST_F(RouterTest, NulIsRemovedFromAnEventBeforeItIsStored) {
  store_.refuse = refuse_nul;
  start();
  auto e = posted("src", "room", "m1", std::string("a\0b", 3));
  e.who.display_name = std::string("Al\0ice", 6);
  auto out = publish(e);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->status, PublishStatus::kAccepted);
  ASSERT_TRUE(run_until(io_, [&] { return dst_->delivered.size() == 1; }));
  stop();
  EXPECT_EQ(std::get<MessagePosted>(dst_->calls[0].event.payload).body.text, "ab");
  EXPECT_EQ(dst_->calls[0].event.who.display_name, "Alice");
}

TEST_F(RouterTest, EventIdThatIsNotAUuidIsAnInvalidArgument) {
  start();
  auto e = posted("src", "room", "m1");
  e.id = EventId{"not-a-uuid"};
  auto out = publish(e);
  stop();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(out.error().field, "id");
  EXPECT_EQ(store_.publish_calls, 0);
}

TEST_F(RouterTest, PermanentStoreFailureFailsOnlyTheEventCausingIt) {
  store_.refuse = [](const Event& event) -> std::optional<Error> {
    if (event.origin.remote_id == "bad") return Error::internal("database error: value too long");
    return std::nullopt;
  };
  start();
  std::vector<BatchEvent> batch{{posted("src", "room", "m1", "one"), false},
                                {posted("src", "room", "bad", "two"), false},
                                {posted("src", "room", "m3", "three"), false}};
  auto out = publish_batch(batch);
  ASSERT_TRUE(run_until(io_, [&] { return dst_->delivered_order.size() == 2; }));
  stop();
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[0]->status, PublishStatus::kAccepted);
  ASSERT_FALSE((*out)[1].ok());
  EXPECT_EQ((*out)[1].error().kind, ErrorKind::kInternal);
  EXPECT_EQ((*out)[2]->status, PublishStatus::kAccepted);
  EXPECT_EQ(std::get<MessagePosted>(dst_->delivered_order[1].event.payload).body.text, "three");
}

TEST_F(RouterTest, TransientStoreFailureFailsTheWholeBatchForARetry) {
  store_.refuse = [](const Event& event) -> std::optional<Error> {
    if (event.origin.remote_id == "bad") return Error::unavailable("database connection lost");
    return std::nullopt;
  };
  start();
  std::vector<BatchEvent> batch{{posted("src", "room", "m1"), false},
                                {posted("src", "room", "bad"), false}};
  auto out = publish_batch(batch);
  stop();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(store_.publish_calls, 1);
}

TEST_F(RouterTest, BatchEndsAfterAnUnlinkedEventThatAsksToStop) {
  store_.unlinked = {{"src", "dm"}, {"src", "other"}};
  start();
  std::vector<BatchEvent> batch{{posted("src", "room", "m1"), false},
                                {posted("src", "other", "m2"), true},
                                {posted("src", "dm", "m3"), true},
                                {posted("src", "room", "m4"), false}};
  auto out = publish_batch(batch);
  ASSERT_TRUE(run_until(io_, [&] { return dst_->delivered_order.size() == 1; }));
  stop();
  ASSERT_TRUE(out.ok());
  // The first unlinked event that asks to stop ends the batch; m3 and m4 are not reached.
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0]->status, PublishStatus::kAccepted);
  EXPECT_EQ((*out)[1]->status, PublishStatus::kUnlinked);
  ASSERT_EQ(dst_->delivered_order.size(), 1u);  // m4 was not written
  EXPECT_EQ(dst_->delivered_order[0].event.origin.remote_id, "m1");
}

TEST_F(RouterTest, BatchGoesOnAfterAnUnlinkedEventThatDoesNotAskToStop) {
  store_.unlinked = {{"src", "other"}};
  start();
  std::vector<BatchEvent> batch{{posted("src", "other", "m1"), false},
                                {posted("src", "room", "m2"), false}};
  auto out = publish_batch(batch);
  stop();
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0]->status, PublishStatus::kUnlinked);
  EXPECT_EQ((*out)[1]->status, PublishStatus::kAccepted);
}

TEST_F(RouterTest, TransientFailuresThenRecoveryDeliverExactlyOnce) {
  dst_->scripted_failures = {Error::unavailable("down"), Error::unavailable("down")};
  start();
  ASSERT_TRUE(publish(posted("src", "room", "m1", "one")).ok());
  ASSERT_TRUE(publish(posted("src", "room", "m2", "two")).ok());
  ASSERT_TRUE(run_until(io_, [&] { return store_.outbox.empty(); }));
  stop();
  ASSERT_EQ(dst_->calls.size(), 4u);  // two failures of "one", then one, two
  ASSERT_EQ(dst_->delivered_order.size(), 2u);
  EXPECT_EQ(std::get<MessagePosted>(dst_->delivered_order[0].event.payload).body.text, "one");
  EXPECT_EQ(std::get<MessagePosted>(dst_->delivered_order[1].event.payload).body.text, "two");
  EXPECT_EQ(dst_->calls[2].attempt, 3);  // the attempt number reaches the connector
}

TEST_F(RouterTest, AnUnreachablePeerCostsNoAttemptSoAnOutageParksNothing) {
  // Three times max_attempts failures in a row: with attempts counted, "one" would be a dead
  // letter after four.
  for (int i = 0; i < 12; ++i) {
    dst_->scripted_failures.push_back(Error::unreachable_peer("connection refused"));
  }
  start(4);
  ASSERT_TRUE(publish(posted("src", "room", "m1", "one")).ok());
  ASSERT_TRUE(publish(posted("src", "room", "m2", "two")).ok());
  ASSERT_TRUE(run_until(io_, [&] { return store_.outbox.empty(); }));
  stop();
  EXPECT_TRUE(store_.dead.empty());
  ASSERT_EQ(dst_->delivered_order.size(), 2u);
  EXPECT_EQ(std::get<MessagePosted>(dst_->delivered_order[0].event.payload).body.text, "one");
  EXPECT_EQ(std::get<MessagePosted>(dst_->delivered_order[1].event.payload).body.text, "two");
  EXPECT_EQ(dst_->calls.size(), 14u);
  EXPECT_EQ(dst_->calls[12].attempt, 1);  // waiting for the peer was no attempt
  EXPECT_EQ(metrics_
                .counter("coibridge_deliveries_total", "",
                         {{"connector", "dst"}, {"result", "unreachable"}})
                .value(),
            12);
}

TEST_F(RouterTest, AFailureOfTheItemStillCountsAfterAnOutage) {
  dst_->scripted_failures = {Error::unreachable_peer("refused"), Error::unavailable("451"),
                             Error::unavailable("451"), Error::unavailable("451"),
                             Error::unavailable("451")};
  start(4);
  ASSERT_TRUE(publish(posted("src", "room", "m1", "one")).ok());
  ASSERT_TRUE(run_until(io_, [&] { return store_.dead.size() == 1; }));
  stop();
  EXPECT_NE(store_.dead[0].reason.find("after 4 attempts"), std::string::npos)
      << store_.dead[0].reason;
}

TEST_F(RouterTest, AReplyIsDeliveredWithTheMessageItAnswers) {
  Event answered = posted("src", "room", "m0", "what time is the call?");
  answered.who = {"src", "bob", "Bob"};
  store_.events_of["src/m0"] = answered;
  Event photo = posted("src", "room", "m1", "");
  std::get<MessagePosted>(photo.payload)
      .body.attachments.push_back({"call-agenda.pdf", "application/pdf", 10, "blob:1"});
  store_.events_of["src/m1"] = photo;
  start();
  Event reply = posted("src", "room", "m2", "at three");
  std::get<MessagePosted>(reply.payload).body.reply_to = RemoteMessageRef{"src", "m0"};
  ASSERT_TRUE(publish(reply).ok());
  Event on_file = posted("src", "room", "m3", "thanks");
  std::get<MessagePosted>(on_file.payload).body.reply_to = RemoteMessageRef{"src", "m1"};
  ASSERT_TRUE(publish(on_file).ok());
  ASSERT_TRUE(publish(posted("src", "room", "m4", "no reply")).ok());
  ASSERT_TRUE(run_until(io_, [&] { return dst_->delivered_order.size() == 3; }));
  stop();
  const auto& first = dst_->delivered_order[0];
  ASSERT_TRUE(first.quoted.has_value());
  EXPECT_EQ(first.quoted->who.display_name, "Bob");
  EXPECT_EQ(first.quoted->text, "what time is the call?");
  ASSERT_TRUE(dst_->delivered_order[1].quoted.has_value());
  EXPECT_EQ(dst_->delivered_order[1].quoted->text, "call-agenda.pdf");  // a file: its name
  EXPECT_FALSE(dst_->delivered_order[2].quoted.has_value());
}

TEST_F(RouterTest, UnknownTargetConnectorEndsAsDeadLetter) {
  store_.links.push_back(link(3, "gone", "x"));
  start(2);
  ASSERT_TRUE(publish(posted("src", "room", "m1")).ok());
  ASSERT_TRUE(run_until(io_, [&] { return store_.dead.size() == 1; }));
  stop();
  EXPECT_NE(store_.dead[0].reason.find("no connector named 'gone'"), std::string::npos);
  EXPECT_EQ(dst_->delivered.size(), 1u);  // the other target is not held up
}

TEST_F(RouterTest, RejectParksTheInputAndCounts) {
  start();
  std::optional<Status> st;
  boost::asio::co_spawn(io_, router_->reject("src", "not MIME", std::string(100 * 1024, 'x')),
                        [&](std::exception_ptr, Status s) { st.emplace(s); });
  ASSERT_TRUE(run_until(io_, [&] { return st.has_value(); }));
  stop();
  EXPECT_TRUE(st->ok());
  ASSERT_EQ(store_.inbound_dead.size(), 1u);
  EXPECT_EQ(store_.inbound_dead[0].size(), 64u * 1024u);  // bounded excerpt
  EXPECT_EQ(
      metrics_.counter("coibridge_inbound_rejected_total", "", {{"connector", "src"}}).value(),
      1.0);
}

TEST_F(RouterTest, StopLetsTheDeliveryInFlightFinish) {
  start();
  ASSERT_TRUE(publish(posted("src", "room", "m1")).ok());
  scheduler_->stop();
  ASSERT_TRUE(run_until(io_, [this] { return stopped_; }));
  // Whatever started was recorded: no row is both delivered and still in the outbox.
  EXPECT_EQ(dst_->delivered.size() + store_.outbox.size(), 1u);
}

}  // namespace
}  // namespace coibridge::core
