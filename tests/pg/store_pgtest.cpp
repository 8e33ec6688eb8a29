#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "core/router/fanout.hpp"
#include "tests/pg/store_fixture.hpp"

namespace coibridge::core::pg {
namespace {

using testing::run_awaitable;

class StoreTest : public StoreFixture {
 protected:
  Event message(const std::string& connector, const std::string& conv, const std::string& origin,
                const std::string& text) {
    Event e;
    e.id = new_event_id();
    e.where = {connector, conv};
    e.who = {connector, "alice", "Alice"};
    e.origin = {connector, origin};
    // Timestamps are kept to the millisecond.
    e.at = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    e.payload = MessagePosted{{text, std::nullopt, {}, std::nullopt}};
    return e;
  }
};

TEST_F(StoreTest, BridgeCrud) {
  auto created = run_awaitable(bridges_.create_bridge("team", "ops"));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->name, "team");
  EXPECT_EQ(run_awaitable(bridges_.create_bridge("team", "ops")).error().kind,
            ErrorKind::kConflict);

  auto renamed = run_awaitable(bridges_.rename_bridge(created->id, "crew", "ops"));
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->name, "crew");
  EXPECT_EQ(run_awaitable(bridges_.get_bridge(created->id))->name, "crew");
  EXPECT_EQ(run_awaitable(bridges_.rename_bridge(999999, "x", "ops")).error().kind,
            ErrorKind::kNotFound);

  ASSERT_TRUE(run_awaitable(bridges_.delete_bridge(created->id, "ops")).ok());
  EXPECT_EQ(run_awaitable(bridges_.get_bridge(created->id)).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(run_awaitable(bridges_.delete_bridge(created->id, "ops")).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE actor = 'ops'"), 3);
}

TEST_F(StoreTest, ListPaginates) {
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(run_awaitable(bridges_.create_bridge("p" + std::to_string(i), "t")).ok());
  auto first = run_awaitable(bridges_.list_bridges(0, 2));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 2u);
  ASSERT_TRUE(first->next_after.has_value());
  auto second = run_awaitable(bridges_.list_bridges(*first->next_after, 2));
  auto third = run_awaitable(bridges_.list_bridges(*second->next_after, 2));
  ASSERT_EQ(third->items.size(), 1u);
  EXPECT_FALSE(third->next_after.has_value());
  EXPECT_EQ(third->items[0].name, "p4");
}

TEST_F(StoreTest, LinkIsUniqueAcrossBridges) {
  auto a = bridge_with({{"spool", "room-1"}});
  auto b = bridge_with({});
  auto dup =
      run_awaitable(bridges_.add_link(b.id, "spool", "room-1", nlohmann::json::object(), "t"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, ErrorKind::kConflict);
  auto links = run_awaitable(bridges_.list_links(a.id));
  ASSERT_EQ(links->size(), 1u);
  EXPECT_EQ(run_awaitable(bridges_.bridge_of("spool", "room-1"))->value(), a.id);
  EXPECT_FALSE(run_awaitable(bridges_.bridge_of("spool", "room-2"))->has_value());
  ASSERT_TRUE(run_awaitable(bridges_.remove_link(a.id, links->front().id, "t")).ok());
  EXPECT_TRUE(
      run_awaitable(bridges_.add_link(b.id, "spool", "room-1", {{"direction", "inbound"}}, "t"))
          .ok());
  EXPECT_EQ(run_awaitable(bridges_.list_links(b.id))->front().options["direction"], "inbound");
  EXPECT_EQ(run_awaitable(bridges_.add_link(424242, "x", "y", nlohmann::json::object(), "t"))
                .error()
                .kind,
            ErrorKind::kNotFound);
}

TEST_F(StoreTest, PublishWritesOneOutboxRowPerOtherLinkInOneGo) {
  bridge_with({{"a", "room"}, {"b", "chan"}, {"c", "muc"}});
  auto e = message("a", "room", "msg-1", "hello");
  auto out = run_awaitable(events_.publish(e, plan_fanout));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->status, PublishStatus::kAccepted);
  EXPECT_EQ(out->targets, 2u);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 1);

  auto head = run_awaitable(events_.head_of({"b", "chan"}));
  ASSERT_TRUE(head.ok());
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->event, e);  // the outbox keeps the whole event, losslessly
}

