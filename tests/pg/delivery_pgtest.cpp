// The durable path end to end inside one process: Router -> PostgreSQL outbox ->
// DeliveryScheduler -> connector, with a connector that fails on demand.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <pqxx/pqxx>

#include "core/router/delivery_scheduler.hpp"
#include "core/router/router.hpp"
#include "core/store/pg/db_executor.hpp"
#include "core/store/pg/migrator.hpp"
#include "core/store/pg/pg_stores.hpp"
#include "tests/pg/pg_database.hpp"
#include "tests/support/run_awaitable.hpp"
#include "tests/support/run_until.hpp"
#include "tests/support/test_connector.hpp"

namespace coibridge::core {
namespace {

using namespace std::chrono_literals;
using testing::run_until;
using testing::TestConnector;

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r =
        db_.run_sync([](pqxx::connection& c) { return pg::migrate(c, pg::builtin_migrations()); });
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(registry_.add(source_).ok());
    ASSERT_TRUE(registry_.add(target_).ok());
    auto b = testing::run_awaitable(bridges_.create_bridge("b", "t"));
    ASSERT_TRUE(testing::run_awaitable(
                    bridges_.add_link(b->id, "src", "room", nlohmann::json::object(), "t"))
                    .ok());
    ASSERT_TRUE(testing::run_awaitable(
                    bridges_.add_link(b->id, "dst", "chan", nlohmann::json::object(), "t"))
                    .ok());
  }

  void start() {
    DeliveryPolicy policy;
    policy.max_attempts = max_attempts_;
    policy.backoff = {10ms, 40ms};
    policy.poll_interval = 200ms;
    scheduler_ = std::make_unique<DeliveryScheduler>(io_.get_executor(), events_, registry_,
                                                     metrics_, policy, [] { return 0.5; });
    router_ =
        std::make_unique<Router>(events_, registry_, metrics_, [this] { scheduler_->notify(); });
    boost::asio::co_spawn(io_, scheduler_->run(), [this](std::exception_ptr) { stopped_ = true; });
  }

  void stop() {
    scheduler_->stop();
    ASSERT_TRUE(run_until(io_, [this] { return stopped_; }));
  }

  PublishOutcome publish(const std::string& origin, const std::string& text) {
    Event e;
    e.where = {"src", "room"};
    e.who = {"src", "alice", "Alice"};
    e.origin = {"src", origin};
    e.payload = MessagePosted{{text, std::nullopt, {}, std::nullopt}};
    std::optional<Result<PublishOutcome>> out;
    boost::asio::co_spawn(
        io_, router_->publish(e),
        [&](std::exception_ptr, Result<PublishOutcome> r) { out.emplace(std::move(r)); });
    EXPECT_TRUE(run_until(io_, [&] { return out.has_value(); }));
    EXPECT_TRUE(out->ok());
    return out->value();
  }

  std::int64_t count(const std::string& sql) {
    pqxx::connection c(pg_.conninfo());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<std::int64_t>();
  }

  std::vector<std::string> delivered_texts() {
    std::vector<std::string> out;
    for (const auto& d : target_->delivered_order) {
      out.push_back(std::get<MessagePosted>(d.event.payload).body.text);
    }
    return out;
  }

  testing::PgDatabase pg_;
  pg::DbExecutor db_{pg_.conninfo(), 2};
  pg::PgBridgeStore bridges_{db_};
  pg::PgEventStore events_{db_};
  boost::asio::io_context io_;
  MetricsRegistry metrics_;
  ConnectorRegistry registry_;
  std::shared_ptr<TestConnector> source_ = std::make_shared<TestConnector>("src");
  std::shared_ptr<TestConnector> target_ = std::make_shared<TestConnector>("dst");
  int max_attempts_ = 5;
  std::unique_ptr<DeliveryScheduler> scheduler_;
  std::unique_ptr<Router> router_;
  bool stopped_ = false;
};

