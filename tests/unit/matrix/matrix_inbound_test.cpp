// Inbound mapping: room events and ephemeral events of appservice transactions, valid and
// hostile.

#include <gtest/gtest.h>

#include "connectors/matrix/matrix_event_mapping.hpp"

namespace coibridge::connectors::matrix {
namespace {

using nlohmann::json;

class InboundTest : public ::testing::Test {
 protected:
  InboundTest() {
    ctx_.naming = {"matrix.test"};
    ctx_.bot_localpart = "coibot";
  }

  static json event(const std::string& type, json content) {
    return {{"type", type},
            {"room_id", "!room:matrix.test"},
            {"sender", "@alice:matrix.test"},
            {"event_id", "$ev1"},
            {"origin_server_ts", 1736244000123ULL},
            {"content", std::move(content)}};
  }

  static json text(const std::string& body) {
    return event("m.room.message", {{"msgtype", "m.text"}, {"body", body}});
  }

  Inbound map(const json& ev) {
    auto r = map_room_event(ev, ctx_);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().field + ": " + r.error().message) << "\n"
                        << ev.dump();
    return r.ok() ? std::move(*r) : Inbound{Ignored{"error"}};
  }

  core::Event mapped(const json& ev) {
    Inbound in = map(ev);
    EXPECT_TRUE(std::holds_alternative<core::Event>(in.result)) << ev.dump();
    return std::holds_alternative<core::Event>(in.result) ? std::get<core::Event>(in.result)
                                                          : core::Event{};
  }

  core::MessageBody posted(const json& ev) {
    const core::Event e = mapped(ev);
    EXPECT_TRUE(std::holds_alternative<core::MessagePosted>(e.payload)) << ev.dump();
    return std::holds_alternative<core::MessagePosted>(e.payload)
               ? std::get<core::MessagePosted>(e.payload).body
               : core::MessageBody{};
  }

  // The field a rejected event names.
  std::string rejected_field(const json& ev) {
    auto r = map_room_event(ev, ctx_);
    EXPECT_FALSE(r.ok()) << ev.dump();
    if (r.ok()) return "<accepted>";
    EXPECT_EQ(r.error().kind, core::ErrorKind::kInvalidArgument);
    return r.error().field;
  }

