// compose_mail: wire-format rules (RFC 5322 §2.1, RFC 2047, RFC 2231) and round trips
// through parse_mail for every kind of chat mail.

#include "connectors/coi/mime/mime_compose.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "connectors/coi/mime/mime_parse.hpp"

namespace coibridge::connectors::coi::mime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

OutgoingMail base_mail() {
  OutgoingMail m;
  m.from = {"bridge+matrix.u1@example.org", "Zoë (Matrix)"};
  m.to = {{"bob@example.net", "Bob"}};
  m.message_id = "chat$01J9ZQ3K7B2V.5f3a@example.org";
  m.date_unix = 1736244000;
  m.text = "Hello";
  return m;
}

// The wire rules every composed mail must meet.
void expect_wire_format(const std::string& raw) {
  ASSERT_FALSE(raw.empty());
  const auto header_end = raw.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  std::size_t line = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\n') {
      ASSERT_TRUE(i > 0 && raw[i - 1] == '\r') << "bare LF at " << i;
      line = 0;
      continue;
    }
    if (c == '\r') {
      ASSERT_TRUE(i + 1 < raw.size() && raw[i + 1] == '\n') << "bare CR at " << i;
      continue;
    }
    ASSERT_LE(++line, 998u) << "line over 998 octets at " << i;
    // RFC 5322 §2.2 / RFC 2047: header fields are 7-bit; so is every part we write (7bit,
    // quoted-printable, base64).
    ASSERT_LT(static_cast<unsigned char>(c), 0x80) << "8-bit byte at " << i;
    ASSERT_NE(c, '\0');
  }
}

ParsedMail round_trip(const OutgoingMail& out, std::string* raw_out = nullptr) {
  const auto raw = compose_mail(out);
  EXPECT_TRUE(raw.ok()) << (raw.ok() ? "" : raw.error().field + ": " + raw.error().message);
  if (!raw.ok()) return {};
  expect_wire_format(*raw);
  if (raw_out != nullptr) *raw_out = *raw;
  const auto parsed = parse_mail(*raw);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message) << "\n" << *raw;
  if (!parsed.ok()) return {};
  EXPECT_TRUE(parsed->warnings.empty()) << parsed->warnings.front() << "\n" << *raw;
  return *parsed;
}

std::string header_section(const std::string& raw) { return raw.substr(0, raw.find("\r\n\r\n")); }

TEST(Compose, OneToOneMessageHeaders) {
  std::string raw;
  const auto m = round_trip(base_mail(), &raw);
  const auto headers = header_section(raw);
  EXPECT_THAT(headers, HasSubstr("\r\nChat-Version: 1.0\r\n"));
  EXPECT_THAT(headers, HasSubstr("\r\nMessage-Id: <chat$01J9ZQ3K7B2V.5f3a@example.org>\r\n"));
  EXPECT_THAT(headers, HasSubstr("\r\nMIME-Version: 1.0\r\n"));
  EXPECT_THAT(headers, HasSubstr("Date: Tue, 07 Jan 2025 10:00:00 +0000"));
  EXPECT_THAT(raw, HasSubstr("Content-Type: text/plain; charset=utf-8; format=flowed\r\n"));
  EXPECT_THAT(raw, HasSubstr("Content-Transfer-Encoding: 7bit\r\n"));
  EXPECT_THAT(headers, Not(HasSubstr("Disposition-Notification-To")));

  EXPECT_EQ(m.message_id, "chat$01J9ZQ3K7B2V.5f3a@example.org");
  EXPECT_EQ(m.from, (Mailbox{"bridge+matrix.u1@example.org", "Zoë (Matrix)"}));
  EXPECT_THAT(m.to, ElementsAre(Mailbox{"bob@example.net", "Bob"}));
  EXPECT_EQ(m.subject, "Message from Zoë (Matrix)");  // Delta Chat's default subject
  EXPECT_EQ(m.date_unix, 1736244000);
  EXPECT_TRUE(m.is_chat);
  EXPECT_EQ(m.kind, ChatKind::kMessage);
  EXPECT_EQ(m.text, "Hello");
}

class TextRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(TextRoundTrip, TextSurvives) {
  OutgoingMail out = base_mail();
  out.text = GetParam();
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_EQ(m.text, GetParam()) << raw;
  EXPECT_FALSE(m.quote) << raw;
  EXPECT_FALSE(m.footer) << raw;
}

std::string long_words(std::size_t words) {
  std::string s;
  for (std::size_t i = 0; i < words; ++i) {
    if (i > 0) s += ' ';
    s += "word" + std::to_string(i);
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Texts, TextRoundTrip,
    ::testing::Values(
        std::string("plain ascii"),
        std::string("Grüße, 你好, Здравствуйте, 😀 — ünïcödé everywhere"),
        long_words(120),                      // one long line, wrapped by format=flowed
        "Über " + long_words(150) + " Ende",  // long and non-ASCII: flowed + QP
        std::string(2000, 'x'),               // an unbreakable 2000-octet line: QP
        std::string("From here the line starts with From\nFrom: not a header\nok"),
        std::string(".\n..\n. leading dot\nend"),                // SMTP dot lines
        std::string("trailing spaces  \nand a tab\t\nsurvive"),  // not flowed: QP keeps them
        std::string("ends with space "), std::string(" leading space\n  two leading spaces"),
        std::string("> this is not a quote\nsecond line"),
        std::string("before\n-- \nafter: not a footer"), std::string("-- at the start"),
        std::string("para one\n\n\n\npara two after three empty lines"),
        std::string("tabs\tinside\tthe\ttext"),
        std::string("=3D not qp =?utf-8?q?not_a_word?= =20"),
        "a very long line with a trailing space at its end " + long_words(30) + " "));

TEST(Compose, FlowedAndQuotedPrintableAreChosenAsNeeded) {
  OutgoingMail out = base_mail();
  out.text = long_words(60);
  auto raw = compose_mail(out);
  ASSERT_TRUE(raw.ok());
  EXPECT_THAT(*raw, HasSubstr("format=flowed"));
  EXPECT_THAT(*raw, HasSubstr("Content-Transfer-Encoding: 7bit"));
  EXPECT_THAT(*raw, HasSubstr(" \r\nword"));  // soft break: a space before CRLF

  out.text = "trailing  \nspaces";
  raw = compose_mail(out);
  ASSERT_TRUE(raw.ok());
  EXPECT_THAT(*raw, Not(HasSubstr("format=flowed")));
  EXPECT_THAT(*raw, HasSubstr("Content-Transfer-Encoding: quoted-printable"));

  out.text = "Grüße";
  raw = compose_mail(out);
  ASSERT_TRUE(raw.ok());
  EXPECT_THAT(*raw, HasSubstr("format=flowed"));
  EXPECT_THAT(*raw, HasSubstr("Gr=C3=BC=C3=9Fe"));
}

TEST(Compose, LineEndingsInInputAreNormalized) {
  OutgoingMail out = base_mail();
  out.text = "one\r\ntwo\rthree\n";
  EXPECT_EQ(round_trip(out).text, "one\ntwo\nthree");
}

TEST(Compose, GroupMessage) {
  OutgoingMail out = base_mail();
  out.message_id = "chat$group.Gx7kqM3pN8rT2vW5yZ1bC4dF.01J9ZQ@example.org";
  out.to = {{"bob@example.net", ""}, {"carol@example.com", "Carol"}};
  out.cc = {{"dave@example.org", ""}};
  out.group_id = "Gx7kqM3pN8rT2vW5yZ1bC4dF";
  out.group_name = "Projekt Ä — ✓";
  out.in_reply_to = {"prev@localhost"};
  out.references = {"chat$group.Gx7kqM3pN8rT2vW5yZ1bC4dF.root@example.org", "prev@localhost"};
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_EQ(m.group_id, "Gx7kqM3pN8rT2vW5yZ1bC4dF");
  EXPECT_EQ(m.group_name, "Projekt Ä — ✓");
  EXPECT_EQ(m.subject, "Projekt Ä — ✓");  // COI: the Subject is the group name
  EXPECT_THAT(m.to,
              ElementsAre(Mailbox{"bob@example.net", ""}, Mailbox{"carol@example.com", "Carol"}));
  EXPECT_THAT(m.cc, ElementsAre(Mailbox{"dave@example.org", ""}));
  EXPECT_THAT(m.in_reply_to, ElementsAre("prev@localhost"));
  EXPECT_THAT(m.references, ElementsAre("chat$group.Gx7kqM3pN8rT2vW5yZ1bC4dF.root@example.org",
                                        "prev@localhost"));
  EXPECT_THAT(header_section(raw), HasSubstr("Chat-Group-ID: Gx7kqM3pN8rT2vW5yZ1bC4dF\r\n"));
  EXPECT_THAT(header_section(raw), HasSubstr("Chat-Group-Name: Projekt =?UTF-8?B?"));
}

TEST(Compose, ReplyWithQuote) {
  OutgoingMail out = base_mail();
  out.in_reply_to = {"orig@localhost"};
  out.quote = "What time?\nTomorrow?";
  out.text = "At 10.";
  const auto m = round_trip(out);
  EXPECT_EQ(m.quote, "What time?\nTomorrow?");
  EXPECT_EQ(m.text, "At 10.");
  EXPECT_THAT(m.in_reply_to, ElementsAre("orig@localhost"));
  EXPECT_THAT(m.references, ElementsAre("orig@localhost"));  // defaults to In-Reply-To
}

TEST(Compose, Edit) {
  OutgoingMail out = base_mail();
  out.kind = ChatKind::kEdit;
  out.target_message_id = "orig-edit@localhost";
  out.quote = "Original with a tpyo";
  out.text = "Corrected, with ünïcode";
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_EQ(m.kind, ChatKind::kEdit);
  EXPECT_EQ(m.target_message_id, "orig-edit@localhost");
  EXPECT_EQ(m.text, "Corrected, with ünïcode");
  EXPECT_EQ(m.quote, "Original with a tpyo");
  EXPECT_THAT(m.in_reply_to, ElementsAre("orig-edit@localhost"));
  // Delta Chat's header at the top and in the first part, and COI's form.
  EXPECT_THAT(header_section(raw), HasSubstr("\r\nChat-Edit: <orig-edit@localhost>\r\n"));
  EXPECT_THAT(raw.substr(raw.find("\r\n\r\n")),
              HasSubstr("\r\nChat-Edit: <orig-edit@localhost>\r\n"));
  EXPECT_THAT(header_section(raw), HasSubstr("\r\nChat-Content: editrequest\r\n"));
  EXPECT_THAT(header_section(raw), HasSubstr("multipart/mixed"));
}

TEST(Compose, Delete) {
  OutgoingMail out = base_mail();
  out.kind = ChatKind::kDelete;
  out.text.clear();
  out.target_message_id = "m1@localhost";
  out.additional_targets = {"m2@localhost", "m3@localhost"};
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_EQ(m.kind, ChatKind::kDelete);
  EXPECT_EQ(m.target_message_id, "m1@localhost");
  EXPECT_THAT(m.additional_targets, ElementsAre("m2@localhost", "m3@localhost"));
  EXPECT_EQ(m.text, "\U0001F6AE");  // Delta Chat needs a non-empty body
  EXPECT_THAT(header_section(raw), HasSubstr("Chat-Content: deleterequest"));
}

TEST(Compose, ReactionAndRetraction) {
  OutgoingMail out = base_mail();
  out.kind = ChatKind::kReaction;
  out.target_message_id = "target@localhost";
  out.reaction = "\U0001F44D";
  std::string raw;
  auto m = round_trip(out, &raw);
  EXPECT_EQ(m.kind, ChatKind::kReaction);
  EXPECT_EQ(m.reaction, "\U0001F44D");
  EXPECT_EQ(m.target_message_id, "target@localhost");
  EXPECT_THAT(raw, HasSubstr("Content-Disposition: reaction\r\n"));

  out.reaction.clear();
  m = round_trip(out);
  EXPECT_EQ(m.kind, ChatKind::kReaction);
  EXPECT_EQ(m.reaction, "");
}

TEST(Compose, ReadReceipt) {
  OutgoingMail out = base_mail();
  out.kind = ChatKind::kReadReceipt;
  out.subject.clear();
  out.read_receipt_for = "orig-1@localhost";
  out.additional_targets = {"orig-2@localhost", "orig-3@localhost"};
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_EQ(m.kind, ChatKind::kReadReceipt);
  EXPECT_EQ(m.target_message_id, "orig-1@localhost");
  EXPECT_THAT(m.additional_targets, ElementsAre("orig-2@localhost", "orig-3@localhost"));
  EXPECT_TRUE(m.auto_submitted);
  EXPECT_EQ(m.subject, "Receipt Notification");
  EXPECT_THAT(header_section(raw), HasSubstr("report-type=disposition-notification"));
  EXPECT_THAT(raw, HasSubstr("Disposition: manual-action/MDN-sent-automatically; displayed"));
  EXPECT_THAT(raw, HasSubstr("Original-Message-ID: <orig-1@localhost>"));
}

TEST(Compose, ReadReceiptFromKindAndTarget) {
  OutgoingMail out = base_mail();
  out.kind = ChatKind::kReadReceipt;
  out.target_message_id = "orig-9@localhost";
  const auto m = round_trip(out);
  EXPECT_EQ(m.kind, ChatKind::kReadReceipt);
  EXPECT_EQ(m.target_message_id, "orig-9@localhost");
}

TEST(Compose, MembershipAndRename) {
  OutgoingMail out = base_mail();
  out.group_id = "Gx7kqM3pN8rT2vW5yZ1bC4dF";
  out.group_name = "Project X";
  out.text.clear();

  out.kind = ChatKind::kMemberAdded;
  out.member_added = Mailbox{"dave@example.org", ""};
  auto m = round_trip(out);
  EXPECT_EQ(m.kind, ChatKind::kMemberAdded);
  EXPECT_EQ(m.member_added, (Mailbox{"dave@example.org", ""}));
  EXPECT_EQ(m.text, "Member dave@example.org was added.");

  out.kind = ChatKind::kMemberRemoved;
  out.member_added.reset();
  out.member_removed = Mailbox{"carol@example.com", ""};
  m = round_trip(out);
  EXPECT_EQ(m.kind, ChatKind::kMemberRemoved);
  EXPECT_EQ(m.member_removed, (Mailbox{"carol@example.com", ""}));

  out.kind = ChatKind::kGroupRenamed;
  out.member_removed.reset();
  out.previous_group_name = "Project X";
  out.group_name = "Projekt Ypsilon ✓";
  m = round_trip(out);
  EXPECT_EQ(m.kind, ChatKind::kGroupRenamed);
  EXPECT_EQ(m.group_name, "Projekt Ypsilon ✓");
  EXPECT_EQ(m.previous_group_name, "Project X");
}

TEST(Compose, AttachmentsAreByteIdentical) {
  std::mt19937 rng(7);
  std::string binary(100 * 1024, '\0');
  for (auto& c : binary) c = static_cast<char>(rng() & 0xFF);
  OutgoingMail out = base_mail();
  out.text = "two files";
  out.attachments = {
      {"Maßnahmen Okt. 2020 — Übersicht.bin", "application/octet-stream", binary},
      {"cat.png", "image/png", std::string("\x89PNG\r\n\x1a\n\0\0", 10)},
      {"../../evil.txt", "Text/Plain", std::string("line\r\nwith CRLF and \x00 NUL", 25)},
      {"", "not a type", "x"}};
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_EQ(m.text, "two files");
  ASSERT_EQ(m.attachments.size(), 4u);
  EXPECT_EQ(m.attachments[0].filename, "Maßnahmen Okt. 2020 — Übersicht.bin");
  EXPECT_EQ(m.attachments[0].content_type, "application/octet-stream");
  EXPECT_TRUE(m.attachments[0].data == binary) << "100 KB binary changed";
  EXPECT_EQ(m.attachments[1].data, std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  EXPECT_EQ(m.attachments[1].content_type, "image/png");
  EXPECT_EQ(m.attachments[2].filename, "evil.txt");
  EXPECT_EQ(m.attachments[2].content_type, "text/plain");
  EXPECT_EQ(m.attachments[2].data, std::string("line\r\nwith CRLF and \x00 NUL", 25));
  EXPECT_EQ(m.attachments[3].filename, "attachment");
  EXPECT_EQ(m.attachments[3].content_type, "application/octet-stream");
  // RFC 2231 for the non-ASCII name, base64 for the bytes.
  EXPECT_THAT(raw, HasSubstr("filename*=UTF-8''Ma%C3%9Fnahmen"));
  EXPECT_THAT(raw, HasSubstr("Content-Transfer-Encoding: base64"));
}

TEST(Compose, ReadReceiptRequestUsesBothHeaders) {
  OutgoingMail out = base_mail();
  out.request_read_receipt = true;
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_TRUE(m.wants_read_receipt);
  EXPECT_EQ(m.read_receipt_to, (Mailbox{"bridge+matrix.u1@example.org", ""}));
  EXPECT_THAT(header_section(raw),
              HasSubstr("\r\nChat-Disposition-Notification-To: bridge+matrix.u1@example.org\r\n"));
  EXPECT_THAT(header_section(raw),
              HasSubstr("\r\nDisposition-Notification-To: bridge+matrix.u1@example.org\r\n"));
}

TEST(Compose, RelayModeSenderAndEncodedNames) {
  OutgoingMail out = base_mail();
  out.from = {"bridge@example.org", "Ærøskøbing \"Quoted\", Name <x>"};
  out.sender = Mailbox{"bridge@example.org", "coi-bridge"};
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_EQ(m.from, (Mailbox{"bridge@example.org", "Ærøskøbing \"Quoted\", Name <x>"}));
  EXPECT_EQ(m.sender, (Mailbox{"bridge@example.org", "coi-bridge"}));
}

TEST(Compose, HeaderInjectionIsNeutralized) {
  OutgoingMail out = base_mail();
  out.subject = "Hi\r\nBcc: victim@example.com";
  out.from.name = "Eve\r\nX-Injected: 1";
  out.group_id = "Gx7kqM3pN8rT2vW5yZ1bC4dF";
  out.group_name = "Group\nChat-Group-Member-Added: mallory@example.com";
  std::string raw;
  const auto m = round_trip(out, &raw);
  EXPECT_THAT(raw, Not(HasSubstr("\r\nBcc:")));
  EXPECT_THAT(raw, Not(HasSubstr("\r\nX-Injected:")));
  EXPECT_THAT(raw, Not(HasSubstr("\r\nChat-Group-Member-Added:")));
  EXPECT_EQ(m.subject, "Hi  Bcc: victim@example.com");
  EXPECT_EQ(m.kind, ChatKind::kMessage);
}

TEST(Compose, AutocryptHeaderIsFolded) {
  OutgoingMail out = base_mail();
  const std::string key(3000, 'Q');
  out.autocrypt_header = "addr=bridge+matrix.u1@example.org; prefer-encrypt=mutual; keydata=" + key;
  std::string raw;
  const auto m = round_trip(out, &raw);
  ASSERT_TRUE(m.autocrypt_header);
  std::string unfolded = *m.autocrypt_header;
  std::erase_if(unfolded, [](char c) { return c == ' ' || c == '\t'; });
  EXPECT_EQ(unfolded, "addr=bridge+matrix.u1@example.org;prefer-encrypt=mutual;keydata=" + key);
}

TEST(Compose, UnbreakableSubjectIsEncodedWithinLineLimit) {
  OutgoingMail out = base_mail();
  out.subject = std::string(1200, 'S');  // GMime splits it into RFC 2047 encoded words
  EXPECT_EQ(round_trip(out).subject, std::string(1200, 'S'));
}

TEST(Compose, InvalidInputIsRejected) {
  struct Case {
    const char* field;
    void (*mutate)(OutgoingMail&);
  };
  const Case cases[] = {
      {"message_id", [](OutgoingMail& m) { m.message_id.clear(); }},
      {"message_id", [](OutgoingMail& m) { m.message_id = "no at sign"; }},
      {"message_id", [](OutgoingMail& m) { m.message_id = "<a@b>"; }},
      {"from", [](OutgoingMail& m) { m.from.address = "not-an-address"; }},
      {"from", [](OutgoingMail& m) { m.from.address = "a@b>\r\nBcc: x@y"; }},
      {"from", [](OutgoingMail& m) { m.from.address = "jörg@example.org"; }},  // needs SMTPUTF8
      {"to", [](OutgoingMail& m) { m.to.clear(); }},
      {"to",
       [](OutgoingMail& m) {
         m.to = {{"@example.org", ""}};
       }},
      {"date_unix", [](OutgoingMail& m) { m.date_unix = 0; }},
      {"in_reply_to", [](OutgoingMail& m) { m.in_reply_to = {"x y@z"}; }},
      {"group_id", [](OutgoingMail& m) { m.group_id = "short"; }},
      {"group_id", [](OutgoingMail& m) { m.group_id = "has.dot.in.the.id"; }},
      {"kind", [](OutgoingMail& m) { m.kind = ChatKind::kNotChat; }},
      {"kind", [](OutgoingMail& m) { m.kind = ChatKind::kProtocolNoise; }},
      {"target_message_id", [](OutgoingMail& m) { m.kind = ChatKind::kEdit; }},
      {"target_message_id", [](OutgoingMail& m) { m.kind = ChatKind::kReaction; }},
      {"read_receipt_for", [](OutgoingMail& m) { m.kind = ChatKind::kReadReceipt; }},
      {"member_added", [](OutgoingMail& m) { m.kind = ChatKind::kMemberAdded; }},
      {"group_name", [](OutgoingMail& m) { m.kind = ChatKind::kGroupRenamed; }},
  };
  for (const auto& c : cases) {
    OutgoingMail out = base_mail();
    c.mutate(out);
    const auto raw = compose_mail(out);
    ASSERT_FALSE(raw.ok()) << c.field;
    EXPECT_EQ(raw.error().kind, core::ErrorKind::kInvalidArgument);
    EXPECT_EQ(raw.error().field, c.field) << raw.error().message;
  }
}

}  // namespace
}  // namespace coibridge::connectors::coi::mime