TEST_F(DeliveryTest, DeliveredOnceAndRecorded) {
  start();
  auto out = publish("m1", "hello");
  EXPECT_EQ(out.status, PublishStatus::kAccepted);
  ASSERT_TRUE(run_until(io_, [&] { return !target_->delivered.empty(); }));
  ASSERT_TRUE(run_until(io_, [&] { return count("SELECT count(*) FROM outbox") == 0; }));
  stop();
  EXPECT_EQ(target_->calls.size(), 1u);
  EXPECT_EQ(target_->calls[0].event_id, out.event_id);
  EXPECT_EQ(target_->calls[0].target, (ConversationRef{"dst", "chan"}));
  EXPECT_TRUE(source_->calls.empty());  // never back to where it came from
  EXPECT_EQ(count("SELECT count(*) FROM message_parts WHERE connector = 'dst'"), 1);
}

TEST_F(DeliveryTest, FailingTargetGetsItAfterRecoveryExactlyOnce) {
  target_->fail_always = Error::unavailable("peer is down");
  start();
  publish("m1", "first");
  publish("m2", "second");
  // Attempts fail and are spaced by backoff; the queue keeps its order behind its head.
  ASSERT_TRUE(run_until(io_, [&] { return target_->calls.size() >= 3; }));
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 2);
  EXPECT_GE(count("SELECT attempts FROM outbox ORDER BY id LIMIT 1"), 2);
  for (const auto& call : target_->calls) {
    EXPECT_EQ(std::get<MessagePosted>(call.event.payload).body.text,
              "first");  // head blocks the queue
  }

  target_->fail_always.reset();
  ASSERT_TRUE(run_until(io_, [&] { return count("SELECT count(*) FROM outbox") == 0; }));
  stop();
  EXPECT_EQ(delivered_texts(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(target_->delivered.size(), 2u);
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters"), 0);
  EXPECT_GE(
      metrics_
          .counter("coibridge_deliveries_total", "", {{"connector", "dst"}, {"result", "failed"}})
          .value(),
      2.0);
}

TEST_F(DeliveryTest, DeadLetterAfterMaxAttemptsThenQueueMovesOn) {
  max_attempts_ = 3;
  target_->scripted_failures = {Error::unavailable("timeout 1"), Error::unavailable("timeout 2"),
                                Error::unavailable("timeout 3")};
  start();
  publish("m1", "doomed");
  publish("m2", "fine");
  ASSERT_TRUE(run_until(io_, [&] { return count("SELECT count(*) FROM outbox") == 0; }));
  stop();
  EXPECT_EQ(delivered_texts(), (std::vector<std::string>{"fine"}));
  EXPECT_EQ(
      count("SELECT count(*) FROM dead_letters WHERE attempts = 3 AND reason LIKE 'timeout 3%'"),
      1);
  EXPECT_EQ(
      metrics_.counter("coibridge_deliveries_total", "", {{"connector", "dst"}, {"result", "dead"}})
          .value(),
      1.0);
}

TEST_F(DeliveryTest, PermanentErrorIsDeadLetteredAtOnce) {
  target_->scripted_failures = {Error::permanent("550 mailbox unavailable")};
  start();
  publish("m1", "refused");
  ASSERT_TRUE(run_until(io_, [&] { return count("SELECT count(*) FROM dead_letters") == 1; }));
  stop();
  EXPECT_EQ(target_->calls.size(), 1u);
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters WHERE reason LIKE '550 mailbox unavailable%' "
                  "AND attempts = 1"),
            1);
}

TEST_F(DeliveryTest, PendingRowsFromBeforeAStartAreDelivered) {
  // Rows committed by an earlier process (or another instance) are picked up by polling.
  router_ = std::make_unique<Router>(events_, registry_, metrics_, nullptr);
  publish("m1", "left over");
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1);
  start();
  ASSERT_TRUE(run_until(io_, [&] { return count("SELECT count(*) FROM outbox") == 0; }));
  stop();
  EXPECT_EQ(delivered_texts(), (std::vector<std::string>{"left over"}));
}