TEST_F(StoreTest, SameOriginTwiceIsOneEvent) {
  bridge_with({{"a", "room"}, {"b", "chan"}});
  auto first = run_awaitable(events_.publish(message("a", "room", "msg-1", "hello"), plan_fanout));
  auto again = run_awaitable(events_.publish(message("a", "room", "msg-1", "hello"), plan_fanout));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, PublishStatus::kDuplicate);
  EXPECT_EQ(again->event_id, first->event_id);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1);
}

TEST_F(StoreTest, BatchPublishesInOrderAndStopsWhereAsked) {
  bridge_with({{"a", "room"}, {"b", "chan"}});
  std::vector<BatchEvent> batch{
      {message("a", "room", "m1", "one"), false},
      {message("a", "room", "m1", "one again"), false},  // same origin, same batch
      {message("a", "elsewhere", "m2", "x"), false},
      {message("a", "room", "m3", "three"), false},
      {message("a", "nowhere", "m4", "y"), true},
      {message("a", "room", "m5", "not reached"), false}};
  auto out = run_awaitable(events_.publish_batch(batch, plan_fanout));
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(out->size(), 5u);
  EXPECT_EQ((*out)[0].status, PublishStatus::kAccepted);
  EXPECT_EQ((*out)[1].status, PublishStatus::kDuplicate);
  EXPECT_EQ((*out)[1].event_id, batch[0].event.id);
  EXPECT_EQ((*out)[2].status, PublishStatus::kUnlinked);
  EXPECT_EQ((*out)[3].status, PublishStatus::kAccepted);
  EXPECT_EQ((*out)[4].status, PublishStatus::kUnlinked);
  // m1 and m3 relayed; m2 kept unlinked; m4 (stop_if_unlinked) and m5 not written.
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE bridge_id IS NOT NULL"), 2);
  EXPECT_EQ(
      count("SELECT count(*) FROM messages WHERE bridge_id IS NULL AND origin_remote_id = 'm2'"),
      1);
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE origin_remote_id IN ('m4', 'm5')"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 2);
  // Queue order is publish order.
  auto head = run_awaitable(events_.head_of({"b", "chan"}));
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->event.origin.remote_id, "m1");
}

TEST_F(StoreTest, NewestOfOrdersByCommitThenEventTime) {
  bridge_with({{"a", "room"}, {"b", "chan"}});
  auto early = message("a", "room", "m1", "one");
  auto late = message("a", "room", "m2", "two");
  late.at = early.at + std::chrono::seconds(5);
  // One transaction, so one commit time: the event time decides. The later event first.
  std::vector<BatchEvent> batch{{late, false}, {early, false}};
  ASSERT_TRUE(run_awaitable(events_.publish_batch(batch, plan_fanout)).ok());
  auto third = message("a", "room", "m3", "three");
  third.at = early.at - std::chrono::seconds(60);  // an old Date, but committed last
  ASSERT_TRUE(run_awaitable(events_.publish(third, plan_fanout)).ok());
  // Delivered to b, in queue order: b-1, b-2, b-3 are the ids b gave m2, m1, m3.
  for (const char* remote : {"b-1", "b-2", "b-3"}) {
    auto head = run_awaitable(events_.head_of({"b", "chan"}));
    ASSERT_TRUE(head.ok() && head->has_value());
    ASSERT_TRUE(run_awaitable(events_.mark_delivered((*head)->id, (*head)->event.id, {"b", "chan"},
                                                     {"b", remote}))
                    .ok());
  }
  using Refs = std::vector<RemoteMessageRef>;
  EXPECT_EQ(run_awaitable(events_.newest_of(Refs{{"b", "b-2"}, {"b", "b-1"}}))->value().remote_id,
            "b-1");
  EXPECT_EQ(run_awaitable(events_.newest_of(Refs{{"b", "b-1"}, {"b", "b-3"}, {"b", "gone"}}))
                ->value()
                .remote_id,
            "b-3");
  // The origin's own ids order the same way.
  EXPECT_EQ(run_awaitable(events_.newest_of(Refs{{"a", "m1"}, {"a", "m2"}}))->value().remote_id,
            "m2");
  EXPECT_FALSE(run_awaitable(events_.newest_of(Refs{{"b", "gone"}}))->has_value());
}

