// send_mail against the real mail stack (scripts/stack: Postfix in front of Dovecot), checking
// delivery in the recipients' Maildirs. Needs the STACK_* variables of the stack's env.sh;
// without them every test fails (never skips):
//   scripts/stack up /tmp/stk && source /tmp/stk/env.sh && ctest -L e2e

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/coi/smtp/smtp_client.hpp"

namespace coibridge::connectors::coi::smtp {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::ErrorKind;
using core::Status;
using namespace std::chrono_literals;

struct Stack {
  std::string host;
  std::uint16_t smtp_port = 0, submission_port = 0, submissions_port = 0;
  std::string ca_file, domain, mail_dir;
  std::uint64_t size_limit = 0;
};

// Reads the stack's variables; names the missing ones in `missing`.
Stack read_stack(std::vector<std::string>& missing) {
  auto get = [&](const char* name) -> std::string {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') {
      missing.emplace_back(name);
      return {};
    }
    return v;
  };
  auto port = [&](const char* name) -> std::uint16_t {
    const std::string v = get(name);
    return v.empty() ? 0 : static_cast<std::uint16_t>(std::stoul(v));
  };
  Stack s;
  const char* host = std::getenv("STACK_HOST");
  s.host = host != nullptr && *host != '\0' ? host : "127.0.0.1";
  s.smtp_port = port("STACK_SMTP_PORT");
  s.submission_port = port("STACK_SUBMISSION_PORT");
  s.submissions_port = port("STACK_SUBMISSIONS_PORT");
  s.ca_file = get("STACK_CA_FILE");
  s.domain = get("STACK_DOMAIN");
  const std::string dir = get("STACK_DIR");
  const char* mail_dir = std::getenv("STACK_MAIL_DIR");
  s.mail_dir = mail_dir != nullptr && *mail_dir != '\0' ? mail_dir : dir + "/mail";
  const char* limit = std::getenv("STACK_MESSAGE_SIZE_LIMIT");
  s.size_limit = limit != nullptr && *limit != '\0' ? std::stoull(limit) : 10240000;
  return s;
}

Status send(const SmtpEndpoint& ep, const Envelope& env, const std::string& message) {
  asio::io_context io;
  std::optional<Status> out;
  asio::co_spawn(io, send_mail(io.get_executor(), ep, env, message),
                 [&](std::exception_ptr e, Status s) {
                   if (e) std::rethrow_exception(e);
                   out = std::move(s);
                 });
  io.run();
  return *out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string unique_id(std::string_view what) {
  static std::atomic<int> n{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch().count();
  return std::string(what) + "." + std::to_string(now) + "." + std::to_string(++n) +
         "@coi-bridge.test";
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Dovecot stores messages with LF line endings.
std::string lf(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

class SmtpE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> missing;
    stack_ = read_stack(missing);
    if (!missing.empty()) {
      std::string names;
      for (const auto& m : missing) names += " " + m;
      FAIL() << "the mail stack is not configured (missing:" << names
             << "). Start it with `scripts/stack up DIR` and `source DIR/env.sh` first "
                "(scripts/test does this).";
    }
  }

  std::string address(std::string_view user) const {
    return std::string(user) + "@" + stack_.domain;
  }

  SmtpEndpoint smtp(TlsMode tls = TlsMode::kNone) const {
    SmtpEndpoint ep;
    ep.host = stack_.host;
    ep.port = stack_.smtp_port;
    ep.tls = tls;
    ep.ca_file = stack_.ca_file;
    ep.tls_server_name = "localhost";  // the stack's certificate names localhost
    ep.timeout = 10s;
    return ep;
  }

  // A message with a Message-ID to find it by.
  std::string message(const std::string& id, const std::string& to, const std::string& body) {
    return "From: Bridge <" + address("bridge") + ">\nTo: " + to + "\nSubject: e2e " + id +
           "\nMessage-ID: <" + id +
           ">\nMIME-Version: 1.0\nContent-Type: text/plain; "
           "charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" +
           body;
  }

  // The delivered file of message `id` in `user`'s Maildir, waiting up to `wait`.
  std::optional<std::string> delivered(std::string_view user, const std::string& id,
                                       std::chrono::milliseconds wait = 10s) {
    const fs::path maildir = fs::path(stack_.mail_dir) / std::string(user) / "Maildir";
    const std::string needle = "Message-ID: <" + id + ">";
    const auto end = std::chrono::steady_clock::now() + wait;
    do {
      for (const char* sub : {"new", "cur"}) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(maildir / sub, ec)) {
          std::string text = read_file(e.path());
          if (contains(text, needle)) return text;
        }
      }
      std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < end);
    return std::nullopt;
  }

  Stack stack_;
};

