// The IMAP response parser on recorded server transcripts (Dovecot 2.3 unless noted), fed
// whole and byte by byte, and on garbage and truncated input.

#include "connectors/coi/imap/imap_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coibridge::connectors::coi::imap {
namespace {

// Feeds `input` in chunks of `chunk` bytes (0 = all at once) and collects every response.
// Stops at the first error, which is returned in *error.
std::vector<Response> parse_all(std::string_view input, std::size_t chunk = 0,
                                std::string* error = nullptr, ParserLimits limits = {}) {
  ResponseParser p(limits);
  std::vector<Response> out;
  auto drain = [&]() -> bool {
    for (;;) {
      auto r = p.next();
      if (!r.ok()) {
        if (error) *error = r.error().message;
        return false;
      }
      if (!*r) return true;
      out.push_back(std::move(**r));
    }
  };
  if (chunk == 0) chunk = input.size() == 0 ? 1 : input.size();
  for (std::size_t i = 0; i < input.size(); i += chunk) {
    p.feed(input.substr(i, chunk));
    if (!drain()) return out;
  }
  return out;
}

// The same responses must come out whatever the read boundaries are.
std::vector<Response> parse_every_way(std::string_view input) {
  auto whole = parse_all(input);
  for (std::size_t chunk : {1, 2, 3, 7, 64}) {
    std::string error;
    auto split = parse_all(input, chunk, &error);
    EXPECT_EQ(error, "") << "chunk " << chunk;
    EXPECT_EQ(split.size(), whole.size()) << "chunk " << chunk;
    for (std::size_t i = 0; i < std::min(split.size(), whole.size()); ++i) {
      EXPECT_EQ(split[i].name, whole[i].name);
      EXPECT_EQ(split[i].data.size(), whole[i].data.size());
      EXPECT_EQ(split[i].text, whole[i].text);
    }
  }
  return whole;
}

std::string parse_error(std::string_view input, ParserLimits limits = {}) {
  std::string error;
  parse_all(input, 0, &error, limits);
  return error;
}

TEST(ImapParser, DovecotGreetingCarriesCapabilities) {
  auto rs = parse_every_way(
      "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
      "AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready.\r\n");
  ASSERT_EQ(rs.size(), 1u);
  const Response& r = rs[0];
  EXPECT_EQ(r.kind, ResponseKind::kUntagged);
  EXPECT_EQ(r.condition, Condition::kOk);
  ASSERT_TRUE(r.code);
  EXPECT_EQ(r.code->name, "CAPABILITY");
  auto caps = decode_capabilities(r.code->args);
  EXPECT_EQ(caps.size(), 10u);
  EXPECT_EQ(caps[6], "LITERAL+");
  EXPECT_EQ(caps[8], "AUTH=PLAIN");
  EXPECT_EQ(r.text, "Dovecot (Debian) ready.");
}

TEST(ImapParser, TaggedLoginOkWithCapabilityCode) {
  auto rs = parse_every_way(
      "A0002 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT "
      "SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL "
      "CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC "
      "ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY "
      "PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY METADATA SPECIAL-USE] Logged "
      "in\r\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ResponseKind::kTagged);
  EXPECT_EQ(rs[0].tag, "A0002");
  EXPECT_EQ(rs[0].condition, Condition::kOk);
  auto caps = decode_capabilities(rs[0].code->args);
  EXPECT_NE(std::find(caps.begin(), caps.end(), "METADATA"), caps.end());
  EXPECT_NE(std::find(caps.begin(), caps.end(), "QRESYNC"), caps.end());
  EXPECT_EQ(rs[0].text, "Logged in");
}

TEST(ImapParser, SelectTranscript) {
  auto rs = parse_every_way(
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
      "permitted.\r\n"
      "* 3 EXISTS\r\n"
      "* 0 RECENT\r\n"
      "* OK [UNSEEN 1] First unseen.\r\n"
      "* OK [UIDVALIDITY 1732713545] UIDs valid\r\n"
      "* OK [UIDNEXT 4] Predicted next UID\r\n"
      "* OK [HIGHESTMODSEQ 7] Highest\r\n"
      "A0004 OK [READ-WRITE] Select completed (0.002 + 0.000 + 0.001 secs).\r\n");
  ASSERT_EQ(rs.size(), 9u);
  EXPECT_EQ(rs[0].name, "FLAGS");
  ASSERT_EQ(rs[0].data.size(), 1u);
  ASSERT_TRUE(rs[0].data[0].is_list());
  EXPECT_EQ(rs[0].data[0].items[3].text, "\\Seen");
  ASSERT_TRUE(rs[1].code);
  EXPECT_EQ(rs[1].code->name, "PERMANENTFLAGS");
  ASSERT_EQ(rs[1].code->args.size(), 1u);
  EXPECT_EQ(rs[1].code->args[0].items.back().text, "\\*");
  EXPECT_EQ(rs[2].number, 3u);
  EXPECT_EQ(rs[2].name, "EXISTS");
  EXPECT_EQ(rs[3].number, 0u);
  EXPECT_EQ(rs[3].name, "RECENT");
  EXPECT_EQ(code_number(*rs[5].code), 1732713545u);
  EXPECT_EQ(code_number(*rs[6].code), 4u);
  EXPECT_EQ(rs[7].code->name, "HIGHESTMODSEQ");
  EXPECT_EQ(code_number(*rs[7].code), 7u);
  EXPECT_EQ(rs[8].tag, "A0004");
  EXPECT_EQ(rs[8].code->name, "READ-WRITE");
  EXPECT_TRUE(rs[8].code->args.empty());
}

TEST(ImapParser, FetchLiteralWithCrlfParenthesesAndQuotes) {
  const std::string body =
      "From: a@example.org\r\nSubject: (not a list) \"quoted\" {3}\r\n\r\n)))((( * 1 FETCH\r\n";
  const std::string wire = "* 1 FETCH (UID 17 BODY[] {" + std::to_string(body.size()) + "}\r\n" +
                           body + " FLAGS (\\Seen $Chat))\r\nA0005 OK Fetch completed.\r\n";
  auto rs = parse_every_way(wire);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].name, "FETCH");
  EXPECT_EQ(rs[0].number, 1u);
  auto f = decode_fetch(std::move(rs[0]));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->seq, 1u);
  EXPECT_EQ(f->uid, 17u);
  ASSERT_TRUE(f->body);
  EXPECT_EQ(*f->body, body);
  ASSERT_TRUE(f->flags);
  EXPECT_EQ(*f->flags, (std::vector<std::string>{"\\Seen", "$Chat"}));
  EXPECT_EQ(rs[1].condition, Condition::kOk);
}

