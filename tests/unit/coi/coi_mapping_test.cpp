#include <gtest/gtest.h>

#include "connectors/coi/coi_addresses.hpp"
#include "connectors/coi/mail_mapping.hpp"

namespace coibridge::connectors::coi {
namespace {

TEST(PuppetAddress, RoundTripsAnyRemoteId) {
  AddressBook book("Bridge@Example.org");
  for (const std::string id :
       {"u123", "U123", "@alice:matrix.org", "user with spaces", "ü/€", "a.b+c=d"}) {
    const auto addr = book.puppet_address("slack", id);
    EXPECT_EQ(addr.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ <>\"@:/ "), addr.find('@')) << addr;
    auto back = book.parse_puppet(addr);
    ASSERT_TRUE(back.has_value()) << addr;
    EXPECT_EQ(back->connector, "slack");
    EXPECT_EQ(back->remote_id, id);
    EXPECT_TRUE(book.is_ours(addr));
  }
  EXPECT_EQ(book.puppet_address("slack", "u1"), "bridge+slack.u1@example.org");
}

TEST(PuppetAddress, OtherAddressesAreNotPuppets) {
  AddressBook book("bridge@example.org");
  EXPECT_TRUE(book.is_ours("BRIDGE@example.org"));
  for (const char* a : {"alice@example.org", "bridge+slack.u1@other.org", "bridge@other.org",
                        "bridge+x@example.org", "bridge+slack.=zz@example.org",
                        "bridge+slack.@example.org", "notbridge+slack.u1@example.org"}) {
    EXPECT_FALSE(book.parse_puppet(a).has_value()) << a;
  }
  EXPECT_FALSE(book.is_ours("alice@example.org"));
}

TEST(Conversations, DmAndGroupIds) {
  EXPECT_EQ(dm_conversation("Alice@Example.org"), "dm:alice@example.org");
  EXPECT_EQ(dm_peer("dm:alice@example.org"), "alice@example.org");
  EXPECT_FALSE(dm_peer("group:abc").has_value());
  EXPECT_FALSE(dm_peer("dm:").has_value());
  EXPECT_FALSE(dm_puppet("dm:alice@example.org").has_value());
  const auto via = dm_conversation("Alice@Example.org", "Bridge+Matrix.=40m=3ahs@example.org");
  EXPECT_EQ(via, "dm:alice@example.org|bridge+matrix.=40m=3ahs@example.org");
  EXPECT_EQ(dm_peer(via), "alice@example.org");
  EXPECT_EQ(dm_puppet(via), "bridge+matrix.=40m=3ahs@example.org");
  EXPECT_EQ(dm_peer("dm:odd|local@example.org|bridge+x.y@example.org"), "odd|local@example.org");
  EXPECT_FALSE(dm_peer("dm:|bridge+x.y@example.org").has_value());
  EXPECT_EQ(group_id_of(group_conversation("abc123")), "abc123");
}

class MappingTest : public ::testing::Test {
 protected:
  mime::ParsedMail chat(const std::string& text) {
    mime::ParsedMail m;
    m.message_id = "Mr.abc@example.org";
    m.from = {"Alice@example.org", "Alice"};
    m.to = {{"bridge+slack.u1@example.org", ""}};
    m.is_chat = true;
    m.kind = mime::ChatKind::kMessage;
    m.text = text;
    m.date_unix = 1795000000;
    return m;
  }
  AddressBook book_{"bridge@example.org"};
  MappingContext ctx_{"mail", book_};
};

TEST_F(MappingTest, ChatMessageBecomesMessagePosted) {
  auto m = chat("hello ✓");
  m.in_reply_to = {"Mr.parent@example.org"};
  auto threaded_only = std::get<core::Event>(event_from_mail(m, ctx_));
  EXPECT_FALSE(std::get<core::MessagePosted>(threaded_only.payload).body.reply_to.has_value());
  m.quote = "the parent";
  auto r = event_from_mail(m, ctx_);
  ASSERT_TRUE(std::holds_alternative<core::Event>(r));
  const auto& e = std::get<core::Event>(r);
  // Written to a puppet: the 1:1 chat with that person.
  EXPECT_EQ(e.where,
            (core::ConversationRef{"mail", "dm:alice@example.org|bridge+slack.u1@example.org"}));
  EXPECT_EQ(e.who, (core::ActorRef{"mail", "alice@example.org", "Alice"}));
  EXPECT_EQ(e.origin, (core::RemoteMessageRef{"mail", "Mr.abc@example.org"}));
  EXPECT_EQ(e.at, core::Timestamp{std::chrono::seconds(1795000000)});
  const auto& body = std::get<core::MessagePosted>(e.payload).body;
  EXPECT_EQ(body.text, "hello ✓");
  EXPECT_EQ(body.reply_to, (core::RemoteMessageRef{"mail", "Mr.parent@example.org"}));

  m.to = {{"Bridge@Example.org", ""}, {"carol@example.org", ""}};
  EXPECT_EQ(std::get<core::Event>(event_from_mail(m, ctx_)).where.remote_id,
            "dm:alice@example.org");
}

TEST_F(MappingTest, SendersAvatarIsMarkedForTheBlobStoreWithinTheSizeLimit) {
  auto m = chat("with a picture");
  EXPECT_TRUE(std::get<core::Event>(event_from_mail(m, ctx_)).who.avatar.empty());
  m.avatar = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'x');
  EXPECT_EQ(std::get<core::Event>(event_from_mail(m, ctx_)).who.avatar, kAvatarPart);
  const MappingContext small{"mail", book_, 50};
  EXPECT_TRUE(std::get<core::Event>(event_from_mail(m, small)).who.avatar.empty());
}

