// Outbound mapping: core events as client-server API requests into one room.

#include <gtest/gtest.h>

#include "connectors/matrix/matrix_event_mapping.hpp"

namespace coibridge::connectors::matrix {
namespace {

using nlohmann::json;
using Kind = MatrixSend::Kind;

constexpr const char* kRoom = "!portal:matrix.test";

class OutboundTest : public ::testing::Test {
 protected:
  OutboundTest() { ctx_.naming = {"matrix.test"}; }

  static core::Event event(core::Payload payload) {
    core::Event e;
    e.id = {"0190f7a0-1234-4abc-8def-0123456789ab"};
    e.where = {"coi", "dm:alice@example.org"};
    e.who = {"coi", "alice@example.org", "Alice"};
    e.origin = {"coi", "Mr.abc@example.org"};
    e.payload = std::move(payload);
    return e;
  }

  static core::Event posted(core::MessageBody body) {
    return event(core::MessagePosted{std::move(body)});
  }

  std::vector<MatrixSend> sends(const core::Event& e) {
    auto r = sends_for_event(e, kRoom, ctx_);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().field + ": " + r.error().message);
    return r.ok() ? std::move(*r) : std::vector<MatrixSend>{};
  }

  core::Error failure(const core::Event& e, std::string_view room = kRoom) {
    auto r = sends_for_event(e, room, ctx_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? core::Error{} : r.error();
  }

  core::RemoteMessageRef matrix_ref(const std::string& id) const { return {ctx_.connector, id}; }

  MappingContext ctx_;
};

TEST_F(OutboundTest, PlainText) {
  const auto s = sends(posted({"hello <world>", std::nullopt, {}, std::nullopt}));
  ASSERT_EQ(s.size(), 1U);
  EXPECT_EQ(s[0].kind, Kind::kSend);
  EXPECT_EQ(s[0].event_type, "m.room.message");
  EXPECT_EQ(
      s[0].content,
      (json{{"msgtype", "m.text"}, {"body", "hello <world>"}, {"m.mentions", json::object()}}));
  EXPECT_FALSE(s[0].txn_id.empty());
}

TEST_F(OutboundTest, HtmlIsSanitisedIntoFormattedBody) {
  const auto s = sends(
      posted({"bold", "<b onclick=\"x()\">bold</b><script>evil()</script>", {}, std::nullopt}));
  ASSERT_EQ(s.size(), 1U);
  EXPECT_EQ(s[0].content["format"], "org.matrix.custom.html");
  EXPECT_EQ(s[0].content["formatted_body"], "<b>bold</b>");
  EXPECT_EQ(s[0].content["body"], "bold");

  // Nothing left after sanitising: plain text only.
  const auto plain = sends(posted({"x", "<script>evil()</script>", {}, std::nullopt}));
  EXPECT_FALSE(plain[0].content.contains("formatted_body"));
  // HTML without text: the text is rendered from it.
  const auto rendered = sends(posted({"", "<p>only <i>html</i></p>", {}, std::nullopt}));
  EXPECT_EQ(rendered[0].content["body"], "only html");
}

TEST_F(OutboundTest, IllFormedTextIsRepairedForJson) {
  const auto s = sends(posted({"bad \xff byte", std::nullopt, {}, std::nullopt}));
  ASSERT_EQ(s.size(), 1U);
  EXPECT_NO_THROW((void)s[0].content.dump());
  EXPECT_EQ(s[0].content["body"], "bad \xEF\xBF\xBD byte");
}

TEST_F(OutboundTest, AttachmentsAreOneEventEach) {
  core::MessageBody body;
  body.text = "two files";
  body.attachments = {{"cat.jpg", "image/jpeg", 2048, "mxc://matrix.test/cat"},
                      {"", "application/pdf", 0, "mxc://matrix.test/doc"},
                      {"a.ogg", "audio/ogg", 5, "mxc://matrix.test/a"},
                      {"v.mp4", "video/mp4", 6, "mxc://matrix.test/v"}};
  body.reply_to = matrix_ref("$parent");
  const auto s = sends(posted(body));
  ASSERT_EQ(s.size(), 5U);
  EXPECT_EQ(s[0].content["body"], "two files");
  EXPECT_EQ(s[0].content["m.relates_to"], (json{{"m.in_reply_to", {{"event_id", "$parent"}}}}));
  EXPECT_EQ(s[1].content, (json{{"msgtype", "m.image"},
                                {"body", "cat.jpg"},
                                {"filename", "cat.jpg"},
                                {"url", "mxc://matrix.test/cat"},
                                {"info", {{"mimetype", "image/jpeg"}, {"size", 2048}}},
                                {"m.mentions", json::object()}}));
  EXPECT_EQ(s[2].content["msgtype"], "m.file");
  EXPECT_EQ(s[2].content["body"], "file");
  EXPECT_EQ(s[2].content["info"], (json{{"mimetype", "application/pdf"}}));
  EXPECT_EQ(s[3].content["msgtype"], "m.audio");
  EXPECT_EQ(s[4].content["msgtype"], "m.video");
  for (std::size_t i = 1; i < s.size(); ++i) EXPECT_FALSE(s[i].content.contains("m.relates_to"));
  // Every part has its own transaction id.
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (std::size_t j = i + 1; j < s.size(); ++j) EXPECT_NE(s[i].txn_id, s[j].txn_id);
  }