TEST_F(StoreTest, UnlinkedConversationKeepsItsEventsWithoutDeliveries) {
  auto out = run_awaitable(events_.publish(message("a", "nowhere", "m", "x"), plan_fanout));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, PublishStatus::kUnlinked);
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE bridge_id IS NULL"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);
  // Its origin deduplicates and names its conversation.
  auto again = run_awaitable(events_.publish(message("a", "nowhere", "m", "x"), plan_fanout));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, PublishStatus::kDuplicate);
  EXPECT_EQ(again->event_id, out->event_id);
  auto where = run_awaitable(events_.conversation_of({"a", "m"}));
  ASSERT_TRUE(where.ok() && where->has_value());
  EXPECT_EQ((*where)->remote_id, "nowhere");
  // Typing says nothing later: not kept.
  auto typing = message("a", "nowhere", "t", "");
  typing.payload = Typing{true};
  EXPECT_EQ(run_awaitable(events_.publish(typing, plan_fanout))->status, PublishStatus::kUnlinked);
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE origin_remote_id = 't'"), 0);
}

TEST_F(StoreTest, BackfillQueuesTheNewestKeptMessagesOldestFirstAndOnlyOnce) {
  for (int i = 0; i < 15; ++i) {
    auto e = message("a", "group", "m" + std::to_string(i), "text " + std::to_string(i));
    ASSERT_EQ(run_awaitable(events_.publish(e, plan_fanout))->status, PublishStatus::kUnlinked);
  }
  auto reaction = message("a", "group", "r1", "");
  reaction.payload = ReactionChanged{{"a", "m3"}, "+", true};
  ASSERT_TRUE(run_awaitable(events_.publish(reaction, plan_fanout)).ok());
  ASSERT_EQ(
      run_awaitable(events_.publish(message("b", "chan", "b-early", "on b"), plan_fanout))->status,
      PublishStatus::kUnlinked);
  ASSERT_EQ(run_awaitable(events_.publish(message("c", "elsewhere", "c1", "not here"), plan_fanout))
                ->status,
            PublishStatus::kUnlinked);
  const auto b = bridge_with({{"a", "group"}, {"b", "chan"}});

  auto queued = run_awaitable(events_.backfill(b.id, 10, plan_fanout));
  ASSERT_TRUE(queued.ok()) << queued.error().message;
  EXPECT_EQ(*queued, 11);  // a's newest ten posted messages to b, b's one to a
  auto to_b = run_awaitable(events_.queue_of({"b", "chan"}, 100));
  ASSERT_TRUE(to_b.ok());
  ASSERT_EQ(to_b->size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(std::get<MessagePosted>((*to_b)[i].event.payload).body.text,
              "text " + std::to_string(i + 5));
  }
  auto to_a = run_awaitable(events_.queue_of({"a", "group"}, 100));
  ASSERT_EQ(to_a->size(), 1u);
  EXPECT_EQ(std::get<MessagePosted>(to_a->front().event.payload).body.text, "on b");
  // Joined the bridge: asked again, nothing more (older ones would come after newer ones);
  // the older five, the reaction and the other conversation's message stay kept.
  EXPECT_EQ(*run_awaitable(events_.backfill(b.id, 10, plan_fanout)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE bridge_id IS NULL"), 7);
  EXPECT_EQ(run_awaitable(events_.backfill(424242, 10, plan_fanout)).error().kind,
            ErrorKind::kNotFound);
}

TEST_F(StoreTest, OurOwnDeliveryComingBackIsAnEcho) {
  bridge_with({{"a", "room"}, {"b", "chan"}});
  auto e = message("a", "room", "msg-1", "hello");
  ASSERT_TRUE(run_awaitable(events_.publish(e, plan_fanout)).ok());
  auto head = run_awaitable(events_.head_of({"b", "chan"}));
  ASSERT_TRUE(
      run_awaitable(events_.mark_delivered((*head)->id, e.id, {"b", "chan"}, {"b", "b-77"})).ok());
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);

  // Network b shows us our own message b-77: it must not travel back to a.
  auto echo = run_awaitable(events_.publish(message("b", "chan", "b-77", "hello"), plan_fanout));
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->status, PublishStatus::kEcho);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);

  // And references translate both ways through the message map.
  auto to_b = run_awaitable(events_.translate({"a", "msg-1"}, "b"));
  ASSERT_TRUE(to_b.ok() && to_b->has_value());
  EXPECT_EQ((*to_b)->remote_id, "b-77");
  auto to_a = run_awaitable(events_.translate({"b", "b-77"}, "a"));
  ASSERT_TRUE(to_a.ok() && to_a->has_value());
  EXPECT_EQ((*to_a)->remote_id, "msg-1");
}