TEST_F(MappingTest, GroupMailGoesToTheGroupConversation) {
  auto m = chat("hi all");
  m.group_id = "grp123456789";
  auto e = std::get<core::Event>(event_from_mail(m, ctx_));
  EXPECT_EQ(e.where.remote_id, "group:grp123456789");
}

TEST_F(MappingTest, EditsDeletesReactionsReceipts) {
  auto m = chat("fixed");
  m.kind = mime::ChatKind::kEdit;
  m.target_message_id = "Mr.orig@example.org";
  auto edit =
      std::get<core::MessageEdited>(std::get<core::Event>(event_from_mail(m, ctx_)).payload);
  EXPECT_EQ(edit.target.remote_id, "Mr.orig@example.org");
  EXPECT_EQ(edit.body.text, "fixed");

  m.kind = mime::ChatKind::kDelete;
  EXPECT_TRUE(std::holds_alternative<core::MessageDeleted>(
      std::get<core::Event>(event_from_mail(m, ctx_)).payload));

  m.kind = mime::ChatKind::kReaction;
  m.reaction = "👍";
  auto reaction =
      std::get<core::ReactionChanged>(std::get<core::Event>(event_from_mail(m, ctx_)).payload);
  EXPECT_EQ(reaction.reaction, "👍");
  EXPECT_TRUE(reaction.added);
  m.reaction.clear();
  EXPECT_FALSE(
      std::get<core::ReactionChanged>(std::get<core::Event>(event_from_mail(m, ctx_)).payload)
          .added);

  m.kind = mime::ChatKind::kReadReceipt;
  EXPECT_EQ(std::get<core::ReadUpTo>(std::get<core::Event>(event_from_mail(m, ctx_)).payload)
                .target.remote_id,
            "Mr.orig@example.org");

  m.target_message_id.reset();
  EXPECT_TRUE(std::holds_alternative<Skip>(event_from_mail(m, ctx_)));
}

TEST_F(MappingTest, NoiseOwnMailAndPlainEmailAreSkipped) {
  auto noise = chat("");
  noise.kind = mime::ChatKind::kProtocolNoise;
  noise.noise_reason = "secure-join";
  EXPECT_NE(std::get<Skip>(event_from_mail(noise, ctx_)).reason.find("secure-join"),
            std::string::npos);
  auto own = chat("echo");
  own.from = {"bridge+slack.u1@example.org", "Bob"};
  EXPECT_TRUE(std::holds_alternative<Skip>(event_from_mail(own, ctx_)));
  own.from = {"Bridge@example.org", "bridge"};
  EXPECT_TRUE(std::holds_alternative<Skip>(event_from_mail(own, ctx_)));
  auto plain = chat("newsletter");
  plain.is_chat = false;
  EXPECT_TRUE(std::holds_alternative<Skip>(event_from_mail(plain, ctx_)));
}

