// parse_mail against hand-written wire samples (tests/fixtures/eml) of Delta Chat, COI and
// ordinary mail (coi-protocol.md §1, §3, §4; peer-stack.md §5), and against broken input.

#include "connectors/coi/mime/mime_parse.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace coibridge::connectors::coi::mime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string load(const std::string& name) {
  std::ifstream in(std::string(COIBRIDGE_EML_FIXTURE_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

core::Result<ParsedMail> parse_fixture(const std::string& name, const ParseLimits& limits = {}) {
  return parse_mail(load(name), limits);
}

// A 2x2 RGBA PNG, the attachment of image_attachment.eml.
const std::string kPng(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00"
    "\x00\x02\x08\x06\x00\x00\x00\x72\xb6\x0d\x24\x00\x00\x00\x10\x49\x44\x41\x54\x78\xda\x63"
    "\xf8\xcf\xc0\xf0\x1f\x0a\x21\x14\x00\x45\xcc\x07\xf9\x8e\xca\x50\xb6\x00\x00\x00\x00\x49"
    "\x45\x4e\x44\xae\x42\x60\x82",
    73);

TEST(ParseDeltaChat, OneToOnePlainText) {
  const auto parsed = parse_fixture("dc_1to1_plain.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const ParsedMail& m = *parsed;
  EXPECT_EQ(m.message_id, "eb66f519-2f6f-4d5b-a4c4-6c1c7e1b9c01@localhost");
  EXPECT_EQ(m.from, (Mailbox{"alice@example.org", "Alice DC"}));  // domain lower-cased
  EXPECT_THAT(m.to, ElementsAre(Mailbox{"bob@example.org", ""}));
  EXPECT_EQ(m.subject, "Message from Alice DC");
  EXPECT_EQ(m.date_unix, 1736244000);
  EXPECT_THAT(m.references, ElementsAre("eb66f519-2f6f-4d5b-a4c4-6c1c7e1b9c01@localhost"));
  EXPECT_TRUE(m.in_reply_to.empty());
  EXPECT_TRUE(m.is_chat);
  EXPECT_EQ(m.kind, ChatKind::kMessage);
  EXPECT_EQ(m.text, "Hello Bob from Delta Chat");
  EXPECT_EQ(m.footer, "Sent with my Delta Chat Messenger: https://delta.chat");
  EXPECT_FALSE(m.quote);
  EXPECT_TRUE(m.wants_read_receipt);
  ASSERT_TRUE(m.read_receipt_to);
  EXPECT_EQ(m.read_receipt_to->address, "alice@example.org");
  ASSERT_TRUE(m.autocrypt_header);
  EXPECT_THAT(*m.autocrypt_header,
              ::testing::StartsWith("addr=alice@example.org; prefer-encrypt=mutual; keydata=AAEC"));
  EXPECT_FALSE(m.group_id);
  EXPECT_FALSE(m.group_name);
  EXPECT_TRUE(m.attachments.empty());
  EXPECT_FALSE(m.encrypted);
  EXPECT_TRUE(m.warnings.empty()) << m.warnings.front();
}

TEST(ParseCoi, UserAvatarHeaderIsDecodedAcrossItsFolds) {
  const auto parsed = parse_fixture("coi_user_avatar.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_TRUE(parsed->avatar);
  EXPECT_EQ(parsed->avatar->size(), 241U);
  EXPECT_TRUE(parsed->avatar->starts_with("\x89PNG\r\n\x1a\n"));
  EXPECT_TRUE(
      parsed->avatar->ends_with(std::string("IEND\xae\x42\x60\x82", 8)));  // nothing lost at a fold
  EXPECT_EQ(parsed->text, "Here is my picture, in the header.");
  EXPECT_FALSE(parse_fixture("dc_1to1_plain.eml")->avatar);
  auto removed = load("coi_user_avatar.eml");
  removed.replace(removed.find("base64:"), 7, "0 ");  // "0": the sender removed their picture
  const auto without = parse_mail(removed);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->avatar);
}

TEST(ParseDeltaChat, GroupMessage) {
  const auto parsed = parse_fixture("dc_group.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const ParsedMail& m = *parsed;
  EXPECT_EQ(m.kind, ChatKind::kMessage);
  EXPECT_EQ(m.group_id, "Gx7kqM3pN8rT2vW5yZ1bC4dF");
  EXPECT_EQ(m.group_name, "Project X");
  EXPECT_THAT(
      m.to, ElementsAre(Mailbox{"bob@example.org", ""}, Mailbox{"carol@example.net", "Carol C."}));
  EXPECT_THAT(m.in_reply_to, ElementsAre("prev-msg@localhost"));
  EXPECT_THAT(m.references, ElementsAre("root-msg@localhost", "prev-msg@localhost"));
  EXPECT_EQ(m.text, "Meeting at 10?");
}

TEST(ParseDeltaChat, MemberAdded) {
  const auto parsed = parse_fixture("dc_member_added.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kMemberAdded);
  EXPECT_EQ(parsed->member_added, (Mailbox{"dave@example.org", ""}));
  EXPECT_FALSE(parsed->member_removed);
  EXPECT_EQ(parsed->group_id, "Gx7kqM3pN8rT2vW5yZ1bC4dF");
  EXPECT_EQ(parsed->text, "Member dave@example.org added by alice@example.org.");
}

TEST(ParseDeltaChat, MemberRemoved) {
  const auto parsed = parse_fixture("dc_member_removed.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kMemberRemoved);
  EXPECT_EQ(parsed->member_removed, (Mailbox{"Carol@example.net", ""}));
  EXPECT_EQ(parsed->group_name, "Project X");
}

TEST(ParseDeltaChat, GroupRenamed) {
  const auto parsed = parse_fixture("dc_group_renamed.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kGroupRenamed);
  EXPECT_EQ(parsed->group_name, "Neuer Name \u2713");  // RFC 2047 Q-encoded
  EXPECT_EQ(parsed->previous_group_name, "Project X");
}

TEST(ParseDeltaChat, UnencryptedAdHocGroupHasNameButNoId) {
  // Delta Chat 2.57 sends no Chat-Group-ID for unencrypted groups (peer-stack.md §5).
  const auto parsed = parse_fixture("dc_adhoc_group.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_FALSE(parsed->group_id);
  EXPECT_EQ(parsed->group_name, "Plain Group");
  EXPECT_EQ(parsed->kind, ChatKind::kMessage);
  EXPECT_EQ(parsed->text, "Hello unencrypted group");
  EXPECT_EQ(parsed->to.size(), 2u);
}

TEST(ParseDeltaChat, ReplyWithQuoteAndFooter) {
  const auto parsed = parse_fixture("dc_reply_quote.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->quote, "What time is the meeting?\nTomorrow?");
  EXPECT_EQ(parsed->text, "At 10 in room 4.");
  EXPECT_EQ(parsed->footer, "Busy today");
  EXPECT_THAT(parsed->in_reply_to, ElementsAre("orig@localhost"));
}

TEST(ParseDeltaChat, EscapedFooterMarkIsText) {
  const auto parsed = parse_fixture("dc_escaped_footer.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->text, "Line one\n-- not a footer\nLine three");
  EXPECT_EQ(parsed->footer, "My status");
}

TEST(ParseDeltaChat, EditFromFirstPartHeaders) {
  const auto parsed = parse_fixture("dc_edit.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kEdit);
  EXPECT_EQ(parsed->target_message_id, "orig-edit@localhost");
  EXPECT_EQ(parsed->text, "Corrected text with a typo");  // quote and pencil stripped
  EXPECT_EQ(parsed->quote, "Original text with a tpyo");
}

TEST(ParseDeltaChat, DeleteSeveral) {
  const auto parsed = parse_fixture("dc_delete.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kDelete);
  EXPECT_EQ(parsed->target_message_id, "m1@localhost");
  EXPECT_THAT(parsed->additional_targets, ElementsAre("m2@localhost"));
}

TEST(ParseDeltaChat, Reaction) {
  const auto parsed = parse_fixture("dc_reaction.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kReaction);
  EXPECT_EQ(parsed->reaction, "\U0001F44D");
  EXPECT_EQ(parsed->target_message_id, "target@localhost");
  EXPECT_EQ(parsed->text, "");  // a reaction is not a message
}

TEST(ParseDeltaChat, ReadReceiptWithAdditionalIds) {
  const auto parsed = parse_fixture("dc_mdn.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kReadReceipt);
  EXPECT_TRUE(parsed->is_chat);
  EXPECT_TRUE(parsed->auto_submitted);
  EXPECT_EQ(parsed->target_message_id, "orig-1@localhost");
  EXPECT_THAT(parsed->additional_targets, ElementsAre("orig-2@localhost", "orig-3@localhost"));
}

TEST(ParseDeltaChat, ImageAttachmentBytes) {
  const auto parsed = parse_fixture("image_attachment.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->text, "Look at this");
  ASSERT_EQ(parsed->attachments.size(), 1u);
  EXPECT_EQ(parsed->attachments[0].filename, "cat.png");
  EXPECT_EQ(parsed->attachments[0].content_type, "image/png");
  EXPECT_EQ(parsed->attachments[0].data, kPng);
}

TEST(ParseDeltaChat, EncryptedMailKeepsOuterHeaders) {
  const auto parsed = parse_fixture("dc_encrypted.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->encrypted);
  EXPECT_TRUE(parsed->is_chat);
  EXPECT_EQ(parsed->kind, ChatKind::kMessage);
  EXPECT_EQ(parsed->from.address, "erin@example.org");
  EXPECT_TRUE(parsed->to.empty());  // "hidden-recipients": ;
  EXPECT_EQ(parsed->subject, "[...]");
  EXPECT_EQ(parsed->text, "");
  EXPECT_TRUE(parsed->attachments.empty());
}

TEST(ParseDeltaChat, LegacyGroupIdFromMessageId) {
  const auto parsed = parse_fixture("legacy_dc_group.eml");  // LF line ends
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->group_id, "abcdefghijk");
  EXPECT_EQ(parsed->group_name, "Old Group");
  EXPECT_EQ(parsed->text, "Hi from 2020");
}

TEST(ParseDeltaChat, ProtocolNoise) {
  const std::pair<const char*, const char*> cases[] = {
      {"autocrypt_setup.eml", "autocrypt-setup"},
      {"securejoin.eml", "secure-join"},
      {"webxdc_update.eml", "webxdc-update"},
      {"sync.eml", "sync"},
  };
  for (const auto& [file, reason] : cases) {
    const auto parsed = parse_fixture(file);
    ASSERT_TRUE(parsed.ok()) << file << ": " << parsed.error().message;
    EXPECT_EQ(parsed->kind, ChatKind::kProtocolNoise) << file;
    EXPECT_EQ(parsed->noise_reason, reason) << file;
  }
}

TEST(ParseCoi, MessageWithChatIdAndFlowedText) {
  const auto parsed = parse_fixture("coi_message.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const ParsedMail& m = *parsed;
  EXPECT_EQ(m.message_id, "chat$7f3a9c2e41b0@example.org");
  EXPECT_TRUE(m.is_chat);
  EXPECT_EQ(m.kind, ChatKind::kMessage);
  EXPECT_EQ(m.subject, "Chat: hello");
  EXPECT_EQ(m.text,
            "hello, this line is long enough that a COI client wrapped it with a soft break, and "
            "it continues here.\nSecond paragraph.");
  EXPECT_TRUE(m.wants_read_receipt);  // Disposition-Notification-To (COI, RFC 8098)
  EXPECT_THAT(m.in_reply_to, ElementsAre("chat$00ffprev@example.net"));
  EXPECT_THAT(m.references, ElementsAre("chat$0001root@example.org", "chat$00ffprev@example.net"));
  EXPECT_FALSE(m.group_id);
}

TEST(ParseCoi, GroupIdAndNameFromMessageIdAndSubject) {
  const auto parsed = parse_fixture("coi_group.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->group_id, "TeamRoom_2024");
  EXPECT_EQ(parsed->group_name, "Team Room");
  EXPECT_EQ(parsed->text, "Hi team");
}

TEST(ParseCoi, LegacyClientReplyStaysInGroup) {
  // No Chat-Version, but the first References id is chat$ (coi-protocol.md §1.1).
  const auto parsed = parse_fixture("coi_group_legacy_reply.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->is_chat);
  EXPECT_EQ(parsed->group_id, "TeamRoom_2024");
  EXPECT_EQ(parsed->group_name, "Team Room");  // "AW: Re: " stripped
  EXPECT_EQ(parsed->text, "Hi from my mail program.");
  EXPECT_EQ(parsed->quote, "Hi team");
}

TEST(ParseCoi, EditRequest) {
  const auto parsed = parse_fixture("coi_editrequest.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kEdit);
  EXPECT_EQ(parsed->chat_content, "editrequest");
  EXPECT_EQ(parsed->target_message_id, "chat$0001@example.org");
  EXPECT_EQ(parsed->text, "Corrected: see you at 11");
}

TEST(ParseCoi, DeleteRequest) {
  const auto parsed = parse_fixture("coi_deleterequest.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kDelete);
  EXPECT_EQ(parsed->target_message_id, "chat$0002@example.org");
  EXPECT_TRUE(parsed->additional_targets.empty());
}

TEST(ParseCoi, ReadReceipt) {
  const auto parsed = parse_fixture("coi_mdn.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ChatKind::kReadReceipt);
  EXPECT_EQ(parsed->target_message_id, "chat$7f3a9c2e41b0@example.org");
}

TEST(ParseMail, MdnOtherThanDisplayedIsNoise) {
  const auto parsed = parse_fixture("mdn_deleted.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_FALSE(parsed->is_chat);
  EXPECT_EQ(parsed->kind, ChatKind::kProtocolNoise);
  EXPECT_EQ(parsed->noise_reason, "mdn-deleted");
  EXPECT_EQ(parsed->target_message_id, "chat$7f3a9c2e41b0@example.org");
}

TEST(ParseMail, PlainEmailIsSimplified) {
  const auto parsed = parse_fixture("plain_email.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const ParsedMail& m = *parsed;
  EXPECT_FALSE(m.is_chat);
  EXPECT_EQ(m.kind, ChatKind::kNotChat);
  EXPECT_EQ(m.text, "Thanks, that works for me.");
  EXPECT_EQ(m.quote, "Does Tuesday work?\nAnn");  // bottom quote and its "wrote:" line
  EXPECT_EQ(m.footer, "John Doe");
  ASSERT_TRUE(m.html);
  EXPECT_THAT(*m.html, HasSubstr("<p>Thanks, that works for me.</p>"));
  EXPECT_EQ(m.date_unix, 1736359200);  // 13:00 -0500
}

TEST(ParseMail, QuotedPrintableLatin1) {
  const auto parsed = parse_fixture("qp_latin1.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->text,
            "Grüße aus München! Dies ist eine längere Zeile, die mit einem weichen Zeilenumbruch "
            "fortgesetzt wird.\nPreis: 5 ¤ / 10 \u0080");
  EXPECT_EQ(parsed->kind, ChatKind::kNotChat);
}

TEST(ParseMail, Rfc2047EncodedNamesAndSubject) {
  const auto parsed = parse_fixture("rfc2047_headers.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->from, (Mailbox{"juergen@example.de", "Jürgen Müller"}));
  EXPECT_EQ(parsed->subject, "Grüße – 😀");
  EXPECT_THAT(parsed->to, ElementsAre(Mailbox{"renee@example.fr", "Renée"},
                                      Mailbox{"kobayashi@example.jp", "小林"}));
}

TEST(ParseMail, Rfc2231AndEncodedWordFilenames) {
  const auto parsed = parse_fixture("rfc2231_filename.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->text, "Three files");
  ASSERT_EQ(parsed->attachments.size(), 4u);
  EXPECT_EQ(parsed->attachments[0].filename, "Große Datei mit sehr langem Namen €.txt");
  EXPECT_EQ(parsed->attachments[0].data, "Hello World");
  EXPECT_EQ(parsed->attachments[0].content_type, "text/plain");
  EXPECT_EQ(parsed->attachments[1].filename, "résumé.pdf");
  EXPECT_EQ(parsed->attachments[1].data, "%PDF-1.4\n");
  EXPECT_EQ(parsed->attachments[2].filename, "Maßnahmen Okt. 2020.html");
  EXPECT_EQ(parsed->attachments[3].filename, "passwd");  // no directories from a sender
  EXPECT_EQ(parsed->attachments[3].data, "root:x:0:0");
}

TEST(ParseMail, FormatFlowedWithDelSp) {
  const auto parsed = parse_fixture("flowed_delsp.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->text,
            "Thisisaverylongwordthatwassplitinthemiddle and a soft break after a space.\n"
            "From the start of a stuffed line.\nHard break here.");
}

TEST(ParseMail, HtmlOnlyGetsPlainRendering) {
  const auto parsed = parse_fixture("html_only.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_TRUE(parsed->html);
  EXPECT_EQ(parsed->text,
            "Hello\u00A0& welcome\n\nFirst paragraph\nsecond line <ok> \u20AC \u263A\n\nLast");
}

// --- smaller cases, written inline -------------------------------------------------------

// A minimal mail around `rest` (headers after the fixed ones, then the body).
std::string mail_with(const std::string& rest) {
  return "From: Ann <ann@example.org>\r\nTo: bob@example.net\r\n"
         "Date: Tue, 07 Jan 2025 10:00:00 +0000\r\nMessage-ID: <inline@example.org>\r\n" +
         rest;
}

core::Result<ParsedMail> parse_inline(const std::string& rest) {
  return parse_mail(mail_with(rest));
}

TEST(ParseSemantics, SystemMessagesAreNoise) {
  auto r = parse_inline(
      "Chat-Version: 1.0\r\nChat-Content: ephemeral-timer-changed\r\nEphemeral-Timer: 60\r\n\r\n"
      "Message deletion timer is set to 1 minute.\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, ChatKind::kProtocolNoise);
  EXPECT_EQ(r->noise_reason, "ephemeral-timer-changed");

  r = parse_inline(
      "Chat-Version: 1.0\r\nChat-Group-ID: Gx7kqM3pN8rT2vW5yZ1bC4dF\r\n"
      "Chat-Group-Description-Changed: old\r\n\r\n[Chat description changed]\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->noise_reason, "group-description-changed");

  r = parse_inline(
      "Chat-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
      "boundary=\"n\"\r\n\r\n--n\r\nContent-Type: text/plain\r\n\r\nDelivery failed\r\n--n\r\n"
      "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
      "Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--n--\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->noise_reason, "delivery-status");

  // Only location.kml: Delta Chat location streaming, nothing to show.
  r = parse_inline(
      "Chat-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"k\"\r\n\r\n--k\r\n"
      "Content-Type: text/plain\r\n\r\n\r\n--k\r\nContent-Type: "
      "application/vnd.google-earth.kml+xml\r\n"
      "Content-Disposition: attachment; filename=\"location.kml\"\r\n\r\n<kml/>\r\n--k--\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->noise_reason, "location");
  EXPECT_TRUE(r->attachments.empty());
}

TEST(ParseSemantics, SecureJoinMemberAddedIsAMemberChange) {
  const auto r = parse_inline(
      "Chat-Version: 1.0\r\nSecure-Join: vg-member-added\r\nChat-Group-ID: "
      "Gx7kqM3pN8rT2vW5yZ1bC4dF\r\n"
      "Chat-Group-Name: Project X\r\nChat-Group-Member-Added: <erin@example.org>\r\n\r\n"
      "Member erin@example.org added.\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, ChatKind::kMemberAdded);
  EXPECT_EQ(r->member_added, (Mailbox{"erin@example.org", ""}));
}

TEST(ParseSemantics, CoiGroupLeft) {
  const auto r = parse_inline(
      "Chat-Version: 1.0\r\nChat-Content: groupleft\r\nSubject: Team Room\r\n\r\nI left.\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, ChatKind::kMemberRemoved);
  EXPECT_EQ(r->member_removed, (Mailbox{"ann@example.org", "Ann"}));
}

TEST(ParseSemantics, EmptyEdits) {
  // COI: an empty edit means deleted; Delta Chat ignores empty edits.
  auto r = parse_inline(
      "Chat-Version: 1.0\r\nChat-Content: editrequest\r\nIn-Reply-To: "
      "<chat$1@example.org>\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, ChatKind::kDelete);
  EXPECT_EQ(r->target_message_id, "chat$1@example.org");

  r = parse_inline(
      "Chat-Version: 1.0\r\nChat-Edit: <m@localhost>\r\n\r\n\xE2\x9C\x8F\xEF\xB8\x8F\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, ChatKind::kProtocolNoise);
  EXPECT_EQ(r->noise_reason, "empty-edit");
}

TEST(ParseSemantics, TargetlessRequestsDegrade) {
  auto r = parse_inline(
      "Chat-Version: 1.0\r\nContent-Disposition: reaction\r\n\r\n\xF0\x9F\x91\x8D\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->noise_reason, "reaction-without-target");

  r = parse_inline("Chat-Version: 1.0\r\nChat-Content: deleterequest\r\n\r\ngone\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, ChatKind::kMessage);
  EXPECT_THAT(r->warnings, ::testing::Contains(HasSubstr("without a target")));
}

TEST(ParseSemantics, ReactionKeepsFirstTokenOnly) {
  const auto r = parse_inline(
      "Chat-Version: 1.0\r\nIn-Reply-To: <t@localhost>\r\nContent-Type: text/plain; "
      "charset=utf-8\r\n"
      "Content-Disposition: reaction\r\n\r\n  \xF0\x9F\x98\x82 \xF0\x9F\x91\x8D\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->reaction, "\U0001F602");
}

TEST(ParseSemantics, MicrosoftOriginalMessageIdWins) {
  const auto r =
      parse_inline("X-Microsoft-Original-Message-ID: <client-id@example.org>\r\n\r\nhi\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->message_id, "client-id@example.org");
}

TEST(ParseSemantics, InvalidGroupIdIsIgnored) {
  const auto r = parse_inline("Chat-Version: 1.0\r\nChat-Group-ID: a b/c\r\n\r\nhi\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->group_id);
  EXPECT_THAT(r->warnings, ::testing::Contains(HasSubstr("Chat-Group-ID")));
}

TEST(ParseSemantics, CoiSingleMediaPartAndSignedAndAttachedMail) {
  // COI allows a message that is one binary part (coi-client-spec §"Binary Messages").
  auto r = parse_inline(
      "Chat-Version: 1.0\r\nContent-Type: image/jpeg\r\nContent-Disposition: inline\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->attachments.size(), 1u);
  EXPECT_EQ(r->attachments[0].filename, "attachment.jpg");
  EXPECT_EQ(r->attachments[0].data, std::string("\xFF\xD8\xFF\xE0\x00\x10", 6));

  // RFC 1847 multipart/signed: the content is the first part.
  r = parse_inline(
      "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; "
      "boundary=\"s\"\r\n\r\n"
      "--s\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n--s\r\n"
      "Content-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n--s--\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->text, "signed text");
  EXPECT_TRUE(r->attachments.empty());

  // A forwarded mail travels as a file.
  r = parse_inline(
      "Content-Type: multipart/mixed; boundary=\"f\"\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\n"
      "see below\r\n--f\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@example.com\r\n"
      "Subject: inner\r\n\r\ninner body\r\n--f--\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->attachments.size(), 1u);
  EXPECT_EQ(r->attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(r->attachments[0].filename, "attachment.eml");
  EXPECT_THAT(r->attachments[0].data, HasSubstr("Subject: inner\r\n"));
  EXPECT_THAT(r->attachments[0].data, HasSubstr("inner body"));
}

TEST(ParseSemantics, CharsetFallbacks) {
  // Undeclared 8-bit text that is not UTF-8: read as windows-1252.
  auto r = parse_inline("Content-Type: text/plain\r\n\r\ncaf\xE9 \x80\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->text, "caf\u00E9 \u20AC");
  // Declared UTF-8 but broken: replacement characters, never invalid UTF-8.
  r = parse_inline("Content-Type: text/plain; charset=utf-8\r\n\r\nbad \xFF\xFE end\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->text, "bad \uFFFD\uFFFD end");
  // An unknown charset with ASCII text is harmless.
  r = parse_inline("Content-Type: text/plain; charset=x-klingon\r\n\r\nplain\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->text, "plain");
  // Unencoded 8-bit header: UTF-8 when valid.
  r = parse_inline(
      "Subject: Gr\xC3\xBC\xC3\x9F"
      "e\r\n\r\nx\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->subject, "Grüße");
}

// --- broken and hostile input ----------------------------------------------------------

TEST(ParseMalformed, TruncatedMultipartKeepsWhatArrived) {
  const auto parsed = parse_fixture("truncated_multipart.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->text, "The attachment below is cut off");
  EXPECT_THAT(parsed->warnings, ::testing::Contains(HasSubstr("truncated")));
}

TEST(ParseMalformed, MultipartWithoutBoundaryIsRejected) {
  const auto parsed = parse_fixture("missing_boundary.eml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, core::ErrorKind::kInvalidArgument);
  EXPECT_THAT(parsed.error().message, HasSubstr("boundary"));
}

TEST(ParseMalformed, BinaryGarbageIsRejected) {
  const auto parsed = parse_fixture("binary_garbage.eml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, core::ErrorKind::kInvalidArgument);
  EXPECT_EQ(parsed.error().field, "mail");
  EXPECT_THAT(parsed.error().message, HasSubstr("NUL"));
}

TEST(ParseMalformed, HugeHeaderLine) {
  const auto parsed = parse_fixture("huge_header_line.eml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->subject, std::string(40000, 'A'));
  EXPECT_EQ(parsed->text, "short body");

  ParseLimits small;
  small.max_header_bytes = 16 << 10;
  const auto rejected = parse_fixture("huge_header_line.eml", small);
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(rejected.error().message, HasSubstr("header section"));
}

TEST(ParseMalformed, NotAMailAtAll) {
  const char* inputs[] = {
      "",
      "\r\n\r\n",
      "just some text without headers\n",
      "Subject: no sender\n\nbody\n",
      "From: \n\nbody\n",
      "From: root\n\nno domain\n",
      "From: <>\nTo: a@b\n\n",
  };
  for (const char* input : inputs) {
    const auto parsed = parse_mail(input);
    ASSERT_FALSE(parsed.ok()) << "accepted: " << input;
    EXPECT_EQ(parsed.error().kind, core::ErrorKind::kInvalidArgument);
    EXPECT_FALSE(parsed.error().message.empty());
  }
}

TEST(ParseLimitsTest, EveryLimitIsEnforced) {
  ParseLimits bytes;
  bytes.max_bytes = 100;
  auto r = parse_fixture("dc_1to1_plain.eml", bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("over the limit"));

  ParseLimits parts;
  parts.max_parts = 3;
  r = parse_fixture("rfc2231_filename.eml", parts);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("MIME parts"));

  ParseLimits attachment;
  attachment.max_attachment_bytes = 50;
  r = parse_fixture("image_attachment.eml", attachment);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("cat.png"));

  std::string nested = "From: a@example.org\r\nMIME-Version: 1.0\r\n";
  for (int i = 0; i < 20; ++i) {
    nested += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
              std::to_string(i) + "\r\n";
  }
  nested += "Content-Type: text/plain\r\n\r\ndeep\r\n";
  r = parse_mail(nested);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("nested"));
}

TEST(ParseLimitsTest, BoundaryFloodIsRejectedBeforeGMimeBuildsIt) {
  std::string flood =
      "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
  for (int i = 0; i < 5000; ++i) flood += "--b\r\n\r\n";
  const auto r = parse_mail(flood);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("MIME parts"));
}

// Every fixture cut at many lengths and with random bytes flipped parses or fails cleanly.
// (The libFuzzer target fuzz/mime_parse_fuzz.cpp does this at scale.)
TEST(ParseMalformed, PrefixesAndBitFlipsNeverCrash) {
  const char* files[] = {"dc_1to1_plain.eml", "dc_mdn.eml",        "rfc2231_filename.eml",
                         "plain_email.eml",   "flowed_delsp.eml",  "image_attachment.eml",
                         "dc_edit.eml",       "webxdc_update.eml", "html_only.eml"};
  std::mt19937 rng(42);
  for (const char* file : files) {
    const std::string raw = load(file);
    for (std::size_t len = 0; len <= raw.size(); len += 5) {
      const auto r = parse_mail(std::string_view(raw).substr(0, len));
      if (!r.ok()) {
        EXPECT_EQ(r.error().kind, core::ErrorKind::kInvalidArgument);
      }
    }
    for (int round = 0; round < 200; ++round) {
      std::string mutated = raw;
      for (int flips = 0; flips < 4; ++flips) {
        mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xFF);
      }
      const auto r = parse_mail(mutated);
      if (!r.ok()) {
        EXPECT_EQ(r.error().kind, core::ErrorKind::kInvalidArgument);
      }
    }
  }
}

}  // namespace
}  // namespace coibridge::connectors::coi::mime