TEST_F(StoreTest, FailedAndDeadLetteredRows) {
  bridge_with({{"a", "room"}, {"b", "chan"}});
  ASSERT_TRUE(run_awaitable(events_.publish(message("a", "room", "m1", "x"), plan_fanout)).ok());
  auto head = run_awaitable(events_.head_of({"b", "chan"}));
  const auto id = (*head)->id;
  const auto later = std::chrono::system_clock::now() + std::chrono::hours(1);
  ASSERT_TRUE(run_awaitable(events_.mark_failed(id, "peer down", later)).ok());
  head = run_awaitable(events_.head_of({"b", "chan"}));
  EXPECT_EQ((*head)->attempts, 1);
  EXPECT_EQ((*head)->last_error, "peer down");
  EXPECT_GT((*head)->next_attempt_at, std::chrono::system_clock::now() + std::chrono::minutes(59));

  // Waiting for an unreachable peer moves the time and keeps the error, not the count.
  const auto sooner = std::chrono::system_clock::now() + std::chrono::minutes(5);
  ASSERT_TRUE(run_awaitable(events_.mark_waiting(id, "connection refused", sooner)).ok());
  head = run_awaitable(events_.head_of({"b", "chan"}));
  EXPECT_EQ((*head)->attempts, 1);
  EXPECT_EQ((*head)->last_error, "connection refused");
  EXPECT_LT((*head)->next_attempt_at, std::chrono::system_clock::now() + std::chrono::minutes(6));

  ASSERT_TRUE(run_awaitable(events_.dead_letter(id, "gave up")).ok());
  EXPECT_EQ(*run_awaitable(events_.outbox_depth()), 0);
  auto dead = run_awaitable(events_.dead_letters(0, 10));
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->front().reason, "gave up");
  EXPECT_EQ(dead->front().direction, "delivery");
  EXPECT_EQ(dead->front().attempts, 2);
  EXPECT_EQ(dead->front().target.remote_id, "chan");
}

TEST_F(StoreTest, ReplayPutsADeadLetterBackInItsQueue) {
  auto b = bridge_with({{"a", "room"}, {"b", "chan"}});
  auto e = message("a", "room", "m1", "x");
  ASSERT_TRUE(run_awaitable(events_.publish(e, plan_fanout)).ok());
  auto head = run_awaitable(events_.head_of({"b", "chan"}));
  ASSERT_TRUE(run_awaitable(events_.dead_letter((*head)->id, "gave up")).ok());
  auto dead = run_awaitable(events_.dead_letters(0, 10));
  ASSERT_EQ(dead->size(), 1u);

  ASSERT_TRUE(run_awaitable(events_.replay_dead_letter(dead->front().id, "ops")).ok());
  head = run_awaitable(events_.head_of({"b", "chan"}));
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->event, e);
  EXPECT_EQ((*head)->attempts, 0);
  EXPECT_TRUE(run_awaitable(events_.dead_letters(0, 10))->empty());
  EXPECT_EQ(run_awaitable(events_.replay_dead_letter(dead->front().id, "ops")).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'dead_letter.replay'"), 1);

  // Inbound items have nothing to replay; unlinked conversations nowhere to go.
  ASSERT_TRUE(run_awaitable(events_.dead_letter_inbound("a", "bad", "x")).ok());
  auto inbound = run_awaitable(events_.dead_letters(0, 10))->front().id;
  EXPECT_EQ(run_awaitable(events_.replay_dead_letter(inbound, "ops")).error().kind,
            ErrorKind::kConflict);
  head = run_awaitable(events_.head_of({"b", "chan"}));
  ASSERT_TRUE(run_awaitable(events_.dead_letter((*head)->id, "again")).ok());
  auto links = run_awaitable(bridges_.list_links(b.id));
  ASSERT_TRUE(run_awaitable(bridges_.remove_link(b.id, links->back().id, "t")).ok());
  auto again = run_awaitable(events_.dead_letters(inbound, 10))->front().id;
  EXPECT_EQ(run_awaitable(events_.replay_dead_letter(again, "ops")).error().kind,
            ErrorKind::kConflict);
}

