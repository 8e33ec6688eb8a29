#include "core/model/json_limits.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/model/sanitize.hpp"

namespace coibridge::core {
namespace {

std::string nested_arrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

std::string nested_objects(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += "{\"a\":";
  text += "1";
  for (int i = 0; i < depth; ++i) text += "}";
  return text;
}

TEST(JsonLimits, NestingUpToTheLimitIsParsed) {
  EXPECT_TRUE(parse_json_limited(nested_arrays(63)).ok());
  EXPECT_TRUE(parse_json_limited(nested_arrays(64)).ok());
  EXPECT_TRUE(parse_json_limited(nested_objects(63)).ok());
  EXPECT_TRUE(parse_json_limited(nested_objects(64)).ok());
  auto flat = parse_json_limited(R"({"a":[1,2,{"b":"c"}],"d":null})");
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ((*flat)["a"][2]["b"], "c");
}

TEST(JsonLimits, NestingBeyondTheLimitIsRefused) {
  for (const auto& text : {nested_arrays(65), nested_objects(65)}) {
    auto parsed = parse_json_limited(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_EQ(parsed.error().code, "too_deep");
    EXPECT_NE(parsed.error().message.find("64"), std::string::npos);
  }
  EXPECT_FALSE(parse_json_limited(nested_arrays(11), 10).ok());
  EXPECT_TRUE(parse_json_limited(nested_arrays(10), 10).ok());
}

TEST(JsonLimits, HundredThousandLevelsAreRefusedWithoutCrashing) {
  auto arrays = parse_json_limited(nested_arrays(100000));
  ASSERT_FALSE(arrays.ok());
  EXPECT_EQ(arrays.error().code, "too_deep");
  auto objects = parse_json_limited(nested_objects(100000));
  ASSERT_FALSE(objects.ok());
  EXPECT_EQ(objects.error().code, "too_deep");
  // Unterminated, as an attacker need not close what they open.
  EXPECT_FALSE(parse_json_limited(std::string(100000, '[')).ok());
}

TEST(JsonLimits, TheTopLevelMemberHoldingTheDeepValueIsNamed) {
  auto parsed = parse_json_limited(R"({"connector":"x","options":)" + nested_objects(100000) + "}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().field, "options");
}

TEST(JsonLimits, InvalidJsonIsAnInvalidArgument) {
  auto parsed = parse_json_limited("{\"a\":");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(parsed.error().code.empty());
}

TEST(RemoveNul, EveryTextOfAnEventLosesItsNulCharacters) {
  const std::string nul(1, '\0');
  Event event;
  event.id = new_event_id();
  event.where = {"spool", "room" + nul};
  event.who = {"spool", "alice", "Al" + nul + "ice"};
  event.origin = {"spool", "m1"};
  MessagePosted posted;
  posted.body.text = "a" + nul + "b" + nul;
  posted.body.html = nul + "<b>x</b>";
  posted.body.attachments.push_back({"f" + nul + ".txt", "text/plain", 1, "blob:1"});
  event.payload = posted;
  EXPECT_TRUE(remove_nul(event));
  EXPECT_EQ(event.where.remote_id, "room");
  EXPECT_EQ(event.who.display_name, "Alice");
  const auto& body = std::get<MessagePosted>(event.payload).body;
  EXPECT_EQ(body.text, "ab");
  EXPECT_EQ(body.html, "<b>x</b>");
  EXPECT_EQ(body.attachments[0].filename, "f.txt");
  EXPECT_FALSE(remove_nul(event));

  event.payload = ReactionChanged{{"spool", "m0"}, "+" + nul, true};
  EXPECT_TRUE(remove_nul(event));
  EXPECT_EQ(std::get<ReactionChanged>(event.payload).reaction, "+");
  event.payload = ConversationRenamed{"new" + nul};
  EXPECT_TRUE(remove_nul(event));
  EXPECT_EQ(std::get<ConversationRenamed>(event.payload).name, "new");
  event.payload = MemberJoined{{"spool", "bob", "B" + nul + "ob"}};
  EXPECT_TRUE(remove_nul(event));
  EXPECT_EQ(std::get<MemberJoined>(event.payload).member.display_name, "Bob");
}

TEST(IsUuid, OnlyTheTextFormOfAUuid) {
  EXPECT_TRUE(is_uuid(new_event_id().value));
  EXPECT_TRUE(is_uuid("0189ABCD-0000-4000-8000-00000000000f"));
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("0189abcd00004000800000000000000f"));
  EXPECT_FALSE(is_uuid("0189abcd-0000-4000-8000-00000000000g"));
  EXPECT_FALSE(is_uuid(""));
}

}  // namespace
}  // namespace coibridge::core
