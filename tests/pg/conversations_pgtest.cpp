// The conversation directory, finding a conversation by what it is, and merging two
// conversations that turned out to be one.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "core/router/fanout.hpp"
#include "tests/pg/store_fixture.hpp"

namespace coibridge::core::pg {
namespace {

using testing::run_awaitable;

class ConversationsTest : public StoreFixture {
 protected:
  Event message(const std::string& conv, const std::string& origin,
                const std::string& connector = "mail") {
    Event e;
    e.id = new_event_id();
    e.where = {connector, conv};
    e.who = {connector, "alice@example.org", "Alice"};
    e.origin = {connector, origin};
    e.at = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    e.payload = MessagePosted{{"text of " + origin, std::nullopt, {}, std::nullopt}};
    return e;
  }

  PublishStatus publish(const Event& e) {
    auto out = run_awaitable(events_.publish(e, plan_fanout));
    EXPECT_TRUE(out.ok()) << out.error().message;
    return out.ok() ? out->status : PublishStatus::kDuplicate;
  }

  std::vector<ConversationSummary> listed(ConversationFilter filter = {}) {
    auto page = run_awaitable(bridges_.list_conversations(std::move(filter)));
    EXPECT_TRUE(page.ok()) << page.error().message;
    return page.ok() ? page->items : std::vector<ConversationSummary>{};
  }
};

TEST_F(ConversationsTest, DirectoryCountsMessagesAndUnlinkedEventsPerConversation) {
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(publish(message("adhoc:<g1>", "g1-" + std::to_string(i))), PublishStatus::kUnlinked);
  publish(message("adhoc:<g1>", "g1-3"));  // a re-read mail counts once
  auto joined = message("adhoc:<g1>", "g1-0#joined:bob@example.org");
  joined.payload = MemberJoined{{"mail", "bob@example.org", ""}};
  publish(joined);
  ConversationInfo info{"group", "Team", {"alice@example.org", "bob@example.org"}, "key-1"};
  ASSERT_TRUE(
      run_awaitable(conversations_.save("mail", "adhoc:<g1>", nlohmann::json::object(), info))
          .ok());
  bridge_with({{"mail", "dm:carol@example.org"}, {"spool", "general"}});
  publish(message("dm:carol@example.org", "c-1"));

  auto all = listed();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].remote_id, "adhoc:<g1>");
  EXPECT_EQ(all[0].kind, "group");
  EXPECT_EQ(all[0].title, "Team");
  EXPECT_EQ(all[0].members, (std::vector<std::string>{"alice@example.org", "bob@example.org"}));
  EXPECT_EQ(all[0].messages, 30);
  EXPECT_EQ(all[0].unlinked_events, 31);  // 30 messages and the member joining
  EXPECT_FALSE(all[0].bridge_id.has_value());
  EXPECT_EQ(all[1].remote_id, "dm:carol@example.org");
  EXPECT_EQ(all[1].messages, 1);
  EXPECT_EQ(all[1].unlinked_events, 0);
  EXPECT_TRUE(all[1].bridge_id.has_value());

  EXPECT_EQ(listed({"mail", false, "", 0, 100}).size(), 1u);
  ConversationFilter unlinked;
  unlinked.linked = false;
  unlinked.with_unlinked_events = true;
  ASSERT_EQ(listed(unlinked).size(), 1u);
  EXPECT_EQ(listed(unlinked).front().remote_id, "adhoc:<g1>");
  EXPECT_EQ(listed({"mail", true, "", 0, 100}).front().remote_id, "dm:carol@example.org");
  EXPECT_EQ(listed({"spool", std::nullopt, "", 0, 100}).size(), 0u);
  EXPECT_EQ(listed({"", std::nullopt, "tEAm", 0, 100}).front().remote_id, "adhoc:<g1>");
  EXPECT_EQ(listed({"", std::nullopt, "carol", 0, 100}).front().remote_id, "dm:carol@example.org");
  auto page = run_awaitable(bridges_.list_conversations({"", std::nullopt, "", 0, 1}));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  ASSERT_TRUE(page->next_after.has_value());
  EXPECT_EQ(listed({"", std::nullopt, "", *page->next_after, 1}).front().remote_id,
            "dm:carol@example.org");
}