  MappingContext ctx_;
};

TEST_F(InboundTest, TextMessage) {
  const core::Event e = mapped(text("hello"));
  EXPECT_EQ(e.where, (core::ConversationRef{"matrix", "!room:matrix.test"}));
  EXPECT_EQ(e.who, (core::ActorRef{"matrix", "@alice:matrix.test", "@alice:matrix.test"}));
  EXPECT_EQ(e.origin, (core::RemoteMessageRef{"matrix", "$ev1"}));
  EXPECT_EQ(e.at, core::Timestamp{std::chrono::milliseconds(1736244000123LL)});
  const auto& body = std::get<core::MessagePosted>(e.payload).body;
  EXPECT_EQ(body.text, "hello");
  EXPECT_FALSE(body.html.has_value());
  EXPECT_FALSE(body.reply_to.has_value());
  EXPECT_FALSE(map(text("x")).echo);
}

TEST_F(InboundTest, DisplayNameFromTheConnector) {
  ctx_.display_name = [](std::string_view user) -> std::optional<std::string> {
    if (user == "@alice:matrix.test") return "Alice";
    return std::nullopt;
  };
  EXPECT_EQ(mapped(text("x")).who.display_name, "Alice");
  json ev = text("x");
  ev["sender"] = "@bob:matrix.test";
  EXPECT_EQ(mapped(ev).who.display_name, "@bob:matrix.test");
}

TEST_F(InboundTest, NoticeAndUnknownMsgtypesShowTheBody) {
  json ev = text("a notice");
  ev["content"]["msgtype"] = "m.notice";
  EXPECT_EQ(posted(ev).text, "a notice");
  ev["content"]["msgtype"] = "org.example.custom";
  EXPECT_EQ(posted(ev).text, "a notice");
  ev["content"]["msgtype"] = "m.key.verification.request";
  EXPECT_TRUE(std::holds_alternative<Ignored>(map(ev).result));
}

TEST_F(InboundTest, EmoteNamesTheSender) {
  ctx_.display_name = [](std::string_view) -> std::optional<std::string> { return "Alice <A>"; };
  json ev = text("waves");
  ev["content"]["msgtype"] = "m.emote";
  EXPECT_EQ(posted(ev).text, "* Alice <A> waves");
  ev["content"]["format"] = "org.matrix.custom.html";
  ev["content"]["formatted_body"] = "<b>waves</b>";
  const auto body = posted(ev);
  EXPECT_EQ(body.text, "* Alice <A> waves");
  EXPECT_EQ(body.html, "* Alice &lt;A&gt; <b>waves</b>");
}

TEST_F(InboundTest, FormattedBodyIsSanitisedAndRendered) {
  json ev = text("fallback");
  ev["content"]["format"] = "org.matrix.custom.html";
  ev["content"]["formatted_body"] =
      "<p>Hi <strong>all</strong><script>x()</script></p><ul><li>one</li></ul>";
  const auto body = posted(ev);
  EXPECT_EQ(body.text, "Hi all\n\n- one");
  EXPECT_EQ(body.html, "<p>Hi <strong>all</strong></p><ul><li>one</li></ul>");

  ev["content"]["format"] = "org.example.markdown";  // not HTML: the body is the message
  EXPECT_EQ(posted(ev).text, "fallback");
  EXPECT_FALSE(posted(ev).html.has_value());

  ev["content"]["format"] = "org.matrix.custom.html";
  ev["content"]["formatted_body"] = "<script>only()</script>";  // nothing left: the body
  EXPECT_EQ(posted(ev).text, "fallback");
  EXPECT_FALSE(posted(ev).html.has_value());

  ev["content"]["formatted_body"] = 42;
  EXPECT_EQ(rejected_field(ev), "content.formatted_body");
}

TEST_F(InboundTest, Replies) {
  json ev = text("> <@bob:matrix.test> the question\n> second line\n\nthe answer");
  ev["content"]["m.relates_to"] = {{"m.in_reply_to", {{"event_id", "$parent"}}}};
  auto body = posted(ev);
  EXPECT_EQ(body.reply_to, (core::RemoteMessageRef{"matrix", "$parent"}));
  EXPECT_EQ(body.text, "the answer");  // the legacy fallback quote is stripped

  ev["content"]["format"] = "org.matrix.custom.html";
  ev["content"]["formatted_body"] =
      "<mx-reply><blockquote>the question</blockquote></mx-reply>the <i>answer</i>";
  body = posted(ev);
  EXPECT_EQ(body.text, "the answer");
  EXPECT_EQ(body.html, "the <i>answer</i>");

  ev["content"].erase("format");
  ev["content"].erase("formatted_body");
  ev["content"]["body"] = "> <@bob:matrix.test> only a quote\n";
  EXPECT_EQ(posted(ev).text, "> <@bob:matrix.test> only a quote\n");

  // A quote in a message that is no reply stays.
  EXPECT_EQ(posted(text("> <quote>\n\nmine")).text, "> <quote>\n\nmine");

  ev["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] = "not-an-event-id";
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to.m.in_reply_to.event_id");
  ev["content"]["m.relates_to"]["m.in_reply_to"] = "$parent";
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to.m.in_reply_to");
  ev["content"]["m.relates_to"] = json::array();
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to");
}

TEST_F(InboundTest, ThreadsReplyToTheRootUnlessARealReply) {
  json ev = text("in thread");
  ev["content"]["m.relates_to"] = {{"rel_type", "m.thread"},
                                   {"event_id", "$root"},
                                   {"is_falling_back", true},
                                   {"m.in_reply_to", {{"event_id", "$latest"}}}};
  EXPECT_EQ(posted(ev).reply_to->remote_id, "$root");
  ev["content"]["m.relates_to"]["is_falling_back"] = false;
  EXPECT_EQ(posted(ev).reply_to->remote_id, "$latest");
  ev["content"]["m.relates_to"].erase("m.in_reply_to");
  EXPECT_EQ(posted(ev).reply_to->remote_id, "$root");
  ev["content"]["m.relates_to"]["is_falling_back"] = "yes";
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to.is_falling_back");
}

TEST_F(InboundTest, EditsUseTheNewContent) {
  json ev = text("* fixed");
  ev["content"]["m.new_content"] = {{"msgtype", "m.text"},
                                    {"body", "fixed"},
                                    {"format", "org.matrix.custom.html"},
                                    {"formatted_body", "<b>fixed</b>"}};
  ev["content"]["m.relates_to"] = {{"rel_type", "m.replace"}, {"event_id", "$orig"}};
  const core::Event e = mapped(ev);
  const auto& edit = std::get<core::MessageEdited>(e.payload);
  EXPECT_EQ(edit.target, (core::RemoteMessageRef{"matrix", "$orig"}));
  EXPECT_EQ(edit.body.text, "fixed");
  EXPECT_EQ(edit.body.html, "<b>fixed</b>");

  ev["content"].erase("m.new_content");
  EXPECT_EQ(rejected_field(ev), "content.m.new_content");
  ev["content"]["m.new_content"] = {{"msgtype", "m.text"}};
  EXPECT_EQ(rejected_field(ev), "content.m.new_content.body");
  ev["content"]["m.relates_to"]["event_id"] = 7;
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to.event_id");
}

TEST_F(InboundTest, MediaBecomeAttachments) {
  json ev =
      event("m.room.message", {{"msgtype", "m.image"},
                               {"body", "cat.png"},
                               {"url", "mxc://matrix.test/AbC_12-x"},
                               {"info", {{"mimetype", "image/png"}, {"size", 12345}, {"w", 10}}}});
  auto body = posted(ev);
  ASSERT_EQ(body.attachments.size(), 1U);
  EXPECT_EQ(body.attachments[0],
            (core::Attachment{"cat.png", "image/png", 12345, "mxc://matrix.test/AbC_12-x"}));
  EXPECT_EQ(body.text, "");

  // v1.10 captions: body differs from filename.
  ev["content"]["filename"] = "IMG_0001.png";
  ev["content"]["body"] = "my cat";
  body = posted(ev);
  EXPECT_EQ(body.attachments[0].filename, "IMG_0001.png");
  EXPECT_EQ(body.text, "my cat");

  ev["content"]["msgtype"] = "m.file";
  ev["content"].erase("info");
  ev["content"].erase("filename");
  body = posted(ev);
  EXPECT_EQ(body.attachments[0].content_type, "application/octet-stream");
  EXPECT_EQ(body.attachments[0].size, 0U);
  EXPECT_EQ(body.attachments[0].filename, "my cat");
}

TEST_F(InboundTest, HostileMedia) {
  json ev = event("m.room.message",
                  {{"msgtype", "m.video"}, {"body", "v"}, {"url", "https://evil.example/v.mp4"}});
  EXPECT_EQ(rejected_field(ev), "content.url");
  ev["content"]["url"] = "mxc://matrix.test/../../etc/passwd";
  EXPECT_EQ(rejected_field(ev), "content.url");
  ev["content"]["url"] = "mxc://matrix.test/ok";
  ev["content"]["info"] = {{"size", -1}};
  EXPECT_EQ(rejected_field(ev), "content.info.size");
  ev["content"]["info"] = {{"size", 1.5}};
  EXPECT_EQ(rejected_field(ev), "content.info.size");
  ev["content"]["info"] = {{"mimetype", json::array()}};
  EXPECT_EQ(rejected_field(ev), "content.info.mimetype");
  ev["content"]["info"] = "big";
  EXPECT_EQ(rejected_field(ev), "content.info");
  ev["content"].erase("info");
  ev["content"].erase("url");
  EXPECT_EQ(rejected_field(ev), "content.url");
  ev["content"]["file"] = {{"url", "mxc://matrix.test/enc"}};  // end-to-end encrypted
  EXPECT_TRUE(std::holds_alternative<Ignored>(map(ev).result));
}

TEST_F(InboundTest, Reactions) {
  json ev =
      event("m.reaction",
            {{"m.relates_to", {{"rel_type", "m.annotation"}, {"event_id", "$msg"}, {"key", "👍"}}}});
  const core::Event e = mapped(ev);
  EXPECT_EQ(std::get<core::ReactionChanged>(e.payload),
            (core::ReactionChanged{{"matrix", "$msg"}, "👍", true}));
  ev["content"]["m.relates_to"]["key"] = "";
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to.key");
  ev["content"]["m.relates_to"].erase("key");
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to.key");
  ev["content"]["m.relates_to"]["rel_type"] = "org.example.other";
  EXPECT_TRUE(std::holds_alternative<Ignored>(map(ev).result));
  ev["content"] = json::object();
  EXPECT_EQ(rejected_field(ev), "content.m.relates_to");
}

TEST_F(InboundTest, RedactionsLeaveTheDecisionToTheConnector) {
  json ev = event("m.room.redaction", {{"reason", "spam"}});
  ev["redacts"] = "$gone";  // room versions before 11
  Inbound in = map(ev);
  ASSERT_TRUE(std::holds_alternative<Redaction>(in.result));
  const auto& redaction = std::get<Redaction>(in.result);
  EXPECT_EQ(redaction.redacted_event_id, "$gone");
  EXPECT_EQ(std::get<core::MessageDeleted>(redaction.event.payload).target,
            (core::RemoteMessageRef{"matrix", "$gone"}));
  EXPECT_EQ(redaction.event.origin.remote_id, "$ev1");

  const core::Event removed = reaction_removed(redaction, {"matrix", "$msg"}, "👍");
  EXPECT_EQ(std::get<core::ReactionChanged>(removed.payload),
            (core::ReactionChanged{{"matrix", "$msg"}, "👍", false}));
  EXPECT_EQ(removed.origin, redaction.event.origin);

  ev["content"]["redacts"] = "$v11";  // room version 11 and later: in content
  EXPECT_EQ(std::get<Redaction>(map(ev).result).redacted_event_id, "$v11");
  ev["content"]["redacts"] = "nope";
  EXPECT_EQ(rejected_field(ev), "content.redacts");
  ev["content"].erase("redacts");
  ev.erase("redacts");
  EXPECT_EQ(rejected_field(ev), "redacts");
}

TEST_F(InboundTest, Membership) {
  json ev = event("m.room.member", {{"membership", "join"}, {"displayname", "Bob"}});
  ev["state_key"] = "@bob:other.test";
  ev["sender"] = "@bob:other.test";
  core::Event e = mapped(ev);
  EXPECT_EQ(std::get<core::MemberJoined>(e.payload).member,
            (core::ActorRef{"matrix", "@bob:other.test", "Bob"}));
  EXPECT_EQ(e.who.display_name, "Bob");

  ev["unsigned"] = {{"prev_content", {{"membership", "join"}, {"displayname", "Bobby"}}}};
  EXPECT_TRUE(std::holds_alternative<Ignored>(map(ev).result));  // a profile change

  ev["content"] = {{"membership", "leave"}, {"displayname", nullptr}};
  e = mapped(ev);
  EXPECT_EQ(std::get<core::MemberLeft>(e.payload).member.remote_id, "@bob:other.test");

  ev["sender"] = "@mod:matrix.test";  // a kick or a ban
  ev["content"]["membership"] = "ban";
  e = mapped(ev);
  EXPECT_EQ(std::get<core::MemberLeft>(e.payload).member.remote_id, "@bob:other.test");
  EXPECT_EQ(e.who.remote_id, "@mod:matrix.test");

  ev["unsigned"]["prev_content"]["membership"] = "invite";  // a declined invite
  EXPECT_TRUE(std::holds_alternative<Ignored>(map(ev).result));
  ev["content"]["membership"] = "invite";
  EXPECT_TRUE(std::holds_alternative<Ignored>(map(ev).result));

  ev["state_key"] = "not a user";
  EXPECT_EQ(rejected_field(ev), "state_key");
  ev.erase("state_key");
  EXPECT_EQ(rejected_field(ev), "state_key");
  ev["state_key"] = "@bob:other.test";
  ev["content"] = {{"membership", 1}};
  EXPECT_EQ(rejected_field(ev), "content.membership");
}

TEST_F(InboundTest, RoomName) {
  json ev = event("m.room.name", {{"name", "Lunch"}});
  ev["state_key"] = "";
  EXPECT_EQ(std::get<core::ConversationRenamed>(mapped(ev).payload).name, "Lunch");
  ev["content"] = json::object();
  EXPECT_EQ(std::get<core::ConversationRenamed>(mapped(ev).payload).name, "");
  ev["content"] = {{"name", false}};
  EXPECT_EQ(rejected_field(ev), "content.name");
}

TEST_F(InboundTest, OtherEventsAreIgnoredNotRejected) {
  for (const char* type : {"m.room.topic", "m.room.power_levels", "m.room.encrypted",
                           "m.call.invite", "org.example"}) {
    const Inbound in = map(event(type, {{"anything", 1}}));
    ASSERT_TRUE(std::holds_alternative<Ignored>(in.result)) << type;
    EXPECT_NE(std::get<Ignored>(in.result).reason.find(type), std::string::npos);
  }
  json redacted = text("x");
  redacted["unsigned"] = {{"redacted_because", {{"type", "m.room.redaction"}}}};
  EXPECT_TRUE(std::holds_alternative<Ignored>(map(redacted).result));
}

TEST_F(InboundTest, OurOwnEventsAreEchoes) {
  for (const char* ours : {"@_coi_bob=40example.org:matrix.test", "@_coi_malformed=:matrix.test",
                           "@coibot:matrix.test"}) {
    json ev = text("x");
    ev["sender"] = ours;
    const Inbound in = map(ev);
    EXPECT_TRUE(in.echo) << ours;
    EXPECT_TRUE(std::holds_alternative<core::Event>(in.result));
  }
  for (const char* theirs : {"@_coi_bob:other.test", "@coibot:other.test", "@coibot2:matrix.test",
                             "@alice:matrix.test"}) {
    json ev = text("x");
    ev["sender"] = theirs;
    EXPECT_FALSE(map(ev).echo) << theirs;
  }
}

TEST_F(InboundTest, EnvelopeFieldsAreChecked) {
  EXPECT_EQ(rejected_field(json::array()), "event");
  EXPECT_EQ(rejected_field(json("string")), "event");
  const json good = text("x");
  const std::vector<std::pair<std::string, json>> cases = {
      {"type", 5},
      {"room_id", "room"},
      {"room_id", "!"},
      {"room_id", "!room:bad server"},
      {"room_id", nullptr},
      {"sender", "alice"},
      {"sender", std::string("@a\xc3:matrix.test", 15)},
      {"sender", json::object()},
      {"event_id", "ev1"},
      {"event_id", "$" + std::string(300, 'e')},
      {"origin_server_ts", -5},
      {"origin_server_ts", 1.5},
      {"origin_server_ts", "1736244000123"},
      {"origin_server_ts", 18446744073709551615ULL},
      {"content", "text"},
      {"content", json::array()},
      {"unsigned", 3},
  };
  for (const auto& [field, value] : cases) {
    json ev = good;
    ev[field] = value;
    EXPECT_EQ(rejected_field(ev), field) << value.dump();
  }
  for (const char* field :
       {"type", "room_id", "sender", "event_id", "origin_server_ts", "content"}) {
    json ev = good;
    ev.erase(field);
    EXPECT_EQ(rejected_field(ev), field);
  }
  json ev = good;
  ev["content"].erase("body");
  EXPECT_EQ(rejected_field(ev), "content.body");
  ev["content"]["body"] = json::array({"a"});
  EXPECT_EQ(rejected_field(ev), "content.body");
  ev["content"]["body"] = "x";
  ev["content"].erase("msgtype");
  EXPECT_EQ(rejected_field(ev), "content.msgtype");
}

TEST_F(InboundTest, HugeAndNestedGarbageDoesNotBreakIt) {
  json ev = text(std::string(1 << 20, 'a'));  // larger than any homeserver allows
  EXPECT_EQ(posted(ev).text.size(), 1U << 20);
  ev["content"]["format"] = "org.matrix.custom.html";
  ev["content"]["formatted_body"] = std::string(300 * 1024, '<');  // too large to render: body
  EXPECT_FALSE(posted(ev).html.has_value());

  std::string nested;
  for (int i = 0; i < 2000; ++i) nested += "{\"x\":";
  nested += "{}" + std::string(2000, '}');
  ev = text("x");
  ev["content"]["extra"] = json::parse(nested);  // deep, and nowhere the mapping looks
  EXPECT_EQ(posted(ev).text, "x");
  ev["content"]["m.relates_to"] = json::parse(nested);  // deep where it looks: no relation
  EXPECT_EQ(posted(ev).text, "x");
}

class EphemeralTest : public InboundTest {
 protected:
  TransactionInfo txn_{"txn42", core::Timestamp{std::chrono::seconds(1736244000)}};
};

TEST_F(EphemeralTest, ReadReceipts) {
  const json edu = {
      {"type", "m.receipt"},
      {"room_id", "!room:matrix.test"},
      {"content",
       {{"$msg1",
         {{"m.read",
           {{"@alice:matrix.test", {{"ts", 1736244000999ULL}}},
            {"@_coi_bob=40example.org:matrix.test", {{"ts", 1}}},
            {"@carol:other.test", {{"ts", 2}, {"thread_id", "main"}}}}},
          {"m.read.private", {{"@dave:matrix.test", {{"ts", 3}}}}}}},
        {"not-an-event", {{"m.read", {{"@eve:matrix.test", {{"ts", 4}}}}}}},
        {"$msg2", {{"m.read", {{"bad user", {{"ts", 5}}}, {"@frank:matrix.test", "garbage"}}}}},
        {"$msg3", "garbage"}}}};
  auto r = map_ephemeral_event(edu, ctx_, txn_);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2U);  // alice and carol: ghosts, private receipts and bad entries left out
  const core::Event& alice = (*r)[0];
  EXPECT_EQ(alice.where, (core::ConversationRef{"matrix", "!room:matrix.test"}));
  EXPECT_EQ(alice.who.remote_id, "@alice:matrix.test");
  EXPECT_EQ(alice.origin.remote_id, "receipt:@alice:matrix.test:$msg1");
  EXPECT_EQ(alice.at, core::Timestamp{std::chrono::milliseconds(1736244000999LL)});
  EXPECT_EQ(std::get<core::ReadUpTo>(alice.payload).target,
            (core::RemoteMessageRef{"matrix", "$msg1"}));
  EXPECT_EQ((*r)[1].who.remote_id, "@carol:other.test");

  // Redelivery gives the same origins, so the router drops the duplicates.
  auto again = map_ephemeral_event(edu, ctx_, {"txn43", {}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].origin, alice.origin);
}

TEST_F(EphemeralTest, TypingIsTheCurrentSet) {
  json edu = {{"type", "m.typing"},
              {"room_id", "!room:matrix.test"},
              {"content",
               {{"user_ids",
                 {"@alice:matrix.test", "@coibot:matrix.test", 7, "junk", "@bob:other.test"}}}}};
  auto r = map_ephemeral_event(edu, ctx_, txn_);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2U);
  EXPECT_EQ((*r)[0].who.remote_id, "@alice:matrix.test");
  EXPECT_EQ((*r)[0].origin.remote_id, "typing:txn42:!room:matrix.test:@alice:matrix.test");
  EXPECT_EQ((*r)[0].at, txn_.received_at);
  EXPECT_EQ(std::get<core::Typing>((*r)[0].payload), core::Typing{true});
  EXPECT_EQ((*r)[1].who.remote_id, "@bob:other.test");

