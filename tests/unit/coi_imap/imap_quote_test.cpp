// Encoding of command arguments: atoms, quoted strings, literals (RFC 3501 §4, RFC 7888),
// modified UTF-7 mailbox names (RFC 3501 §5.1.3), base64 for SASL, sets and flag lists.

#include "connectors/coi/imap/imap_quote.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coibridge::connectors::coi::imap {
namespace {

std::vector<std::string> build(const CommandBuilder& b,
                               LiteralMode mode = LiteralMode::kSynchronizing) {
  auto r = b.build("A1", mode);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r->parts : std::vector<std::string>{};
}

TEST(ImapQuote, StringForms) {
  EXPECT_EQ(string_form("INBOX"), StringForm::kAtom);
  EXPECT_EQ(string_form("user@example.org"), StringForm::kAtom);
  EXPECT_EQ(string_form(""), StringForm::kQuoted);
  EXPECT_EQ(string_form("NIL"), StringForm::kQuoted);
  EXPECT_EQ(string_form("nIl"), StringForm::kQuoted);
  EXPECT_EQ(string_form("Sent Items"), StringForm::kQuoted);
  EXPECT_EQ(string_form("a\"b"), StringForm::kQuoted);
  EXPECT_EQ(string_form("a\\b"), StringForm::kQuoted);
  EXPECT_EQ(string_form("x]"), StringForm::kQuoted);
  EXPECT_EQ(string_form("*"), StringForm::kQuoted);
  EXPECT_EQ(string_form("p{5}"), StringForm::kQuoted);
  EXPECT_EQ(string_form("caf\xc3\xa9"), StringForm::kLiteral);
  EXPECT_EQ(string_form("a\r\nA2 LOGOUT"), StringForm::kLiteral);
  EXPECT_EQ(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

TEST(ImapQuote, LoginArgumentsCannotInjectCommands) {
  auto parts = build(CommandBuilder("LOGIN").string("bob").string("x\r\nA2 DELETE INBOX"));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "A1 LOGIN bob {18}\r\n");
  EXPECT_EQ(parts[1], "x\r\nA2 DELETE INBOX\r\n");
}

TEST(ImapQuote, LiteralModes) {
  const std::string big(5000, 'x');
  CommandBuilder b("SETMETADATA");
  b.string("").open_list().string("/private/a").quoted_or_literal("caf\xc3\xa9").close_list();
  EXPECT_EQ(build(b, LiteralMode::kPlus),
            std::vector<std::string>{"A1 SETMETADATA \"\" (/private/a {5+}\r\ncaf\xc3\xa9)\r\n"});
  auto sync = build(b, LiteralMode::kSynchronizing);
  ASSERT_EQ(sync.size(), 2u);
  EXPECT_EQ(sync[0], "A1 SETMETADATA \"\" (/private/a {5}\r\n");
  EXPECT_EQ(sync[1], "caf\xc3\xa9)\r\n");

  CommandBuilder minus("X");
  minus.string("\xff").string(big + "\xff");
  auto parts = build(minus, LiteralMode::kMinus);
  ASSERT_EQ(parts.size(), 2u);  // the small one inline, the big one synchronizing
  EXPECT_EQ(parts[0], "A1 X {1+}\r\n\xff {5001}\r\n");
}

TEST(ImapQuote, QuotedOrLiteralNeverGivesAnAtom) {
  EXPECT_EQ(build(CommandBuilder("X").quoted_or_literal("yes")),
            std::vector<std::string>{"A1 X \"yes\"\r\n"});
}

TEST(ImapQuote, RejectsNulAndRawCrlf) {
  EXPECT_FALSE(
      CommandBuilder("LOGIN").string(std::string("a\0b", 3)).build("A1", LiteralMode::kPlus).ok());
  EXPECT_FALSE(CommandBuilder("X").raw("1\r\nA2 LOGOUT").build("A1", LiteralMode::kPlus).ok());
  EXPECT_FALSE(CommandBuilder("SELECT").mailbox("\xff").build("A1", LiteralMode::kPlus).ok());
}

TEST(ImapQuote, SecretFlag) {
  auto r = CommandBuilder("LOGIN").string("u").string("p").secret().build("A1", LiteralMode::kPlus);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->secret);
  EXPECT_FALSE(CommandBuilder("NOOP").build("A1", LiteralMode::kPlus)->secret);
}

TEST(ImapQuote, MailboxNamesInModifiedUtf7) {
  struct Case {
    const char* utf8;
    const char* mutf7;
  };
  const Case cases[] = {
      {"INBOX", "INBOX"},
      {"Entw\xc3\xbc"
       "rfe",
       "Entw&APw-rfe"},
      {"A&B", "A&-B"},
      {"&", "&-"},
      // RFC 3501 §5.1.3's example
      {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
       "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
      {"\xf0\x9f\x98\x80", "&2D3eAA-"},  // U+1F600, a surrogate pair
      {"", ""},
  };
  for (const auto& c : cases) {
    auto enc = encode_mailbox_utf7(c.utf8);
    ASSERT_TRUE(enc.ok()) << c.utf8;
    EXPECT_EQ(*enc, c.mutf7);
    auto dec = decode_mailbox_utf7(c.mutf7);
    ASSERT_TRUE(dec.ok()) << c.mutf7;
    EXPECT_EQ(*dec, c.utf8);
  }
  EXPECT_EQ(build(CommandBuilder("SELECT").mailbox("Entw\xc3\xbc"
                                                   "rfe")),
            std::vector<std::string>{"A1 SELECT Entw&APw-rfe\r\n"});
  EXPECT_EQ(build(CommandBuilder("SELECT").mailbox("Sent Items")),
            std::vector<std::string>{"A1 SELECT \"Sent Items\"\r\n"});
}

TEST(ImapQuote, InvalidUtf7AndUtf8) {
  EXPECT_FALSE(encode_mailbox_utf7("\xc3").ok());          // truncated
  EXPECT_FALSE(encode_mailbox_utf7("\xc0\xaf").ok());      // overlong "/"
  EXPECT_FALSE(encode_mailbox_utf7("\xed\xa0\x80").ok());  // a surrogate
  EXPECT_FALSE(decode_mailbox_utf7("&").ok());
  EXPECT_FALSE(decode_mailbox_utf7("&AGE-").ok());   // "a", printable ASCII in base64
  EXPECT_FALSE(decode_mailbox_utf7("&2D0-").ok());   // lone high surrogate
  EXPECT_FALSE(decode_mailbox_utf7("&APw?-").ok());  // not base64
  EXPECT_FALSE(decode_mailbox_utf7("caf\xc3\xa9").ok());
  EXPECT_FALSE(decode_mailbox_utf7("&APx-").ok());  // non-zero padding bits
}

TEST(ImapQuote, UidSets) {
  const std::vector<std::uint32_t> a{1, 2, 3, 7, 9, 10};
  EXPECT_EQ(format_uid_set(a), "1:3,7,9:10");
  const std::vector<std::uint32_t> b{42};
  EXPECT_EQ(format_uid_set(b), "42");
  EXPECT_EQ(format_uid_set({}), "");
}

TEST(ImapQuote, FlagLists) {
  EXPECT_EQ(*normalize_flag_list("\\Seen"), "(\\Seen)");
  EXPECT_EQ(*normalize_flag_list("\\Seen $Chat"), "(\\Seen $Chat)");
  EXPECT_EQ(*normalize_flag_list(" (\\Seen  $MDNSent) "), "(\\Seen $MDNSent)");
  EXPECT_FALSE(normalize_flag_list("").ok());
  EXPECT_FALSE(normalize_flag_list("()").ok());
  EXPECT_FALSE(normalize_flag_list("(\\Seen").ok());
  EXPECT_FALSE(normalize_flag_list("\\Seen)\r\nA2 EXPUNGE").ok());
  EXPECT_FALSE(normalize_flag_list("\\").ok());
  EXPECT_FALSE(normalize_flag_list("\"quoted\"").ok());
  EXPECT_FALSE(normalize_flag_list("a{3}").ok());
}

}  // namespace
}  // namespace coibridge::connectors::coi::imap