TEST_F(ConversationsTest, ConversationsOfManyMessagesInOneLookup) {
  publish(message("adhoc:<a>", "<m\"1\\>"));
  publish(message("adhoc:<b>", "<m2>"));
  publish(message("adhoc:<b>", "<m3>", "other"));  // another connector's id
  auto found =
      run_awaitable(events_.conversations_of("mail", {"<m\"1\\>", "<m2>", "<m3>", "<unknown>"}));
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(*found,
            (std::map<std::string, std::string>{{"<m\"1\\>", "adhoc:<a>"}, {"<m2>", "adhoc:<b>"}}));
  EXPECT_TRUE(run_awaitable(events_.conversations_of("mail", {}))->empty());
}

TEST_F(ConversationsTest, FindByKeyLeavesMergedConversationsOut) {
  ConversationInfo info{"group", "Team", {"a@x", "b@x"}, "team-key"};
  ASSERT_TRUE(
      run_awaitable(conversations_.save("mail", "adhoc:<one>", nlohmann::json::object(), info))
          .ok());
  ASSERT_TRUE(
      run_awaitable(conversations_.save("mail", "adhoc:<two>", nlohmann::json::object(), info))
          .ok());
  ASSERT_TRUE(
      run_awaitable(conversations_.save("other", "x", nlohmann::json::object(), info)).ok());
  EXPECT_EQ(*run_awaitable(conversations_.find_by_key("mail", "team-key")),
            (std::vector<std::string>{"adhoc:<one>", "adhoc:<two>"}));
  ASSERT_EQ(*run_awaitable(conversations_.merge("mail", "adhoc:<one>", "adhoc:<two>")),
            "adhoc:<one>");
  EXPECT_EQ(*run_awaitable(conversations_.find_by_key("mail", "team-key")),
            (std::vector<std::string>{"adhoc:<one>"}));
  // A later description of the merged one does not bring its key back.
  ASSERT_TRUE(
      run_awaitable(conversations_.save("mail", "adhoc:<two>", nlohmann::json::object(), info))
          .ok());
  EXPECT_EQ(run_awaitable(conversations_.find_by_key("mail", "team-key"))->size(), 1u);
}

TEST_F(ConversationsTest, MergeKeepsTheLinkedOneAndTheOtherResolvesToIt) {
  // Seen first, unlinked...
  publish(message("adhoc:<first>", "<f1>"));
  publish(message("adhoc:<first>", "<f2>"));
  // ...and a second thread of the same group, linked.
  const auto bridge = bridge_with({{"mail", "adhoc:<second>"}, {"spool", "room"}});
  publish(message("adhoc:<second>", "<s1>"));

  auto survivor = run_awaitable(conversations_.merge("mail", "adhoc:<first>", "adhoc:<second>"));
  ASSERT_TRUE(survivor.ok()) << survivor.error().message;
  EXPECT_EQ(*survivor, "adhoc:<second>");
  // Exactly once: a repeat, either way round, changes nothing.
  EXPECT_EQ(*run_awaitable(conversations_.merge("mail", "adhoc:<second>", "adhoc:<first>")),
            "adhoc:<second>");
  EXPECT_EQ(*run_awaitable(conversations_.merge("mail", "adhoc:<first>", "adhoc:<second>")),
            "adhoc:<second>");
  EXPECT_EQ(text("SELECT count(*) FROM audit_log WHERE action = 'conversation.merge'"), "1");

  // The merged id's messages resolve to the survivor, one at a time and many at once.
  EXPECT_EQ(run_awaitable(events_.conversation_of({"mail", "<f1>"}))->value().remote_id,
            "adhoc:<second>");
  EXPECT_EQ(run_awaitable(events_.conversations_of("mail", {"<f2>", "<s1>"}))->at("<f2>"),
            "adhoc:<second>");
  // The directory shows one conversation with the counts of both.
  auto all = listed({"mail", std::nullopt, "", 0, 100});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].remote_id, "adhoc:<second>");
  EXPECT_EQ(all[0].messages, 3);
  EXPECT_EQ(all[0].bridge_id, bridge.id);
  // Linking the merged id links the survivor, which is linked already.
  auto other = run_awaitable(bridges_.create_bridge("other", "test"));
  auto link = run_awaitable(
      bridges_.add_link(other->id, "mail", "adhoc:<first>", nlohmann::json::object(), "test"));
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.error().kind, ErrorKind::kConflict);
}