TEST_F(StoreTest, CheckpointsOnlyMoveForwardWithinAUidvalidity) {
  PgCheckpointStore checkpoints(db_);
  EXPECT_FALSE(run_awaitable(checkpoints.load("coi", "INBOX"))->has_value());
  ASSERT_TRUE(run_awaitable(checkpoints.save("coi", "INBOX", {7, 100})).ok());
  ASSERT_TRUE(run_awaitable(checkpoints.save("coi", "INBOX", {7, 90})).ok());
  EXPECT_EQ((*run_awaitable(checkpoints.load("coi", "INBOX")))->last_uid, 100u);
  ASSERT_TRUE(run_awaitable(checkpoints.save("coi", "INBOX", {8, 3})).ok());
  auto cp = *run_awaitable(checkpoints.load("coi", "INBOX"));
  EXPECT_EQ(cp->uidvalidity, 8u);
  EXPECT_EQ(cp->last_uid, 3u);
  EXPECT_FALSE(run_awaitable(checkpoints.load("coi", "Chats"))->has_value());
  EXPECT_FALSE(run_awaitable(checkpoints.load("other", "INBOX"))->has_value());
}

TEST_F(StoreTest, RemovingALinkDeadLettersItsQueue) {
  auto b = bridge_with({{"a", "room"}, {"b", "chan"}});
  ASSERT_TRUE(run_awaitable(events_.publish(message("a", "room", "m1", "x"), plan_fanout)).ok());
  auto links = run_awaitable(bridges_.list_links(b.id));
  ASSERT_TRUE(run_awaitable(bridges_.remove_link(b.id, links->back().id, "t")).ok());
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters WHERE reason = 'link removed'"), 1);
}

TEST_F(StoreTest, InboundDeadLetterKeepsAnyBytes) {
  ASSERT_TRUE(
      run_awaitable(events_.dead_letter_inbound("coi", "bad mime", std::string("\xff\xfe\0x", 4)))
          .ok());
  EXPECT_EQ(
      count("SELECT count(*) FROM dead_letters WHERE source = 'inbound' AND reason = 'bad mime'"),
      1);
  auto dead = run_awaitable(events_.dead_letters(0, 10));
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->front().direction, "inbound");
  EXPECT_EQ(dead->front().target.connector, "coi");
  // Discarded: gone, and the audit log says who.
  EXPECT_EQ(run_awaitable(events_.discard_dead_letter(dead->front().id, "admin")).ok(), true);
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'dead_letter.discard'"), 1);
  EXPECT_EQ(run_awaitable(events_.discard_dead_letter(dead->front().id, "admin")).error().kind,
            ErrorKind::kNotFound);
}