TEST(ImapParser, EightBitAndNulBytesInLiteralsArePreserved) {
  std::string body = "Subject: caf\xc3\xa9\r\n\r\n\xff\xfe";
  body += '\0';
  body += "end";
  const std::string wire =
      "* 2 FETCH (BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + " UID 9)\r\n";
  auto rs = parse_every_way(wire);
  ASSERT_EQ(rs.size(), 1u);
  auto f = decode_fetch(std::move(rs[0]));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->body, body);
  EXPECT_EQ(f->uid, 9u);
}

TEST(ImapParser, EmptyLiteralAndNilBody) {
  auto rs = parse_every_way(
      "* 1 FETCH (UID 5 BODY[] {0}\r\n FLAGS ())\r\n"
      "* 2 FETCH (UID 6 BODY[] NIL FLAGS (\\Deleted))\r\n");
  ASSERT_EQ(rs.size(), 2u);
  auto a = decode_fetch(std::move(rs[0]));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->body, "");
  EXPECT_TRUE(a->flags && a->flags->empty());
  auto b = decode_fetch(std::move(rs[1]));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->body, "");
  EXPECT_EQ(b->uid, 6u);
}

TEST(ImapParser, TwoLiteralsInOneResponse) {
  auto rs = parse_every_way(
      "* 3 FETCH (UID 8 BODY[HEADER.FIELDS (FROM SUBJECT)] {9}\r\nFrom: x\r\n BODY[] {4}\r\n"
      "a\r\nb RFC822.SIZE 4 MODSEQ (12))\r\n");
  ASSERT_EQ(rs.size(), 1u);
  const auto& items = rs[0].data[0].items;
  ASSERT_EQ(items.size(), 10u);
  EXPECT_EQ(items[2].text, "BODY[HEADER.FIELDS (FROM SUBJECT)]");
  EXPECT_TRUE(items[3].literal);
  EXPECT_EQ(items[3].text, "From: x\r\n");
  auto f = decode_fetch(std::move(rs[0]));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->body, "a\r\nb");
  EXPECT_EQ(f->size, 4u);
  EXPECT_EQ(f->modseq, 12u);
}