core::Delivery delivery(core::Payload payload, std::string target = "dm:alice@example.org") {
  core::Delivery d;
  d.event_id = core::EventId{"11111111-2222-4333-8444-555555555555"};
  d.target = {"mail", std::move(target)};
  d.event.id = d.event_id;
  d.event.who = {"slack", "U123", "Bob Builder"};
  d.event.at = core::Timestamp{std::chrono::seconds(1795000000)};
  d.event.payload = std::move(payload);
  return d;
}

TEST_F(MappingTest, DeliveryBecomesMailFromThePuppet) {
  auto r = mail_for_delivery(
      delivery(
          core::MessagePosted{{"hi", std::nullopt, {}, core::RemoteMessageRef{"mail", "Mr.q@x"}}}),
      ctx_, {false, "bridge"});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  const auto& m = **r;
  EXPECT_EQ(m.from.address, "bridge+slack.=55123@example.org");
  EXPECT_EQ(m.from.name, "Bob Builder");
  EXPECT_FALSE(m.sender.has_value());
  // A long puppet address gets a Sender, so Delta Chat shows the name.
  auto long_id = delivery(core::MessagePosted{{"hi", std::nullopt, {}, std::nullopt}});
  long_id.event.who = {"matrix", "@someone.with.a.long.name:matrix.example.org", "Some One"};
  const auto long_mail = mail_for_delivery(long_id, ctx_, {false, "The Bridge"});
  const auto& with_sender = **long_mail;
  ASSERT_TRUE(with_sender.sender.has_value());
  EXPECT_EQ(with_sender.sender->address, "bridge@example.org");
  EXPECT_EQ(with_sender.from.name, "Some One");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].address, "alice@example.org");
  EXPECT_EQ(m.text, "hi");
  EXPECT_EQ(m.in_reply_to, std::vector<std::string>{"Mr.q@x"});
  EXPECT_EQ(m.date_unix, 1795000000);
  // Deterministic per (event, target): a retried delivery is the same mail.
  auto again = mail_for_delivery(
      delivery(core::MessagePosted{{"hi", std::nullopt, {}, std::nullopt}}), ctx_, {});
  EXPECT_EQ((*again)->message_id, m.message_id);
  EXPECT_EQ(m.message_id.rfind("chat$11111111-2222-4333-8444-555555555555.", 0), 0u);
  EXPECT_NE(mail_for_delivery(delivery(core::MessagePosted{}, "dm:carol@example.org"), ctx_, {})
                .value()
                ->message_id,
            m.message_id);
}

TEST_F(MappingTest, AttachmentsPointAtTheirPartsAndOversizedOnesAreNamedInTheText) {
  auto m = chat("look");
  m.attachments.push_back({"cat.png", "image/png", std::string(100, 'x')});
  m.attachments.push_back({"huge.bin", "application/octet-stream", std::string(5000, 'y')});
  m.attachments.push_back({"notes.txt", "text/plain", "abc"});
  MappingContext small{"mail", book_, 1000};
  auto mapped = event_from_mail(m, small);
  ASSERT_TRUE(std::holds_alternative<core::Event>(mapped));
  const auto& body = std::get<core::MessagePosted>(std::get<core::Event>(mapped).payload).body;
  ASSERT_EQ(body.attachments.size(), 2u);
  EXPECT_EQ(body.attachments[0], (core::Attachment{"cat.png", "image/png", 100, "part:0"}));
  EXPECT_EQ(body.attachments[1], (core::Attachment{"notes.txt", "text/plain", 3, "part:2"}));
  EXPECT_NE(body.text.find("look"), std::string::npos);
  EXPECT_NE(body.text.find("\"huge.bin\" (5000 bytes) left out"), std::string::npos) << body.text;

  EXPECT_EQ(mail_part_index("part:0"), 0u);
  EXPECT_EQ(mail_part_index("part:17"), 17u);
  for (const char* bad :
       {"part:", "part:x", "part:-1", "part:99999999999", "blob:sha256:00", "", "Part:1"}) {
    EXPECT_FALSE(mail_part_index(bad).has_value()) << bad;
  }
}