  // Without text, the reply goes on the first attachment.
  body.text.clear();
  const auto files_only = sends(posted(body));
  ASSERT_EQ(files_only.size(), 4U);
  EXPECT_EQ(files_only[0].content["msgtype"], "m.image");
  EXPECT_TRUE(files_only[0].content.contains("m.relates_to"));
}

TEST_F(OutboundTest, AttachmentsMustBeUploadedFirst) {
  core::MessageBody body;
  body.attachments = {{"ok.png", "image/png", 1, "mxc://matrix.test/ok"},
                      {"x.png", "image/png", 1, "blob:abc123"}};
  const auto e = failure(posted(body));
  EXPECT_EQ(e.kind, core::ErrorKind::kInvalidArgument);
  EXPECT_EQ(e.field, "body.attachments[1].location");
}

TEST_F(OutboundTest, ReferencesInOtherTermsAreDegraded) {
  core::MessageBody body{
      "answer", std::nullopt, {}, core::RemoteMessageRef{"coi", "Mr.parent@example.org"}};
  const auto reply = sends(posted(body));
  ASSERT_EQ(reply.size(), 1U);
  EXPECT_FALSE(reply[0].content.contains("m.relates_to"));

  const auto edit =
      sends(event(core::MessageEdited{{"coi", "Mr.orig@example.org"}, {"fixed", {}, {}, {}}}));
  ASSERT_EQ(edit.size(), 1U);
  EXPECT_EQ(edit[0].content["body"], "* fixed");
  EXPECT_FALSE(edit[0].content.contains("m.new_content"));

  EXPECT_TRUE(sends(event(core::MessageDeleted{{"coi", "Mr.orig@example.org"}})).empty());
  EXPECT_TRUE(
      sends(event(core::ReactionChanged{{"coi", "Mr.orig@example.org"}, "👍", true})).empty());
  EXPECT_TRUE(sends(event(core::ReadUpTo{{"coi", "Mr.orig@example.org"}})).empty());

  // Claims to be a Matrix reference but is not an event id: the mapping store is wrong.
  EXPECT_EQ(failure(event(core::MessageDeleted{matrix_ref("Mr.orig@example.org")})).field,
            "target");
  body.reply_to = matrix_ref("nope");
  EXPECT_EQ(failure(posted(body)).field, "body.reply_to");
}

TEST_F(OutboundTest, Edits) {
  const auto s =
      sends(event(core::MessageEdited{matrix_ref("$orig"), {"fixed", "<i>fixed</i>", {}, {}}}));
  ASSERT_EQ(s.size(), 1U);
  EXPECT_EQ(s[0].event_type, "m.room.message");
  EXPECT_EQ(s[0].content,
            (json{{"msgtype", "m.text"},
                  {"body", "* fixed"},
                  {"format", "org.matrix.custom.html"},
                  {"formatted_body", "* <i>fixed</i>"},
                  {"m.mentions", json::object()},
                  {"m.new_content",
                   {{"msgtype", "m.text"},
                    {"body", "fixed"},
                    {"format", "org.matrix.custom.html"},
                    {"formatted_body", "<i>fixed</i>"},
                    {"m.mentions", json::object()}}},
                  {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", "$orig"}}}}));
}

TEST_F(OutboundTest, DeletesAndReactions) {
  const auto del = sends(event(core::MessageDeleted{matrix_ref("$gone")}));
  ASSERT_EQ(del.size(), 1U);
  EXPECT_EQ(del[0].kind, Kind::kRedact);
  EXPECT_EQ(del[0].target_event_id, "$gone");
  EXPECT_FALSE(del[0].txn_id.empty());

  const auto add = sends(event(core::ReactionChanged{matrix_ref("$msg"), "👍", true}));
  ASSERT_EQ(add.size(), 1U);
  EXPECT_EQ(add[0].kind, Kind::kSend);
  EXPECT_EQ(add[0].event_type, "m.reaction");
  EXPECT_EQ(
      add[0].content,
      (json{{"m.relates_to", {{"rel_type", "m.annotation"}, {"event_id", "$msg"}, {"key", "👍"}}}}));

  // Removal: the target is the reaction event itself.
  const auto remove = sends(event(core::ReactionChanged{matrix_ref("$reaction"), "👍", false}));
  ASSERT_EQ(remove.size(), 1U);
  EXPECT_EQ(remove[0].kind, Kind::kRedact);
  EXPECT_EQ(remove[0].target_event_id, "$reaction");

  EXPECT_EQ(failure(event(core::ReactionChanged{matrix_ref("$msg"), "", true})).field, "reaction");
}

TEST_F(OutboundTest, ReceiptsAndTyping) {
  const auto read = sends(event(core::ReadUpTo{matrix_ref("$last")}));
  ASSERT_EQ(read.size(), 1U);
  EXPECT_EQ(read[0].kind, Kind::kReceipt);
  EXPECT_EQ(read[0].event_type, "m.read");
  EXPECT_EQ(read[0].target_event_id, "$last");

  const auto typing = sends(event(core::Typing{true}));
  ASSERT_EQ(typing.size(), 1U);
  EXPECT_EQ(typing[0].kind, Kind::kTyping);
  EXPECT_EQ(typing[0].content, (json{{"typing", true}, {"timeout", 30000}}));
  EXPECT_EQ(sends(event(core::Typing{false}))[0].content, (json{{"typing", false}}));
}

TEST_F(OutboundTest, RoomManagementIsNotASend) {
  EXPECT_TRUE(sends(event(core::MemberJoined{{"coi", "bob@example.org", "Bob"}})).empty());
  EXPECT_TRUE(sends(event(core::MemberLeft{{"coi", "bob@example.org", "Bob"}})).empty());
  EXPECT_TRUE(sends(event(core::ConversationRenamed{"new name"})).empty());
  EXPECT_TRUE(sends(posted({})).empty());  // nothing to show
}

TEST_F(OutboundTest, InvalidRoomOrEventId) {
  EXPECT_EQ(failure(posted({"x", {}, {}, {}}), "#alias:matrix.test").field, "room_id");
  EXPECT_EQ(failure(posted({"x", {}, {}, {}}), "").field, "room_id");
  core::Event no_id = posted({"x", {}, {}, {}});
  no_id.id = {};
  EXPECT_EQ(failure(no_id).field, "id");
}

TEST(TransactionId, DeterministicUniqueAndUrlSafe) {
  const core::EventId id{"0190f7a0-1234-4abc-8def-0123456789ab"};
  const std::string t = transaction_id(id, "!a:matrix.test", 0);
  EXPECT_EQ(t, transaction_id(id, "!a:matrix.test", 0));  // a retry reuses it
  EXPECT_NE(t, transaction_id(id, "!b:matrix.test", 0));
  EXPECT_NE(t, transaction_id(id, "!a:matrix.test", 1));
  EXPECT_NE(t, transaction_id({"0190f7a0-1234-4abc-8def-0123456789ac"}, "!a:matrix.test", 0));
  EXPECT_NE(t.find(id.value), std::string::npos);  // readable in logs
  for (const std::string& txn :
       {t, transaction_id({"weird/id with spaces?&#"}, "!a:matrix.test", 3),
        transaction_id({std::string(500, 'x')}, "!a:matrix.test", 0)}) {
    EXPECT_LE(txn.size(), 100U) << txn;
    for (char c : txn) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_')
          << txn;
    }
  }
}

TEST_F(OutboundTest, SameEventSameRequests) {
  core::MessageBody body{
      "x", std::nullopt, {{"f", "image/png", 1, "mxc://matrix.test/f"}}, std::nullopt};
  EXPECT_EQ(sends(posted(body)), sends(posted(body)));
}

}  // namespace
}  // namespace coibridge::connectors::matrix