TEST(ImapParser, NoiseBetweenFetches) {
  auto rs = parse_every_way(
      "* 1 FETCH (UID 10 BODY[] {2}\r\nhi)\r\n"
      "* 2 EXPUNGE\r\n"
      "* 4 EXISTS\r\n"
      "* 1 RECENT\r\n"
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Chat)\r\n"
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Chat \\*)] "
      "Flags permitted.\r\n"
      "* 3 FETCH (FLAGS (\\Seen))\r\n"
      "* 2 FETCH (UID 12 BODY[] {3}\r\nyo!)\r\n"
      "A0007 OK Fetch completed (0.001 + 0.000 secs).\r\n");
  ASSERT_EQ(rs.size(), 9u);
  EXPECT_EQ(rs[1].name, "EXPUNGE");
  EXPECT_EQ(rs[1].number, 2u);
  EXPECT_EQ(rs[2].name, "EXISTS");
  auto unsolicited = decode_fetch(std::move(rs[6]));
  ASSERT_TRUE(unsolicited.ok());
  EXPECT_FALSE(unsolicited->uid);
  EXPECT_FALSE(unsolicited->body);
  auto second = decode_fetch(std::move(rs[7]));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->body, "yo!");
}

TEST(ImapParser, QuotedStringsWithEscapes) {
  auto rs = parse_every_way(
      "* LIST (\\HasNoChildren) \"/\" \"Sent \\\"Items\\\" \\\\ more\"\r\n"
      "* LIST (\\Noselect \\HasChildren) \"\\\\\" \"\"\r\n"
      "* LIST (\\HasNoChildren) NIL INBOX\r\n"
      "* LIST (\\HasNoChildren \\Sent) \"/\" {9}\r\nSent\r\n(x)\r\n"
      "* LIST () \".\" 2024\r\n");
  ASSERT_EQ(rs.size(), 5u);
  auto a = decode_list(rs[0]);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->name, "Sent \"Items\" \\ more");
  EXPECT_EQ(a->delimiter, '/');
  EXPECT_EQ(a->attributes, std::vector<std::string>{"\\HasNoChildren"});
  auto b = decode_list(rs[1]);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->delimiter, '\\');
  EXPECT_EQ(b->name, "");
  auto c = decode_list(rs[2]);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->delimiter, '\0');
  EXPECT_EQ(c->name, "INBOX");
  auto d = decode_list(rs[3]);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->name, "Sent\r\n(x)");
  auto e = decode_list(rs[4]);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->name, "2024");  // a number is an astring too
}

TEST(ImapParser, ListExtendedDataIsIgnored) {
  auto rs =
      parse_every_way("* LIST (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
  auto e = decode_list(rs.at(0));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->name, "Foo");
}

TEST(ImapParser, InboxIsCaseInsensitive) {
  auto rs = parse_every_way("* LIST () \"/\" inbox\r\n");
  EXPECT_EQ(decode_list(rs.at(0))->name, "INBOX");
}

TEST(ImapParser, VanishedQresync) {
  auto rs = parse_every_way(
      "* VANISHED 41,43:116,118,120:211,214:540\r\n"
      "* VANISHED (EARLIER) 300:310,405,411\r\n");
  ASSERT_EQ(rs.size(), 2u);
  auto a = decode_vanished(rs[0]);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->earlier);
  EXPECT_EQ(a->count, 1u + 74u + 1u + 92u + 327u);
  auto b = decode_vanished(rs[1]);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->earlier);
  EXPECT_EQ(b->count, 13u);
}

TEST(ImapParser, MetadataValues) {
  auto rs = parse_every_way(
      "* METADATA \"\" (/private/comment {12}\r\nline1\r\nline2)\r\n"
      "* METADATA \"INBOX\" (/shared/comment NIL /private/x \"quoted\")\r\n"
      "* METADATA \"INBOX\" /shared/comment /private/x\r\n");
  ASSERT_EQ(rs.size(), 3u);
  auto a = decode_metadata(std::move(rs[0]));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mailbox, "");
  ASSERT_EQ(a->entries.size(), 1u);
  EXPECT_EQ(a->entries[0].first, "/private/comment");
  EXPECT_EQ(a->entries[0].second, "line1\r\nline2");
  auto b = decode_metadata(std::move(rs[1]));
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->entries.size(), 2u);
  EXPECT_FALSE(b->entries[0].second);
  EXPECT_EQ(b->entries[1].second, "quoted");
  auto c = decode_metadata(std::move(rs[2]));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->entries.empty());
}