TEST_F(ConversationsTest, MergeOfUnlinkedOnesKeepsTheFirstSeenAndLinkingTheOtherLinksIt) {
  publish(message("adhoc:<old>", "<o1>"));
  publish(message("adhoc:<new>", "<n1>"));
  EXPECT_EQ(*run_awaitable(conversations_.merge("mail", "adhoc:<new>", "adhoc:<old>")),
            "adhoc:<old>");
  auto b = run_awaitable(bridges_.create_bridge("late", "test"));
  auto link = run_awaitable(
      bridges_.add_link(b->id, "mail", "adhoc:<new>", nlohmann::json::object(), "test"));
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link->remote_id, "adhoc:<old>");
  // A third one merged into the merged id joins the survivor; aliases stay one hop.
  publish(message("adhoc:<third>", "<t1>"));
  EXPECT_EQ(*run_awaitable(conversations_.merge("mail", "adhoc:<third>", "adhoc:<new>")),
            "adhoc:<old>");
  EXPECT_EQ(run_awaitable(events_.conversation_of({"mail", "<t1>"}))->value().remote_id,
            "adhoc:<old>");
  EXPECT_EQ(text("SELECT count(*) FROM conversations WHERE merged_into = 'adhoc:<old>'"), "2");
}

TEST_F(ConversationsTest, MergeInOneBridgeMovesQueuedDeliveriesOnce) {
  const auto bridge =
      bridge_with({{"mail", "adhoc:<a>"}, {"mail", "adhoc:<b>"}, {"spool", "room"}});
  // Two spool messages, each queued for both mail threads of the one group.
  publish(message("room", "s-1", "spool"));
  publish(message("room", "s-2", "spool"));
  EXPECT_EQ(text("SELECT count(*) FROM outbox WHERE target_connector = 'mail'"), "4");
  auto survivor = run_awaitable(conversations_.merge("mail", "adhoc:<b>", "adhoc:<a>"));
  ASSERT_TRUE(survivor.ok()) << survivor.error().message;
  const std::string gone = *survivor == "adhoc:<a>" ? "adhoc:<b>" : "adhoc:<a>";
  // One delivery per event to the survivor, none to the merged one, whose link is gone.
  EXPECT_EQ(text("SELECT count(*) FROM outbox WHERE target_conversation = '" + gone + "'"), "0");
  EXPECT_EQ(text("SELECT count(*) FROM outbox WHERE target_conversation = '" + *survivor + "'"),
            "2");
  EXPECT_EQ(text("SELECT count(DISTINCT event_id) FROM outbox WHERE target_connector = 'mail'"),
            "2");
  EXPECT_EQ(text("SELECT count(*) FROM links WHERE connector = 'mail' AND bridge_id = " +
                 std::to_string(bridge.id)),
            "1");
}

TEST_F(ConversationsTest, MergeOfConversationsInTwoBridgesIsRefused) {
  bridge_with({{"mail", "adhoc:<a>"}, {"spool", "one"}});
  bridge_with({{"mail", "adhoc:<b>"}, {"spool", "two"}});
  auto merged = run_awaitable(conversations_.merge("mail", "adhoc:<a>", "adhoc:<b>"));
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(text("SELECT count(*) FROM conversations WHERE merged_into IS NOT NULL"), "0");
  EXPECT_EQ(text("SELECT count(*) FROM links WHERE connector = 'mail'"), "2");
}

TEST_F(ConversationsTest, PruneForgetsOldUnlinkedEventsOnly) {
  publish(message("adhoc:<a>", "<old>"));
  publish(message("adhoc:<a>", "<new>"));
  bridge_with({{"mail", "adhoc:<l>"}, {"spool", "x"}});
  publish(message("adhoc:<l>", "<linked-old>"));
  exec(
      "UPDATE messages SET created_at = now() - interval '40 days' WHERE origin_remote_id IN "
      "('<old>', '<linked-old>')");
  auto pruned = run_awaitable(events_.prune_unlinked(std::chrono::hours(24 * 30)));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(
      text("SELECT string_agg(origin_remote_id, ',' ORDER BY origin_remote_id) FROM messages"),
      "<linked-old>,<new>");
}

}  // namespace
}  // namespace coibridge::core::pg
