// The socket-free SMTP pieces: reply parsing, EHLO capabilities, DATA encoding, AUTH PLAIN.

#include "connectors/coi/smtp/smtp_reply.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/text/base64.hpp"

namespace coibridge::connectors::coi::smtp {
namespace {

using core::ErrorKind;

TEST(ParseReply, SingleLine) {
  auto r = parse_reply("220 mail.example.org ESMTP ready\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.reply.code, 220);
  EXPECT_EQ(r.reply.kind(), 2);
  ASSERT_EQ(r.reply.lines.size(), 1u);
  EXPECT_EQ(r.reply.lines[0], "mail.example.org ESMTP ready");
  EXPECT_EQ(r.consumed, 34u);
}

TEST(ParseReply, CodeOnlyAndBareLf) {
  auto r = parse_reply("250\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.reply.code, 250);
  ASSERT_EQ(r.reply.lines.size(), 1u);
  EXPECT_EQ(r.reply.lines[0], "");
  EXPECT_EQ(r.consumed, 4u);
}

TEST(ParseReply, MultiLine) {
  const std::string in =
      "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n";
  auto r = parse_reply(in);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.reply.code, 250);
  EXPECT_EQ(r.reply.lines, (std::vector<std::string>{"mail.example.org", "PIPELINING",
                                                     "SIZE 10240000", "8BITMIME"}));
  EXPECT_EQ(r.consumed, in.size());
}

TEST(ParseReply, IncompleteNeedsMore) {
  EXPECT_EQ(parse_reply("").status, ParseStatus::kNeedMore);
  EXPECT_EQ(parse_reply("25").status, ParseStatus::kNeedMore);
  EXPECT_EQ(parse_reply("250 ok").status, ParseStatus::kNeedMore);
  EXPECT_EQ(parse_reply("250-first\r\n250-second\r\n").status, ParseStatus::kNeedMore);
  EXPECT_EQ(parse_reply("250-first\r\n250 la").status, ParseStatus::kNeedMore);
}

TEST(ParseReply, PipelinedRepliesAreTakenOneAtATime) {
  std::string in = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n";
  std::vector<int> codes;
  while (true) {
    auto r = parse_reply(in);
    if (r.status != ParseStatus::kComplete) {
      EXPECT_EQ(r.status, ParseStatus::kNeedMore);
      break;
    }
    codes.push_back(r.reply.code);
    in.erase(0, r.consumed);
  }
  EXPECT_EQ(codes, (std::vector<int>{250, 250, 354}));
  EXPECT_TRUE(in.empty());
}

TEST(ParseReply, Garbage) {
  for (const char* in :
       {"hello\r\n", "2x0 ok\r\n", "25\r\n", "250ok\r\n", "650 six\r\n", "160 one\r\n",
        "2500 four digits\r\n", "\r\n", "-250 x\r\n", "260 second digit\r\n", "250_x\r\n"}) {
    auto r = parse_reply(in);
    EXPECT_EQ(r.status, ParseStatus::kMalformed) << in;
    EXPECT_FALSE(r.error.empty()) << in;
  }
}

TEST(ParseReply, GarbageLineIsShownWithoutControlCharacters) {
  auto r = parse_reply(std::string("\x1b[31mboo\x01\r\n"));
  ASSERT_EQ(r.status, ParseStatus::kMalformed);
  EXPECT_EQ(r.error.find('\x1b'), std::string::npos);
  EXPECT_NE(r.error.find("?[31mboo?"), std::string::npos) << r.error;
}

TEST(ParseReply, CodeMustNotChangeWithinAReply) {
  auto r = parse_reply("250-one\r\n251 two\r\n");
  EXPECT_EQ(r.status, ParseStatus::kMalformed);
}

TEST(ParseReply, GarbageAfterAValidReplyIsTheNextReplysProblem) {
  auto r = parse_reply("250 ok\r\nnonsense\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(parse_reply(std::string_view("nonsense\r\n")).status, ParseStatus::kMalformed);
}

TEST(ParseReply, EndlessContinuationLinesAreCutAtTheLimit) {
  std::string in;
  while (in.size() <= kMaxReplyBytes) in += "250-" + std::string(100, 'x') + "\r\n";
  auto r = parse_reply(in);
  EXPECT_EQ(r.status, ParseStatus::kTooLarge);
  EXPECT_NE(r.error.find("65536"), std::string::npos) << r.error;
}

TEST(ParseReply, EndlessLineWithoutNewlineIsCutAtTheLimit) {
  EXPECT_EQ(parse_reply(std::string(kMaxReplyBytes, '2')).status, ParseStatus::kNeedMore);
  EXPECT_EQ(parse_reply(std::string(kMaxReplyBytes + 1, '2')).status, ParseStatus::kTooLarge);
}

TEST(ParseReply, ReplyOfExactlyTheLimitIsAccepted) {
  std::string in = "250 ";
  in += std::string(kMaxReplyBytes - in.size() - 2, 'y');
  in += "\r\n";
  ASSERT_EQ(in.size(), kMaxReplyBytes);
  EXPECT_EQ(parse_reply(in).status, ParseStatus::kComplete);
  in.insert(4, "y");
  EXPECT_EQ(parse_reply(in).status, ParseStatus::kTooLarge);
}

TEST(ReplySummary, JoinsLinesStripsControlsAndTruncates) {
  Reply r{550, {"5.1.1 <x@example.org>: unknown", "second\tline\x07"}};
  EXPECT_EQ(r.summary(), "550 5.1.1 <x@example.org>: unknown / second?line?");
  Reply big{250, {std::string(2000, 'z')}};
  EXPECT_EQ(big.summary(100).size(), 103u);
}

Reply ehlo(std::vector<std::string> lines) { return Reply{250, std::move(lines)}; }

TEST(ParseEhlo, PostfixCapabilities) {
  auto caps = parse_ehlo(
      ehlo({"mail.example.org", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS",
            "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}));
  EXPECT_TRUE(caps.esmtp);
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.starttls);
  EXPECT_TRUE(caps.eightbitmime);
  EXPECT_TRUE(caps.smtputf8);
  EXPECT_TRUE(caps.size);
  EXPECT_EQ(caps.size_limit, 10240000u);
  EXPECT_TRUE(caps.has_auth("PLAIN"));
  EXPECT_TRUE(caps.has_auth("login"));
  EXPECT_FALSE(caps.has_auth("CRAM-MD5"));
}

TEST(ParseEhlo, GreetingLineIsNotACapability) {
  auto caps = parse_ehlo(ehlo({"STARTTLS pretends to be a host name"}));
  EXPECT_FALSE(caps.starttls);
}

TEST(ParseEhlo, KeywordsAreCaseInsensitiveAndOldAuthFormIsRead) {
  auto caps =
      parse_ehlo(ehlo({"host", "pipelining", "StartTLS", "auth=login cram-md5", "AUTH plain"}));
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.starttls);
  EXPECT_EQ(caps.auth_mechanisms, (std::vector<std::string>{"LOGIN", "CRAM-MD5", "PLAIN"}));
}

TEST(ParseEhlo, SizeWithoutLimitOrGarbled) {
  auto none = parse_ehlo(ehlo({"host", "SIZE"}));
  EXPECT_TRUE(none.size);
  EXPECT_EQ(none.size_limit, 0u);
  auto zero = parse_ehlo(ehlo({"host", "SIZE 0"}));
  EXPECT_EQ(zero.size_limit, 0u);
  auto garbled = parse_ehlo(ehlo({"host", "SIZE 12ab"}));
  EXPECT_TRUE(garbled.size);
  EXPECT_EQ(garbled.size_limit, 0u);
  auto huge = parse_ehlo(ehlo({"host", "SIZE 99999999999999999999999"}));
  EXPECT_EQ(huge.size_limit, 0u);
}

TEST(ParseEhlo, NothingOffered) {
  auto caps = parse_ehlo(ehlo({"host"}));
  EXPECT_TRUE(caps.esmtp);
  EXPECT_FALSE(caps.pipelining || caps.starttls || caps.size || caps.eightbitmime);
  EXPECT_TRUE(caps.auth_mechanisms.empty());
}

TEST(Data, BareLfAndBareCrBecomeCrlf) {
  EXPECT_EQ(normalize_line_endings("a\nb\r\nc\rd"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(normalize_line_endings("a\r\n"), "a\r\n");
  EXPECT_EQ(normalize_line_endings("a\n\n"), "a\r\n\r\n");
  EXPECT_EQ(normalize_line_endings(""), "\r\n");
  EXPECT_EQ(normalize_line_endings("\r\r\n"), "\r\n\r\n");
}

TEST(Data, DotStuffing) {
  EXPECT_EQ(dot_stuff("a\r\n.b\r\n..c\r\nd.e\r\n.\r\n"), "a\r\n..b\r\n...c\r\nd.e\r\n..\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".first\r\n"), "..first\r\n.\r\n");
  EXPECT_EQ(dot_stuff("x\r\n"), "x\r\n.\r\n");
}

TEST(Data, NormalizedAndStuffedMessageCannotEndEarly) {
  // A lone "." line inside the message, written with bare LFs, must not end DATA.
  const std::string data = dot_stuff(normalize_line_endings("Subject: x\n\nbody\n.\nmore"));
  EXPECT_EQ(data, "Subject: x\r\n\r\nbody\r\n..\r\nmore\r\n.\r\n");
  EXPECT_EQ(data.find("\r\n.\r\n"), data.size() - 5);
}

TEST(Data, EightBit) {
  EXPECT_FALSE(has_8bit("plain ascii\r\n"));
  EXPECT_TRUE(has_8bit("gr\xc3\xbc\xc3\x9f"));  // "grüß"
  EXPECT_TRUE(has_8bit("\x80"));
}

TEST(Auth, PlainResponse) {
  // RFC 4616 §4 example: authzid empty, authcid "tim", password "tanstaaftanstaaf".
  EXPECT_EQ(auth_plain_response("tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  EXPECT_EQ(auth_plain_response("alice@example.org", "alicepw"),
            core::base64_encode(std::string("\0alice@example.org\0alicepw", 26)));
}

TEST(Commands, MailFromParameters) {
  EXPECT_EQ(mail_from_command("a@example.org", {}), "MAIL FROM:<a@example.org>\r\n");
  EXPECT_EQ(mail_from_command("", {}), "MAIL FROM:<>\r\n");
  MailParams p;
  p.size = 1234;
  p.body_8bitmime = true;
  p.smtputf8 = true;
  EXPECT_EQ(mail_from_command("a@example.org", p),
            "MAIL FROM:<a@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n");
  EXPECT_EQ(rcpt_to_command("bridge+slack.u1@example.org"),
            "RCPT TO:<bridge+slack.u1@example.org>\r\n");
}

TEST(Commands, AddressesCannotInjectCommands) {
  EXPECT_TRUE(valid_address("bridge+slack.u1@example.org", false));
  EXPECT_TRUE(valid_address("j\xc3\xb6rg@example.org", false));
  EXPECT_TRUE(valid_address("", true));
  EXPECT_FALSE(valid_address("", false));
  EXPECT_FALSE(valid_address("a@example.org>\r\nRCPT TO:<evil@example.org", false));
  EXPECT_FALSE(valid_address("a@example.org\n", false));
  EXPECT_FALSE(valid_address("a b@example.org", false));
  EXPECT_FALSE(valid_address("<a@example.org>", false));
  EXPECT_FALSE(valid_address(std::string(257, 'a'), false));
  EXPECT_TRUE(valid_helo_name("localhost"));
  EXPECT_TRUE(valid_helo_name("[127.0.0.1]"));
  EXPECT_FALSE(valid_helo_name("host\r\nQUIT"));
  EXPECT_FALSE(valid_helo_name(""));
}

TEST(Errors, ReplyKindsMapToErrorKinds) {
  auto perm = error_from_reply("h:25", "RCPT TO:<x@example.org>",
                               Reply{550, {"5.1.1 <x@example.org>: User unknown"}});
  EXPECT_EQ(perm.kind, ErrorKind::kPermanent);
  EXPECT_EQ(perm.message,
            "SMTP h:25: RCPT TO:<x@example.org> refused: 550 5.1.1 <x@example.org>: User unknown");
  auto temp = error_from_reply("h:25", "MAIL FROM:<>", Reply{451, {"4.3.0 try later"}});
  EXPECT_EQ(temp.kind, ErrorKind::kUnavailable);
  EXPECT_NE(temp.message.find("451 4.3.0 try later"), std::string::npos);
  auto odd = error_from_reply("h:25", "DATA", Reply{250, {"ok?"}});
  EXPECT_EQ(odd.kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace coibridge::connectors::coi::smtp