TEST(ImapParser, ContinuationRequests) {
  auto rs = parse_every_way("+ idling\r\n+\r\n+ \r\n+ dGVzdA==\r\n+ [ALERT] careful\r\n");
  ASSERT_EQ(rs.size(), 5u);
  for (const auto& r : rs) EXPECT_EQ(r.kind, ResponseKind::kContinuation);
  EXPECT_EQ(rs[0].text, "idling");
  EXPECT_EQ(rs[1].text, "");
  EXPECT_EQ(rs[3].text, "dGVzdA==");
  ASSERT_TRUE(rs[4].code);
  EXPECT_EQ(rs[4].code->name, "ALERT");
  EXPECT_EQ(rs[4].text, "careful");
}

TEST(ImapParser, BraceAtEndOfStatusTextIsNotALiteral) {
  // resp-text cannot hold a literal; a parser that waited for 5 bytes here would hang.
  auto rs = parse_every_way("* OK Still here {5}\r\nA1 NO failed {3}\r\n+ go on {2}\r\n");
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].text, "Still here {5}");
  EXPECT_EQ(rs[1].text, "failed {3}");
  EXPECT_EQ(rs[2].text, "go on {2}");
}

TEST(ImapParser, StatusResponsesAndCodes) {
  auto rs = parse_every_way(
      "* BYE Server shutting down.\r\n"
      "* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n"
      "A9 no [AUTHENTICATIONFAILED] Authentication failed.\r\n"
      "A10 BAD Error in IMAP command received by server.\r\n"
      "* OK [ALERT] Mailbox almost full\r\n"
      "* OK\r\n"
      "A11 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
      "* NO [unterminated code\r\n");
  ASSERT_EQ(rs.size(), 8u);
  EXPECT_EQ(rs[0].condition, Condition::kBye);
  EXPECT_EQ(rs[1].condition, Condition::kPreauth);
  EXPECT_EQ(rs[2].condition, Condition::kNo);
  EXPECT_EQ(rs[2].code->name, "AUTHENTICATIONFAILED");
  EXPECT_EQ(rs[2].name, "NO");
  EXPECT_EQ(rs[3].condition, Condition::kBad);
  EXPECT_EQ(rs[4].code->name, "ALERT");
  EXPECT_EQ(rs[5].text, "");
  EXPECT_EQ(rs[6].code->raw_args, "38505 304,319:320 3956:3958");
  EXPECT_EQ(rs[6].code->args.size(), 3u);
  EXPECT_FALSE(rs[7].code);
  EXPECT_EQ(rs[7].text, "[unterminated code");
}

TEST(ImapParser, OtherUntaggedData) {
  auto rs = parse_every_way(
      "* ID (\"name\" \"Dovecot\")\r\n"
      "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
      "* ENABLED QRESYNC\r\n"
      "* ESEARCH (TAG \"A5\") UID ALL 1:3,7\r\n"
      "* STATUS \"Sent Items\" (MESSAGES 3 UIDNEXT 4)\r\n"
      "* SEARCH 2 3 5\r\n"
      "* CAPABILITY IMAP4rev1 IDLE\r\n"
      "* 1 fetch (uid 5 body[] {1}\r\nx)\r\n");
  ASSERT_EQ(rs.size(), 8u);
  EXPECT_EQ(rs[1].name, "NAMESPACE");
  EXPECT_TRUE(rs[1].data[1].is_nil());
  EXPECT_EQ(rs[1].data[0].items[0].items[1].text, "/");
  EXPECT_EQ(decode_capabilities(rs[2].data), std::vector<std::string>{"QRESYNC"});
  EXPECT_EQ(rs[4].data[0].text, "Sent Items");
  EXPECT_EQ(rs[5].data.size(), 3u);
  EXPECT_EQ(rs[7].name, "FETCH");
  auto f = decode_fetch(std::move(rs[7]));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->uid, 5u);
  EXPECT_EQ(f->body, "x");
}

TEST(ImapParser, NonSynchronizingAndBinaryLiteralMarkers) {
  auto rs = parse_every_way("* 1 FETCH (BODY[] {3+}\r\nabc BINARY[] ~{2}\r\nzz)\r\n");
  ASSERT_EQ(rs.size(), 1u);
  const auto& items = rs[0].data[0].items;
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[1].text, "abc");
  EXPECT_EQ(items[2].text, "BINARY[]");
  EXPECT_EQ(items[3].text, "zz");
}