namespace coibridge::connectors::coi::mime {
namespace {

// Inputs the fuzzer once broke (tests/fixtures/fuzz/mime): whatever parses must compose again,
// the round trip fuzz/mime_parse_fuzz.cpp checks.
TEST(FuzzRegressions, ParsedMailComposesAgain) {
  const std::filesystem::path dir =
      std::filesystem::path(COIBRIDGE_EML_FIXTURE_DIR) / ".." / "fuzz" / "mime";
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ParseLimits limits;
    limits.max_bytes = std::size_t{1} << 20;
    const auto parsed = parse_mail(raw, limits);
    if (!parsed.ok()) continue;
    ++checked;
    OutgoingMail out;
    out.from = {"bridge@example.org", parsed->from.name};
    out.to = {{"peer@example.net", parsed->subject}};
    out.message_id = "chat$fuzz@example.org";
    out.date_unix = 1736244000;
    out.subject = parsed->subject;
    out.text = parsed->text;
    out.attachments = parsed->attachments;
    for (const auto& a : parsed->attachments) {
      EXPECT_LE(a.content_type.size(), 255u) << entry.path();
    }
    const auto composed = compose_mail(out);
    EXPECT_TRUE(composed.ok()) << entry.path() << ": "
                               << (composed.ok() ? "" : composed.error().message);
  }
  EXPECT_GE(checked, 1);
}

}  // namespace
}  // namespace coibridge::connectors::coi::mime