TEST_F(MappingTest, DeliveredAttachmentsKeepNameTypeAndOrder) {
  core::MessageBody body{"two files", std::nullopt, {}, std::nullopt};
  body.attachments = {{"a.png", "image/png", 10, "blob:sha256:aa"},
                      {"b.pdf", "application/pdf", 20, "blob:sha256:bb"}};
  auto r = mail_for_delivery(delivery(core::MessagePosted{body}), ctx_, {});
  ASSERT_TRUE(r.ok());
  const auto& files = (**r).attachments;
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename, "a.png");
  EXPECT_EQ(files[0].content_type, "image/png");
  EXPECT_EQ(files[1].filename, "b.pdf");
  EXPECT_TRUE(files[0].data.empty());  // the connector loads the bytes
}

TEST_F(MappingTest, RelayModeSendsAsTheBridgeWithTheNameAndSender) {
  auto r = mail_for_delivery(delivery(core::MessagePosted{{"hi", std::nullopt, {}, std::nullopt}}),
                             ctx_, {true, "The Bridge"});
  const auto& m = **r;
  EXPECT_EQ(m.from.address, "bridge@example.org");
  EXPECT_EQ(m.from.name, "Bob Builder");
  ASSERT_TRUE(m.sender.has_value());
  EXPECT_EQ(m.sender->name, "The Bridge");
}

TEST_F(MappingTest, WhatMailCannotShowIsDroppedOrDegraded) {
  EXPECT_FALSE(mail_for_delivery(delivery(core::Typing{true}), ctx_, {})->has_value());
  EXPECT_FALSE(
      mail_for_delivery(delivery(core::ReactionChanged{{"slack", "ts1"}, "👍", true}), ctx_, {})
          ->has_value());
  auto edit = mail_for_delivery(
      delivery(core::MessageEdited{{"slack", "ts1"}, {"new", std::nullopt, {}, std::nullopt}}),
      ctx_, {});
  ASSERT_TRUE(edit->has_value());
  EXPECT_EQ((*edit)->kind, mime::ChatKind::kMessage);
  EXPECT_NE((*edit)->text.find("new"), std::string::npos);
  auto known = mail_for_delivery(
      delivery(core::MessageEdited{{"mail", "Mr.o@x"}, {"new", std::nullopt, {}, std::nullopt}}),
      ctx_, {});
  EXPECT_EQ((*known)->kind, mime::ChatKind::kEdit);
  EXPECT_EQ((*known)->target_message_id, "Mr.o@x");
  // A group whose first mail was not read yet: its queue waits for the member list.
  auto group = mail_for_delivery(delivery(core::MessagePosted{}, "group:abc"), ctx_, {});
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_TRUE(group.error().unreachable);
}

}  // namespace
}  // namespace coibridge::connectors::coi