TEST(ImapParser, TruncatedInputWaitsForMore) {
  for (std::string_view partial :
       {"* 1 FETCH (UID 1 BODY[] {10}\r\nabc", "* 1 FETCH (UID 1", "* OK [CAP", "A1 OK done\r"}) {
    ResponseParser p;
    p.feed(partial);
    auto r = p.next();
    ASSERT_TRUE(r.ok()) << partial;
    EXPECT_FALSE(*r) << partial;
    EXPECT_EQ(p.pending_bytes(), partial.size()) << partial;
  }
}

TEST(ImapParser, PendingBytesShowDataAfterAResponse) {
  // STARTTLS injection: the server's OK and a forged response arrive in one read.
  ResponseParser p;
  p.feed("A1 OK Begin TLS negotiation now.\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN]\r\n");
  auto r = p.next();
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->tag, "A1");
  EXPECT_GT(p.pending_bytes(), 0u);
}

TEST(ImapParser, ManyResponsesOneFeed) {
  std::string wire;
  for (int i = 1; i <= 500; ++i) wire += "* " + std::to_string(i) + " EXISTS\r\n";
  auto rs = parse_all(wire);
  ASSERT_EQ(rs.size(), 500u);
  EXPECT_EQ(rs.back().number, 500u);
}

TEST(ImapParser, GarbageIsRejected) {
  EXPECT_NE(parse_error("HTTP/1.1 400 Bad Request\r\n"), "");
  EXPECT_NE(parse_error("SSH-2.0-OpenSSH_9.2p1\r\n"), "");
  EXPECT_NE(parse_error("220 mail.example.org ESMTP Postfix\r\n"), "");
  EXPECT_NE(parse_error(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", 13)), "");
  EXPECT_NE(parse_error("* OK bare LF\n"), "");
  EXPECT_NE(parse_error(std::string("* OK nul\0byte\r\n", 15)), "");
  EXPECT_NE(parse_error("* OK cr\rinside\r\n"), "");
  EXPECT_NE(parse_error("\r\n"), "");
  EXPECT_NE(parse_error("*\r\n"), "");
  EXPECT_NE(parse_error("* \r\n"), "");
  EXPECT_NE(parse_error("A1\r\n"), "");
  EXPECT_NE(parse_error("A1 FETCH (UID 1)\r\n"), "");  // tagged data
  EXPECT_NE(parse_error("A1 PREAUTH hello\r\n"), "");
  EXPECT_NE(parse_error("A\"1 OK x\r\n"), "");         // invalid tag
  EXPECT_NE(parse_error("* 1 FETCH (UID 1\r\n"), "");  // unterminated list
  EXPECT_NE(parse_error("* 1 FETCH (UID 1))\r\n"), "");
  EXPECT_NE(parse_error("* LIST () \"/\" \"unterminated\r\n"), "");
  EXPECT_NE(parse_error("* LIST () \"/\" \"bad \\escape\"\r\n"), "");
  EXPECT_NE(parse_error("* 1 FETCH (BODY[ {3}\r\nabc)\r\n"), "");
  EXPECT_NE(parse_error("* 1 FETCH (BODY[] {x}\r\n"), "");
  EXPECT_NE(parse_error("* 1 FETCH (UID {3} 1)\r\n"), "");  // "{3}" mid-line is no literal
  EXPECT_NE(parse_error("* 99999999999 EXISTS\r\n"), "");
  EXPECT_NE(parse_error("* 1 FETCH (UID \x01)\r\n"), "");
  EXPECT_NE(parse_error("* 12\r\n"), "");
  EXPECT_NE(parse_error("* (x)\r\n"), "");
}

TEST(ImapParser, ErrorIsSticky) {
  ResponseParser p;
  p.feed("garbage\r\n* OK fine\r\n");
  EXPECT_FALSE(p.next().ok());
  EXPECT_TRUE(p.failed());
  p.feed("* OK more\r\n");
  EXPECT_FALSE(p.next().ok());
}

TEST(ImapParser, LineLengthIsCapped) {
  ParserLimits limits;
  limits.max_line_bytes = 100;
  EXPECT_EQ(parse_error("* OK " + std::string(95, 'x') + "\r\n", limits), "");
  EXPECT_NE(parse_error("* OK " + std::string(96, 'x') + "\r\n", limits), "");
  // Without any LF the parser must give up once the cap is passed, not buffer forever.
  ResponseParser p(limits);
  p.feed(std::string(50, 'x'));
  EXPECT_TRUE(p.next().ok());
  p.feed(std::string(60, 'x'));
  EXPECT_FALSE(p.next().ok());
}

TEST(ImapParser, LiteralSizeIsCapped) {
  ParserLimits limits;
  limits.max_literal_bytes = 10;
  EXPECT_EQ(parse_error("* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n", limits), "");
  EXPECT_NE(parse_error("* 1 FETCH (BODY[] {11}\r\n", limits), "");
  EXPECT_NE(parse_error("* 1 FETCH (BODY[] {99999999999999999999999}\r\n", limits), "");
  EXPECT_NE(parse_error("* 1 FETCH (BODY[] {18446744073709551615}\r\n"), "");
}

TEST(ImapParser, ResponseSizeIsCapped) {
  ParserLimits limits;
  limits.max_literal_bytes = 10;
  limits.max_response_bytes = 40;
  EXPECT_NE(parse_error("* 1 FETCH (A {10}\r\n0123456789 B {10}\r\n0123456789)\r\n", limits), "");
}

TEST(ImapParser, HugeLiteralAnnouncedButNotSentAllocatesLittle) {
  ResponseParser p;
  p.feed("* 1 FETCH (BODY[] {60000000}\r\nabc");
  auto r = p.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(p.pending_bytes(), std::string("* 1 FETCH (BODY[] {60000000}\r\n").size() + 3);
}

TEST(ImapParser, NestingDepthIsCapped) {
  ParserLimits limits;
  limits.max_depth = 8;
  EXPECT_EQ(parse_error("* X " + std::string(8, '(') + std::string(8, ')') + "\r\n", limits), "");
  EXPECT_NE(parse_error("* X " + std::string(9, '(') + std::string(9, ')') + "\r\n", limits), "");
  // Default limits: deep nesting well inside the line cap is still refused, not recursed.
  EXPECT_NE(parse_error("* X " + std::string(100000, '(') + "\r\n"), "");
}

TEST(ImapParser, ValueCountIsCapped) {
  ParserLimits limits;
  limits.max_values = 10;
  EXPECT_EQ(parse_error("* SEARCH 1 2 3 4 5 6 7 8 9 10\r\n", limits), "");
  EXPECT_NE(parse_error("* SEARCH 1 2 3 4 5 6 7 8 9 10 11\r\n", limits), "");
  EXPECT_NE(parse_error("* X (((((((((((\r\n", limits), "");
}

TEST(ImapParser, DecodersRejectMalformedData) {
  auto one = [](std::string_view wire) { return parse_all(wire).at(0); };
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH UID 5\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (UID)\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (UID x)\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (UID 0)\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (UID 4294967296)\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (UID 99999999999999999999999)\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (FLAGS \\Seen)\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (BODY[] (x))\r\n")).ok());
  EXPECT_FALSE(decode_fetch(one("* 1 FETCH (MODSEQ 5)\r\n")).ok());
  EXPECT_FALSE(decode_list(one("* LIST \"/\" INBOX\r\n")).ok());
  EXPECT_FALSE(decode_list(one("* LIST () \"//\" INBOX\r\n")).ok());
  EXPECT_FALSE(decode_list(one("* LIST () \"/\" NIL\r\n")).ok());
  EXPECT_FALSE(decode_metadata(one("* METADATA \"\" (/private/a)\r\n")).ok());
  EXPECT_FALSE(decode_vanished(one("* VANISHED (LATER) 1\r\n")).ok());
  EXPECT_FALSE(decode_vanished(one("* VANISHED 1:*\r\n")).ok());
  EXPECT_FALSE(decode_vanished(one("* VANISHED 0\r\n")).ok());
}

TEST(ImapParser, SequenceSetCount) {
  EXPECT_EQ(sequence_set_count("1"), 1u);
  EXPECT_EQ(sequence_set_count("1:3,7,9:8"), 6u);
  EXPECT_EQ(sequence_set_count("1:4294967295"), 4294967295u);
  EXPECT_FALSE(sequence_set_count(""));
  EXPECT_FALSE(sequence_set_count("1,"));
  EXPECT_FALSE(sequence_set_count(",1"));
  EXPECT_FALSE(sequence_set_count("1:"));
  EXPECT_FALSE(sequence_set_count("a"));
  EXPECT_FALSE(sequence_set_count("1:*"));
  EXPECT_FALSE(sequence_set_count("1:100", 50));
}

}  // namespace
}  // namespace coibridge::connectors::coi::imap
