#include "core/model/event_json.hpp"

#include <gtest/gtest.h>

#include <set>

namespace coibridge::core {
namespace {

Event base_event(Payload payload) {
  Event e;
  e.id = new_event_id();
  e.where = {"coi", "group:abc"};
  e.who = {"coi", "alice@example.org", "Alice \"A\" Ä"};
  e.origin = {"coi", "<chat$abc@example.org>"};
  e.at = Timestamp{std::chrono::milliseconds(1795000000123)};
  e.payload = std::move(payload);
  return e;
}

class RoundTrip : public ::testing::TestWithParam<Payload> {};

TEST_P(RoundTrip, EveryPayloadSurvivesJson) {
  const Event e = base_event(GetParam());
  const auto json = to_json(e);
  auto back = event_from_json(nlohmann::json::parse(json.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, e);
  EXPECT_EQ(json["payload"]["kind"], payload_kind(e.payload));
}

MessageBody rich_body() {
  MessageBody b;
  b.text = "line 1\nline 2 ✓ \x01";
  b.html = "<p>line 1</p>";
  b.attachments = {{"cat.png", "image/png", 12345, "blob:sha256:ab"},
                   {"a.txt", "text/plain", 0, "/x"}};
  b.reply_to = RemoteMessageRef{"matrix", "$ev:example.org"};
  return b;
}

INSTANTIATE_TEST_SUITE_P(
    Payloads, RoundTrip,
    ::testing::Values(Payload{MessagePosted{rich_body()}},
                      Payload{MessagePosted{{"plain", std::nullopt, {}, std::nullopt}}},
                      Payload{MessageEdited{{"coi", "<m1>"}, rich_body()}},
                      Payload{MessageDeleted{{"coi", "<m1>"}}},
                      Payload{ReactionChanged{{"coi", "<m1>"}, "👍", true}},
                      Payload{ReactionChanged{{"coi", "<m1>"}, "👍", false}},
                      Payload{ReadUpTo{{"coi", "<m9>"}}}, Payload{Typing{false}},
                      Payload{MemberJoined{{"coi", "bob@example.org", "Bob"}}},
                      Payload{MemberLeft{{"coi", "bob@example.org", ""}}},
                      Payload{ConversationRenamed{"New name"}}));

TEST(EventJson, ActorAvatarIsKeptAndOnlyWrittenWhenKnown) {
  Event e = base_event(Typing{true});
  EXPECT_FALSE(to_json(e)["who"].contains("avatar"));
  e.who.avatar = "blob:sha256:0123";
  const auto json = to_json(e);
  EXPECT_EQ(json["who"]["avatar"], "blob:sha256:0123");
  auto back = event_from_json(json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->who.avatar, "blob:sha256:0123");
  auto bad = json;
  bad["who"]["avatar"] = 7;
  EXPECT_EQ(event_from_json(bad).error().field, "who.avatar");
}

TEST(EventJson, KindsAreDistinct) {
  std::set<std::string> kinds;
  for (std::size_t i = 0; i < std::variant_size_v<Payload>; ++i) {
    Payload p;
    switch (i) {
      case 0:
        p = MessagePosted{};
        break;
      case 1:
        p = MessageEdited{};
        break;
      case 2:
        p = MessageDeleted{};
        break;
      case 3:
        p = ReactionChanged{};
        break;
      case 4:
        p = ReadUpTo{};
        break;
      case 5:
        p = Typing{};
        break;
      case 6:
        p = MemberJoined{};
        break;
      case 7:
        p = MemberLeft{};
        break;
      default:
        p = ConversationRenamed{};
        break;
    }
    kinds.insert(payload_kind(p));
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<Payload>);
}

struct BadCase {
  const char* name;
  std::function<void(nlohmann::json&)> mutate;
  const char* field;
};

TEST(EventJson, ErrorsNameTheField) {
  const std::vector<BadCase> cases = {
      {"missing id", [](auto& j) { j.erase("id"); }, "id"},
      {"id not string", [](auto& j) { j["id"] = 5; }, "id"},
      {"where not object", [](auto& j) { j["where"] = "x"; }, "where"},
      {"missing where.remote_id", [](auto& j) { j["where"].erase("remote_id"); },
       "where.remote_id"},
      {"bad who.display_name", [](auto& j) { j["who"]["display_name"] = 1; }, "who.display_name"},
      {"bad at", [](auto& j) { j["at"] = "yesterday"; }, "at"},
      {"unknown kind", [](auto& j) { j["payload"]["kind"] = "message.exploded"; }, "payload.kind"},
      {"missing body", [](auto& j) { j["payload"].erase("body"); }, "payload.body"},
      {"text not string", [](auto& j) { j["payload"]["body"]["text"] = nullptr; },
       "payload.body.text"},
      {"attachments not array", [](auto& j) { j["payload"]["body"]["attachments"] = 3; },
       "payload.body.attachments"},
      {"negative size", [](auto& j) { j["payload"]["body"]["attachments"][0]["size"] = -1; },
       "payload.body.attachments[0].size"},
  };
  MessageBody body = rich_body();
  const auto good = to_json(base_event(MessagePosted{body}));
  for (const auto& c : cases) {
    auto j = good;
    c.mutate(j);
    auto r = event_from_json(j);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument) << c.name;
    EXPECT_EQ(r.error().field, c.field) << c.name;
  }
  EXPECT_FALSE(event_from_json(nlohmann::json::array()).ok());
  EXPECT_FALSE(event_from_json(nlohmann::json()).ok());
}

TEST(EventJson, UnknownFieldsAreIgnored) {
  auto j = to_json(base_event(Typing{true}));
  j["added_in_a_later_version"] = {1, 2};
  EXPECT_TRUE(event_from_json(j).ok());
}

TEST(Timestamps, FormatAndParse) {
  const Timestamp t{std::chrono::milliseconds(1795000000123)};
  EXPECT_EQ(format_timestamp(t), "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(*parse_timestamp("2026-11-18T11:06:40.123Z"), t);
  EXPECT_EQ(*parse_timestamp("2026-11-18T11:06:40Z"),
            Timestamp{std::chrono::milliseconds(1795000000000)});
  EXPECT_EQ(*parse_timestamp("2026-11-18T11:06:40.1234567Z"), t);
  for (const char* bad :
       {"", "2026-11-17", "2026-11-18T11:06:40", "2026-13-01T00:00:00Z", "2026-11-18T11:06:40.Z",
        "2026-11-18T11:06:40Zjunk", "2026-11-18T11:06:40+02:00"}) {
    EXPECT_FALSE(parse_timestamp(bad).ok()) << bad;
  }
  EXPECT_EQ(format_timestamp(Timestamp{}), "1970-01-01T00:00:00.000Z");
}

TEST(EventId, IsARandomVersion4Uuid) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_event_id().value;
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ResultType, ValueAndError) {
  Result<int> ok = 5;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 5);
  Result<int> bad = Error::conflict("dup");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kConflict);
  Result<int> empty;
  EXPECT_FALSE(empty.ok());
  Status st;
  EXPECT_TRUE(st.ok());
  Status failed = Error::unavailable("later");
  EXPECT_EQ(failed.error().message, "later");
  EXPECT_STREQ(to_string(ErrorKind::kPermanent), "permanent");
}

}  // namespace
}  // namespace coibridge::core