TEST_F(StoreTest, BlobsRoundTripEveryByteAndAreStoredOnce) {
  std::string data;
  for (int i = 0; i < 3 * 256 + 7; ++i)
    data.push_back(static_cast<char>(i % 256));  // NULs and high bytes
  auto first = run_awaitable(blobs_.put("image/png", data));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(is_blob_location(*first));
  EXPECT_EQ(*first, "blob:sha256:" + sha256_hex(data));
  auto again = run_awaitable(blobs_.put("image/png", data));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(count("SELECT count(*) FROM blobs"), 1);

  auto blob = run_awaitable(blobs_.get(*first));
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_EQ(blob->content_type, "image/png");
  EXPECT_EQ(blob->data, data);

  EXPECT_EQ(run_awaitable(blobs_.get("blob:sha256:" + std::string(64, '0'))).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(run_awaitable(blobs_.get("mxc://example.org/abc")).error().kind,
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(run_awaitable(blobs_.get("blob:sha256:'; DROP TABLE blobs; --")).error().kind,
            ErrorKind::kInvalidArgument);
}

TEST_F(StoreTest, PurgeKeepsBlobsThatAPendingDeliveryNames) {
  bridge_with({{"a", "room"}, {"b", "chan"}});
  auto kept = run_awaitable(blobs_.put("text/plain", "still queued"));
  auto dropped = run_awaitable(blobs_.put("text/plain", "delivered long ago"));
  ASSERT_TRUE(kept.ok() && dropped.ok());
  auto e = message("a", "room", "with-file", "see attachment");
  std::get<MessagePosted>(e.payload).body.attachments.push_back({"a.txt", "text/plain", 12, *kept});
  ASSERT_TRUE(run_awaitable(events_.publish(e, plan_fanout)).ok());

  // Fresh blobs stay whatever names them.
  EXPECT_EQ(*run_awaitable(blobs_.purge(std::chrono::hours(1))), 0);
  {
    pqxx::connection c(pg_.conninfo());
    pqxx::work tx(c);
    tx.exec("UPDATE blobs SET created_at = now() - interval '30 days'");
    tx.commit();
  }
  EXPECT_EQ(*run_awaitable(blobs_.purge(std::chrono::hours(24 * 7))), 1);
  EXPECT_TRUE(run_awaitable(blobs_.get(*kept)).ok());
  EXPECT_EQ(run_awaitable(blobs_.get(*dropped)).error().kind, ErrorKind::kNotFound);
}

TEST_F(StoreTest, UnreachableDatabaseIsUnavailableNotACrash) {
  DbExecutor nowhere("host=/nonexistent-dir port=1 user=postgres dbname=x connect_timeout=2", 1);
  PgEventStore store(nowhere);
  auto r = run_awaitable(store.outbox_depth());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
}

TEST_F(StoreTest, PuppetsAndTheirConversationsOutliveTheProcess) {
  PgPuppetStore puppets{db_};
  ASSERT_TRUE(run_awaitable(puppets.save_profile("hs", "@g1:x", "Bob\nblob:1")).ok());
  ASSERT_TRUE(run_awaitable(puppets.save_profile("hs", "@g1:x", "Bobby\nblob:2")).ok());
  ASSERT_TRUE(run_awaitable(puppets.save_profile("other", "@g1:x", "elsewhere")).ok());
  ASSERT_TRUE(run_awaitable(puppets.set_member("hs", "@g1:x", "!dm:x", true)).ok());
  ASSERT_TRUE(run_awaitable(puppets.set_member("hs", "@g1:x", "!dm:x", true)).ok());  // again
  ASSERT_TRUE(run_awaitable(puppets.set_member("hs", "@g1:x", "!team:x", true)).ok());
  ASSERT_TRUE(run_awaitable(puppets.set_member("hs", "@g1:x", "!team:x", false)).ok());
  ASSERT_TRUE(run_awaitable(puppets.set_member("hs", "@g2:x", "!team:x", false)).ok());  // never in

  PgPuppetStore after_restart{db_};
  auto state = run_awaitable(after_restart.load("hs"));
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(state->profiles.size(), 1u);
  EXPECT_EQ(state->profiles[0].puppet_id, "@g1:x");
  EXPECT_EQ(state->profiles[0].profile, "Bobby\nblob:2");
  EXPECT_EQ(state->memberships, (std::vector<PuppetMembership>{{"@g1:x", "!dm:x"}}));
  EXPECT_TRUE(run_awaitable(after_restart.load("nobody"))->profiles.empty());
}

TEST_F(StoreTest, AConversationIsDescribedAsItsConnectorLastSaidItWas) {
  PgConversationStateStore conversations{db_};
  EXPECT_FALSE(run_awaitable(conversations.describe("mail", "group:1"))->has_value());
  ASSERT_TRUE(run_awaitable(conversations.save("mail", "group:1", nlohmann::json::object(),
                                               ConversationInfo{"group", "Team", {"a@x"}, "k"}))
                  .ok());
  ASSERT_TRUE(
      run_awaitable(conversations.save("mail", "group:1", nlohmann::json::object(),
                                       ConversationInfo{"group", "Team 2", {"a@x", "b@x"}, ""}))
          .ok());
  const auto info = run_awaitable(conversations.describe("mail", "group:1"));
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->kind, "group");
  EXPECT_EQ((*info)->title, "Team 2");
  EXPECT_EQ((*info)->members, (std::vector<std::string>{"a@x", "b@x"}));
  EXPECT_EQ((*info)->match_key, "");
  EXPECT_FALSE(run_awaitable(conversations.describe("other", "group:1"))->has_value());
}

}  // namespace
}  // namespace coibridge::core::pg