namespace coibridge::connectors::coi {
namespace {

mime::ParsedMail group_mail(std::string id, std::string from, std::vector<std::string> to,
                            std::vector<std::string> references = {}) {
  mime::ParsedMail m;
  m.message_id = std::move(id);
  m.from = {std::move(from), "Someone"};
  for (auto& a : to) m.to.push_back({std::move(a), ""});
  m.references = std::move(references);
  m.is_chat = true;
  m.kind = mime::ChatKind::kMessage;
  m.group_name = "Team";
  m.text = "hi";
  return m;
}

TEST(GroupState, AdhocGroupsAreKeyedByTheirThreadRoot) {
  // Delta Chat's first mail of an unencrypted group references itself; later ones start with it.
  auto first = group_mail("root@x", "alice@x.org", {"bob@x.org", "bridge@x.org"}, {"root@x"});
  auto reply =
      group_mail("r2@x", "bob@x.org", {"alice@x.org", "bridge@x.org"}, {"root@x", "root@x"});
  EXPECT_EQ(group_conversation_of(first), "adhoc:root@x");
  EXPECT_EQ(group_conversation_of(reply), "adhoc:root@x");
  auto with_id = first;
  with_id.group_id = "abcdefgh12";
  EXPECT_EQ(group_conversation_of(with_id), "group:abcdefgh12");
  auto one_to_one = first;
  one_to_one.group_name.reset();
  EXPECT_FALSE(group_conversation_of(one_to_one).has_value());
  EXPECT_EQ(adhoc_root_of("adhoc:root@x"), "root@x");
  EXPECT_TRUE(is_group_conversation("adhoc:root@x"));
  EXPECT_TRUE(is_group_conversation("group:abcdefgh12"));
  EXPECT_FALSE(is_group_conversation("dm:alice@x.org"));
}

TEST(GroupState, MembersFollowTheMailsAndMemberChanges) {
  GroupState s;
  observe_group_mail(
      s, group_mail("root@x", "Alice@X.org", {"bob@x.org", "bridge@x.org"}, {"root@x"}));
  EXPECT_EQ(s.members, (std::vector<std::string>{"alice@x.org", "bob@x.org", "bridge@x.org"}));
  EXPECT_EQ(s.name, "Team");
  auto added =
      group_mail("m2@x", "alice@x.org", {"bob@x.org", "bridge@x.org", "carol@x.org"}, {"root@x"});
  added.member_added = mime::Mailbox{"carol@x.org", "Carol"};
  EXPECT_TRUE(observe_group_mail(s, added).empty());  // announced: an event of its own
  EXPECT_EQ(s.members.back(), "carol@x.org");
  // Just addressed from now on (Delta Chat's unencrypted groups): an implicit addition.
  EXPECT_EQ(observe_group_mail(
                s, group_mail("m2b@x", "alice@x.org", {"bob@x.org", "dave@x.org"}, {"root@x"})),
            std::vector<std::string>{"dave@x.org"});
  auto removed =
      group_mail("m3@x", "alice@x.org", {"bob@x.org", "bridge@x.org", "carol@x.org"}, {"root@x"});
  removed.member_removed = mime::Mailbox{"bob@x.org", ""};
  observe_group_mail(s, removed);
  EXPECT_EQ(s.members,
            (std::vector<std::string>{"alice@x.org", "bridge@x.org", "carol@x.org", "dave@x.org"}));
  EXPECT_EQ(s.last_message_id, "m3@x");
  EXPECT_EQ(group_state_from_json(to_json(s)), s);
  EXPECT_EQ(
      group_state_from_json(nlohmann::json{{"members", {1, "ok@x.org", nullptr}}, {"name", 5}})
          .members,
      (std::vector<std::string>{"ok@x.org"}));
}

TEST(GroupState, DeliveryToAGroupAddressesEveryOtherMemberInItsThread) {
  AddressBook book("bridge@x.org");
  MappingContext ctx{"mail", book};
  GroupState s{"Team", {"alice@x.org", "bob@x.org", "bridge+spool.rita@x.org"}, "root@x", "m5@x"};
  core::Delivery d;
  d.event_id = core::EventId{"11111111-2222-4333-8444-555555555555"};
  d.target = {"mail", "adhoc:root@x"};
  d.event.who = {"spool", "rita", "Rita"};
  d.event.payload = core::MessagePosted{{"hello group", std::nullopt, {}, std::nullopt}};
  auto r = mail_for_delivery(d, ctx, {}, &s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& m = **r;
  EXPECT_EQ(m.from.address, "bridge+spool.rita@x.org");
  ASSERT_EQ(m.to.size(), 2u);  // everyone but the sender
  EXPECT_EQ(m.to[0].address, "alice@x.org");
  EXPECT_EQ(m.to[1].address, "bob@x.org");
  EXPECT_EQ(m.group_name, "Team");
  EXPECT_FALSE(m.group_id.has_value());
  EXPECT_EQ(m.references, (std::vector<std::string>{"root@x", "m5@x"}));
  EXPECT_EQ(m.in_reply_to, std::vector<std::string>{"m5@x"});

  // Without a member list the group cannot be written to yet: the delivery waits for it.
  auto unknown = mail_for_delivery(d, ctx, {}, nullptr);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_TRUE(unknown.error().unreachable);
}

}  // namespace
}  // namespace coibridge::connectors::coi