// The body as the composer would write it: bare LF endings, lines starting with dots (one
// of them a lone "." that would end DATA if not stuffed), and 8-bit UTF-8.
const std::string kBody =
    ".leading dot\n"
    "..two dots\n"
    ".\n"
    "Gr\xc3\xbc\xc3\x9f"
    "e aus K\xc3\xb6ln \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x93\xa8\n"
    "last line\n";

TEST_F(SmtpE2eTest, PlaintextDeliversBodyIntact) {
  const std::string id = unique_id("plain");
  auto st = send(smtp(TlsMode::kNone), {address("bridge"), {address("alice")}},
                 message(id, address("alice"), kBody));
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto got = delivered("alice", id);
  ASSERT_TRUE(got) << "not delivered to alice";
  const std::string text = lf(*got);
  EXPECT_TRUE(contains(text, "\n\n" + kBody)) << text;
}

TEST_F(SmtpE2eTest, StartTlsWithVerifiedCertificate) {
  const std::string id = unique_id("starttls");
  auto st = send(smtp(TlsMode::kStartTls), {address("bridge"), {address("alice")}},
                 message(id, address("alice"), kBody));
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto got = delivered("alice", id);
  ASSERT_TRUE(got) << "not delivered to alice";
  EXPECT_TRUE(contains(lf(*got), "\n\n" + kBody));
  // smtpd_tls_received_header: Postfix records the TLS session in its Received line.
  EXPECT_TRUE(contains(*got, "(using TLSv1.")) << *got;
}

TEST_F(SmtpE2eTest, StartTlsVerifiesTheHostNameLocalhost) {
  auto ep = smtp(TlsMode::kStartTls);
  ep.host = "localhost";
  ep.tls_server_name.clear();  // verify the host name itself
  const std::string id = unique_id("localhost");
  auto st = send(ep, {address("bridge"), {address("alice")}}, message(id, address("alice"), "x\n"));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_TRUE(delivered("alice", id));
}

TEST_F(SmtpE2eTest, SubmissionWithStartTlsAndAuth) {
  auto ep = smtp(TlsMode::kStartTls);
  ep.port = stack_.submission_port;
  ep.username = address("bob");
  ep.password = "bobpw";
  const std::string id = unique_id("submission");
  auto st = send(ep, {address("bob"), {address("alice"), address("carol")}},
                 message(id, address("alice"), kBody));
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto alice = delivered("alice", id);
  auto carol = delivered("carol", id);
  ASSERT_TRUE(alice && carol);
  // ESMTPSA: authenticated and encrypted (RFC 3848).
  EXPECT_TRUE(contains(*alice, "with ESMTPSA")) << *alice;
  EXPECT_TRUE(contains(lf(*carol), "\n\n" + kBody));
}

TEST_F(SmtpE2eTest, ImplicitTlsSubmissionsWithAuth) {
  auto ep = smtp(TlsMode::kImplicit);
  ep.port = stack_.submissions_port;
  ep.username = "dave";
  ep.password = "davepw";
  const std::string id = unique_id("submissions");
  auto st = send(ep, {address("dave"), {address("alice")}}, message(id, address("alice"), kBody));
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto got = delivered("alice", id);
  ASSERT_TRUE(got);
  EXPECT_TRUE(contains(*got, "with ESMTPSA")) << *got;
}