  edu["content"]["user_ids"] = json::array();  // everybody stopped
  EXPECT_TRUE(map_ephemeral_event(edu, ctx_, txn_)->empty());
  edu["content"]["user_ids"] = "@alice:matrix.test";
  EXPECT_EQ(map_ephemeral_event(edu, ctx_, txn_).error().field, "content.user_ids");
}

TEST_F(EphemeralTest, WhoLeftTheTypingSetStopped) {
  const core::ConversationRef room{"matrix", "!room:matrix.test"};
  const std::set<std::string> before{"@alice:matrix.test", "@bob:other.test"};
  const std::set<std::string> now{"@bob:other.test", "@carol:matrix.test"};
  auto stopped = typing_stopped(before, now, room, ctx_, txn_);
  ASSERT_EQ(stopped.size(), 1U);
  EXPECT_EQ(stopped[0].who.remote_id, "@alice:matrix.test");
  EXPECT_EQ(stopped[0].where, room);
  EXPECT_EQ(stopped[0].origin.remote_id, "typing:txn42:!room:matrix.test:@alice:matrix.test");
  EXPECT_EQ(std::get<core::Typing>(stopped[0].payload), core::Typing{false});
  EXPECT_TRUE(typing_stopped(now, now, room, ctx_, txn_).empty());
  EXPECT_EQ(typing_stopped(now, {}, room, ctx_, txn_).size(), 2U);
}

TEST_F(EphemeralTest, EnvelopeAndOtherTypes) {
  EXPECT_TRUE(map_ephemeral_event({{"type", "m.presence"}, {"content", {{"presence", "online"}}}},
                                  ctx_, txn_)
                  ->empty());
  EXPECT_TRUE(map_ephemeral_event({{"type", "org.example"}}, ctx_, txn_)->empty());
  EXPECT_EQ(map_ephemeral_event(json::array(), ctx_, txn_).error().field, "event");
  EXPECT_EQ(map_ephemeral_event({{"content", json::object()}}, ctx_, txn_).error().field, "type");
  EXPECT_EQ(map_ephemeral_event({{"type", "m.receipt"}, {"content", json::object()}}, ctx_, txn_)
                .error()
                .field,
            "room_id");
  EXPECT_EQ(map_ephemeral_event(
                {{"type", "m.typing"}, {"room_id", "!r:matrix.test"}, {"content", 1}}, ctx_, txn_)
                .error()
                .field,
            "content");
}

}  // namespace
}  // namespace coibridge::connectors::matrix