TEST_F(DeliveryTest, ManyMessagesKeepTheirOrder) {
  start();
  std::vector<std::string> sent;
  for (int i = 0; i < 50; ++i) {
    sent.push_back("msg " + std::to_string(i));
    publish("m" + std::to_string(i), sent.back());
  }
  ASSERT_TRUE(run_until(io_, [&] { return target_->delivered.size() == sent.size(); }));
  stop();
  EXPECT_EQ(delivered_texts(), sent);
  EXPECT_EQ(target_->calls.size(), sent.size());
}

TEST_F(DeliveryTest, EchoOfOurOwnPuppetIsDropped) {
  start();
  Event e;
  e.where = {"src", "room"};
  e.who = {"src", "puppet:bob", "Bob"};
  e.origin = {"src", "m-echo"};
  e.payload = MessagePosted{{"echo", std::nullopt, {}, std::nullopt}};
  std::optional<Result<PublishOutcome>> out;
  boost::asio::co_spawn(
      io_, router_->publish(e),
      [&](std::exception_ptr, Result<PublishOutcome> r) { out.emplace(std::move(r)); });
  ASSERT_TRUE(run_until(io_, [&] { return out.has_value(); }));
  stop();
  EXPECT_EQ((*out)->status, PublishStatus::kEcho);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 0);
}

TEST_F(DeliveryTest, RepliesAreTranslatedToTheTargetsIds) {
  start();
  publish("m1", "question");
  ASSERT_TRUE(run_until(io_, [&] { return target_->delivered.size() == 1; }));
  Event reply;
  reply.where = {"src", "room"};
  reply.who = {"src", "alice", "Alice"};
  reply.origin = {"src", "m2"};
  reply.payload = MessagePosted{{"answer", std::nullopt, {}, RemoteMessageRef{"src", "m1"}}};
  std::optional<Result<PublishOutcome>> out;
  boost::asio::co_spawn(
      io_, router_->publish(reply),
      [&](std::exception_ptr, Result<PublishOutcome> r) { out.emplace(std::move(r)); });
  ASSERT_TRUE(run_until(io_, [&] { return target_->delivered.size() == 2; }));
  stop();
  const auto& body = std::get<MessagePosted>(target_->delivered_order[1].event.payload).body;
  ASSERT_TRUE(body.reply_to.has_value());
  EXPECT_EQ(body.reply_to->connector, "dst");
  EXPECT_EQ(body.reply_to->remote_id, "remote-" + target_->delivered_order[0].event_id.value);
}

TEST_F(DeliveryTest, AnEditToANetworkWithoutEditsArrivesAsAQuotedCorrection) {
  target_->caps = Capabilities{Capability::kReply};  // no kEdit
  start();
  publish("m1", "teh answer");
  ASSERT_TRUE(run_until(io_, [&] { return target_->delivered.size() == 1; }));
  Event edit;
  edit.where = {"src", "room"};
  edit.who = {"src", "alice", "Alice"};
  edit.origin = {"src", "m1-edit"};
  edit.payload =
      MessageEdited{RemoteMessageRef{"src", "m1"}, {"the answer", std::nullopt, {}, std::nullopt}};
  std::optional<Result<PublishOutcome>> out;
  boost::asio::co_spawn(
      io_, router_->publish(edit),
      [&](std::exception_ptr, Result<PublishOutcome> r) { out.emplace(std::move(r)); });
  ASSERT_TRUE(run_until(io_, [&] { return target_->delivered.size() == 2; }));
  stop();
  const auto* correction = std::get_if<MessagePosted>(&target_->delivered_order[1].event.payload);
  ASSERT_NE(correction, nullptr);
  EXPECT_EQ(correction->body.text, "* the answer");
  // It answers the message it corrects, in the target's ids.
  ASSERT_TRUE(correction->body.reply_to.has_value());
  EXPECT_EQ(*correction->body.reply_to,
            (RemoteMessageRef{"dst", "remote-" + target_->delivered_order[0].event_id.value}));
}

}  // namespace
}  // namespace coibridge::core