TEST_F(SmtpE2eTest, SubmissionRefusesWithoutAuth) {
  auto ep = smtp(TlsMode::kStartTls);
  ep.port = stack_.submission_port;
  auto st = send(ep, {address("bob"), {address("alice")}},
                 message(unique_id("noauth"), address("alice"), "x\n"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  EXPECT_TRUE(contains(st.error().message, "554 5.7.1")) << st.error().message;
}

TEST_F(SmtpE2eTest, WrongPasswordIsRetryableAndNotShown) {
  auto ep = smtp(TlsMode::kStartTls);
  ep.port = stack_.submission_port;
  ep.username = address("bob");
  ep.password = "not-bobs-password";
  auto st = send(ep, {address("bob"), {address("alice")}},
                 message(unique_id("badpw"), address("alice"), "x\n"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "AUTH PLAIN refused: 535")) << st.error().message;
  EXPECT_FALSE(contains(st.error().message, "not-bobs-password"));
}

TEST_F(SmtpE2eTest, PlusAddressReachesTheBridgeInbox) {
  const std::string id = unique_id("plus");
  const std::string to = "bridge+slack.u1@" + stack_.domain;
  auto st = send(smtp(), {address("alice"), {to}}, message(id, to, "to a puppet\n"));
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto got = delivered("bridge", id);
  ASSERT_TRUE(got) << "not delivered to bridge's INBOX";
  EXPECT_TRUE(contains(*got, "Delivered-To: " + to)) << *got;
}

TEST_F(SmtpE2eTest, UnknownRecipientIsPermanentAndNothingIsSent) {
  const std::string id = unique_id("unknown");
  const std::string nobody = address("nobody-here");
  auto st = send(smtp(), {address("bridge"), {address("alice"), nobody}},
                 message(id, address("alice"), "x\n"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  EXPECT_TRUE(contains(st.error().message, "RCPT TO:<" + nobody + "> refused: 550 5.1.1"))
      << st.error().message;
  EXPECT_TRUE(contains(st.error().message, "User unknown in virtual mailbox table"))
      << st.error().message;
  // Postfix answered the pipelined DATA with 354 (alice was accepted); the client dropped the
  // connection instead of sending, so alice gets nothing.
  EXPECT_FALSE(delivered("alice", id, 1500ms));
}

TEST_F(SmtpE2eTest, MessageOverTheServersSizeIsRefusedBeforeData) {
  const std::string id = unique_id("big");
  // 11 MB of 7-bit lines, over the stack's 10240000-byte limit.
  std::string body;
  const std::string line(998, 'x');
  while (body.size() < 11'000'000) body += line + "\n";
  const std::string msg = message(id, address("alice"), body);
  auto st = send(smtp(), {address("bridge"), {address("alice")}}, msg);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  std::size_t crlf_size = msg.size();
  for (char c : msg) crlf_size += c == '\n' ? 1 : 0;
  EXPECT_TRUE(contains(st.error().message, "message of " + std::to_string(crlf_size) +
                                               " bytes exceeds the server's limit of " +
                                               std::to_string(stack_.size_limit) + " bytes"))
      << st.error().message;
  // Refused after EHLO, before MAIL FROM (smtp_client_test's
  // MessageOverTheSizeLimitIsRefusedBeforeMail shows no MAIL or DATA is sent).
  EXPECT_FALSE(delivered("alice", id, 500ms));
}

TEST_F(SmtpE2eTest, UntrustedCertificateIsRefusedAndNothingSent) {
  auto ep = smtp(TlsMode::kStartTls);
  ep.ca_file.clear();  // the system store does not know the stack's CA
  const std::string id = unique_id("untrusted");
  auto st = send(ep, {address("bridge"), {address("alice")}}, message(id, address("alice"), "x\n"));
  ASSERT_FALSE(st.ok());
  // kUnavailable: a TLS failure is about the connection, not this message (see smtp_client.hpp).
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "TLS handshake failed")) << st.error().message;
  EXPECT_TRUE(contains(st.error().message, "certificate verify failed")) << st.error().message;
  EXPECT_TRUE(contains(st.error().message, "unable to get local issuer certificate"))
      << st.error().message;
  EXPECT_FALSE(delivered("alice", id, 1s));
}

TEST_F(SmtpE2eTest, WrongHostNameIsRefusedOverImplicitTls) {
  auto ep = smtp(TlsMode::kImplicit);
  ep.port = stack_.submissions_port;
  ep.tls_server_name = "mail.example.net";
  ep.username = "dave";
  ep.password = "davepw";
  const std::string id = unique_id("wrongname");
  auto st = send(ep, {address("dave"), {address("alice")}}, message(id, address("alice"), "x\n"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "not valid for the name \"mail.example.net\""))
      << st.error().message;
  EXPECT_FALSE(delivered("alice", id, 1s));
}

TEST_F(SmtpE2eTest, VerificationOffAcceptsAnyName) {
  auto ep = smtp(TlsMode::kStartTls);
  ep.ca_file.clear();
  ep.tls_server_name = "mail.example.net";
  ep.verify_peer = false;
  const std::string id = unique_id("noverify");
  auto st = send(ep, {address("bridge"), {address("alice")}}, message(id, address("alice"), "x\n"));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_TRUE(delivered("alice", id));
}

TEST_F(SmtpE2eTest, ImplicitTlsAgainstAPlaintextPortFails) {
  auto ep = smtp(TlsMode::kImplicit);  // the SMTP port speaks plaintext first
  ep.timeout = 3s;
  auto st = send(ep, {address("bridge"), {address("alice")}},
                 message(unique_id("mismatch"), address("alice"), "x\n"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "TLS handshake")) << st.error().message;
}

TEST_F(SmtpE2eTest, ServerDownIsTransient) {
  auto ep = smtp();
  ep.port = 1;  // nothing listens on tcpmux
  auto st = send(ep, {address("bridge"), {address("alice")}},
                 message(unique_id("down"), address("alice"), "x\n"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "connect failed: Connection refused"))
      << st.error().message;
  // Nothing about this mail: the delivery scheduler waits without counting an attempt.
  EXPECT_TRUE(st.error().unreachable);
}

}  // namespace
}  // namespace coibridge::connectors::coi::smtp
