#include "connectors/coi/group_threads.hpp"

#include <gtest/gtest.h>

#include "core/text/fnv1a.hpp"

namespace coibridge::connectors::coi {
namespace {

// An unencrypted Delta Chat group mail: In-Reply-To the previous message, References at most
// the last three (coi-protocol.md §1.5).
mime::ParsedMail adhoc_mail(std::string id, std::vector<std::string> in_reply_to,
                            std::vector<std::string> references,
                            std::string from = "Alice@Example.org",
                            std::vector<std::string> to = {"bob@example.org",
                                                           "bridge@example.org"}) {
  mime::ParsedMail m;
  m.message_id = std::move(id);
  m.is_chat = true;
  m.from = {std::move(from), "Alice"};
  for (auto& a : to) m.to.push_back({std::move(a), ""});
  m.group_name = "Team";
  m.in_reply_to = std::move(in_reply_to);
  m.references = std::move(references);
  return m;
}

TEST(GroupThreads, NamedMessagesAreInReplyToThenReferencesNewestFirstWithoutSelfOrRepeats) {
  const auto m = adhoc_mail("m5", {"m4"}, {"m2", "m3", "m4"});
  EXPECT_EQ(named_messages(m), (std::vector<std::string>{"m4", "m3", "m2"}));
  // The first mail of a group names itself only.
  EXPECT_TRUE(named_messages(adhoc_mail("m1", {}, {"m1"})).empty());
  EXPECT_TRUE(named_messages(adhoc_mail("m1", {}, {})).empty());
}

TEST(GroupThreads, MembersAreTheAddressedPeopleLowerCased) {
  const auto m =
      adhoc_mail("m1", {}, {}, "Alice@Example.org", {"BOB@example.org", "not-an-address"});
  EXPECT_EQ(addressed_members(m), (std::set<std::string>{"alice@example.org", "bob@example.org"}));
}

TEST(GroupThreads, SameGroupNeedsTheNameAndExactlyTheMembers) {
  GroupState state;
  observe_group_mail(state, adhoc_mail("m1", {}, {"m1"}));
  EXPECT_TRUE(same_group(state, adhoc_mail("m9", {"m8"}, {"m6", "m7", "m8"})));
  // Another sender of the same group: the same set.
  EXPECT_TRUE(same_group(state, adhoc_mail("b1", {"m8"}, {"m8"}, "bob@example.org",
                                           {"alice@example.org", "BRIDGE@example.org"})));
  auto renamed = adhoc_mail("m9", {"m8"}, {"m8"});
  renamed.group_name = "Other team";
  EXPECT_FALSE(same_group(state, renamed));
  EXPECT_FALSE(same_group(
      state, adhoc_mail("m9", {"m8"}, {"m8"}, "alice@example.org", {"bob@example.org"})));
  EXPECT_FALSE(same_group(
      state, adhoc_mail("m9", {"m8"}, {"m8"}, "alice@example.org",
                        {"bob@example.org", "bridge@example.org", "carol@example.org"})));
  // The key finds it; another name or member set gives another key.
  const auto key = group_match_key(state);
  EXPECT_EQ(key, group_match_key("Team", addressed_members(adhoc_mail("x", {}, {}))));
  EXPECT_NE(key, group_match_key("Team ", addressed_members(adhoc_mail("x", {}, {}))));
  EXPECT_NE(key, group_match_key("Team", {"alice@example.org", "bob@example.org"}));
  // Names and addresses cannot run into each other.
  EXPECT_NE(group_match_key("a", {"b@x"}), group_match_key("ab@x", {}));
}

TEST(GroupThreads, MatchKeysAreTheFnv1aDigestOfNameAndMembers) {
  // The published FNV-1a 64 test vectors: ids derived from it must not change between builds.
  EXPECT_EQ(core::hex64(core::fnv1a64("")), "cbf29ce484222325");
  EXPECT_EQ(core::hex64(core::fnv1a64("a")), "af63dc4c8601ec8c");
  EXPECT_EQ(core::hex64(core::fnv1a64("foobar")), "85944171f73967e8");
  EXPECT_EQ(group_match_key("Team", {"a@x", "b@x"}),
            "adhoc:" + core::hex64(core::fnv1a64("Team\x1f"
                                                 "a@x\x1f"
                                                 "b@x\x1f")));
}

TEST(GroupThreads, ABrokenChainIsNamedAfterItsOldestReference) {
  EXPECT_EQ(fallback_conversation(adhoc_mail("m9", {"m8"}, {"m6", "m7", "m8"})), "adhoc:m6");
  EXPECT_EQ(fallback_conversation(adhoc_mail("m9", {"m8"}, {})), "adhoc:m8");
  EXPECT_EQ(fallback_conversation(adhoc_mail("m1", {}, {})), "adhoc:m1");
}

TEST(GroupThreads, MergedStatesKeepEveryMemberAndTheSurvivorsThread) {
  GroupState into{"Team", {"a@x", "b@x"}, "<root>", "<last>"};
  const GroupState from{"Old name", {"b@x", "c@x"}, "<other root>", "<other last>"};
  merge_group_state(into, from);
  EXPECT_EQ(into, (GroupState{"Team", {"a@x", "b@x", "c@x"}, "<root>", "<last>"}));
  GroupState empty;
  merge_group_state(empty, from);
  EXPECT_EQ(empty, from);
}

}  // namespace
}  // namespace coibridge::connectors::coi
