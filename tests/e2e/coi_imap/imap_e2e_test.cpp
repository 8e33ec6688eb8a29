// ImapSession against real Dovecot and Postfix (scripts/stack; the STACK_* variables come from
// the stack's env.sh). Mail is delivered by SMTP to Postfix, which hands it to Dovecot over
// LMTP (straight by LMTP when Postfix does not know a fresh account yet, see deliver()).
// Each test gets a fresh account (scripts/stack add-user), so mailboxes start empty and
// tests running side by side do not wake each other's IDLE.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "connectors/coi/imap/imap_session.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::connectors::coi::imap {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using coibridge::testing::run_awaitable;

// A missing variable fails the test: e2e tests never skip silently.
std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string(name) +
                             " is not set: start the mail stack (scripts/stack up DIR) and "
                             "source DIR/env.sh, or run the e2e tests through scripts/test");
  }
  return v;
}

std::uint16_t env_port(const char* name) {
  return static_cast<std::uint16_t>(std::stoi(env(name)));
}

int sh(const std::string& command) { return std::system(command.c_str()); }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Blocking SMTP (RFC 5321) to the stack's Postfix, where loopback clients need no AUTH, or
// LMTP (RFC 2033) straight to Dovecot. `message` uses CRLF line ends; dot-stuffing (§4.5.2)
// is done here.
void smtp_send(const std::string& from, const std::string& to, const std::string& message,
               bool lmtp = false) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address(env("STACK_HOST")),
             env_port(lmtp ? "STACK_LMTP_PORT" : "STACK_SMTP_PORT")});
  std::string buf;
  auto reply = [&] {
    for (;;) {
      const std::size_t n = asio::read_until(s, asio::dynamic_buffer(buf), "\r\n");
      const std::string line = buf.substr(0, n);
      buf.erase(0, n);
      if (line.size() >= 4 && line[3] == ' ') return std::stoi(line.substr(0, 3));
    }
  };
  auto expect = [&](int code, const std::string& what) {
    const int got = reply();
    if (got != code) throw std::runtime_error("SMTP " + what + ": " + std::to_string(got));
  };
  auto cmd = [&](const std::string& c, int code) {
    asio::write(s, asio::buffer(c + "\r\n"));
    expect(code, c);
  };
  expect(220, "greeting");
  cmd(lmtp ? "LHLO test.example.org" : "EHLO test.example.org", 250);
  cmd("MAIL FROM:<" + from + "> BODY=8BITMIME", 250);
  cmd("RCPT TO:<" + to + ">", 250);
  cmd("DATA", 354);
  std::string data;
  data.reserve(message.size() + 1024);
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t end = message.find("\r\n", pos);
    end = end == std::string::npos ? message.size() : end + 2;
    if (message[pos] == '.') data += '.';
    data.append(message, pos, end - pos);
    pos = end;
  }
  data += ".\r\n";
  asio::write(s, asio::buffer(data));
  expect(250, "end of data");
  cmd("QUIT", 221);
}

std::string crlf(std::string_view lf_text) {
  std::string out;
  for (char c : lf_text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

class ImapE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    user_ = "im" + std::to_string(rd() % 1000000);
    password_ = user_ + "pw";
    const std::string stack = std::string(COIBRIDGE_SOURCE_DIR) + "/scripts/stack";
    ASSERT_EQ(
        sh(stack + " add-user " + env("STACK_DIR") + " " + user_ + " " + password_ + " >/dev/null"),
        0);
  }

  std::string address() const { return user_ + "@" + env("STACK_DOMAIN"); }

  // STARTTLS on the IMAP port, the stack's CA, the certificate's host name.
  ImapEndpoint starttls() const {
    ImapEndpoint ep;
    ep.host = env("STACK_HOST");
    ep.port = env_port("STACK_IMAP_PORT");
    ep.tls = TlsMode::kStartTls;
    ep.ca_file = env("STACK_CA_FILE");
    ep.tls_server_name = env("STACK_TLS_NAME");
    ep.username = address();
    ep.password = password_;
    ep.timeout = 10s;
    return ep;
  }

  ImapEndpoint implicit_tls() const {
    ImapEndpoint ep = starttls();
    ep.port = env_port("STACK_IMAPS_PORT");
    ep.tls = TlsMode::kImplicit;
    return ep;
  }

  std::string message(const std::string& id, const std::string& headers, const std::string& body) {
    return "From: Sender <alice@" + env("STACK_DOMAIN") + ">\r\nTo: <" + address() +
           ">\r\nSubject: test " + id + "\r\nMessage-ID: <" + id +
           "@test.example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n" + headers + "\r\n" +
           body;
  }

  // By SMTP through Postfix. A fresh account can be refused there ("User unknown in virtual
  // mailbox table"): an smtpd process notices a rebuilt recipient table only when its mtime,
  // in whole seconds, differs from when it opened it, so an account added within that same
  // second stays unknown to it until it exits. After a few refusals, deliver by LMTP to
  // Dovecot instead: this test is about IMAP, not about Postfix.
  void deliver(const std::string& msg) {
    for (int attempt = 1;; ++attempt) {
      try {
        smtp_send("alice@" + env("STACK_DOMAIN"), address(), msg, attempt > 4);
        return;
      } catch (const std::exception& e) {
        if (attempt >= 6) throw;
        std::this_thread::sleep_for(250ms);
      }
    }
  }

  // The files Dovecot stored for our user, oldest first (Maildir names start with the time).
  std::vector<std::string> maildir_files() {
    std::vector<fs::path> paths;
    const fs::path md = fs::path(env("STACK_MAIL_DIR")) / user_ / "Maildir";
    for (const char* sub : {"new", "cur"}) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(md / sub, ec)) paths.push_back(e.path());
    }
    std::sort(paths.begin(), paths.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
    std::vector<std::string> out;
    for (const auto& p : paths) out.push_back(read_file(p));
    return out;
  }

  // Fetches from `from` until `count` messages came (delivery takes a few ms) or 15 s passed.
  static asio::awaitable<std::vector<FetchedMessage>> fetch_until(ImapSession& s,
                                                                  std::uint32_t from,
                                                                  std::size_t count) {
    std::vector<FetchedMessage> all;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto r = co_await s.fetch_from(from, 100);
      EXPECT_TRUE(r.ok()) << r.error().message;
      if (!r.ok()) break;
      for (auto& m : *r) {
        from = m.uid + 1;
        all.push_back(std::move(m));
      }
      if (all.size() < count) co_await sleep_for(100ms);
    }
    co_return all;
  }

  std::string user_, password_;
};

TEST_F(ImapE2eTest, StartTlsWithVerificationAndLogout) {
  auto [ok, caps] = run_awaitable([&]() -> asio::awaitable<std::pair<bool, std::string>> {
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, starttls());
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) co_return std::pair{false, std::string()};
    std::string joined;
    for (const auto& c : (*s)->capabilities()) joined += c + " ";
    EXPECT_TRUE((co_await (*s)->logout()).ok());
    co_return std::pair{true, joined};
  }());
  EXPECT_TRUE(ok);
  // Post-login capabilities (the list before login has no IDLE details such as METADATA).
  EXPECT_NE(caps.find("IDLE"), std::string::npos) << caps;
  EXPECT_NE(caps.find("METADATA"), std::string::npos) << caps;
  EXPECT_EQ(caps.find("STARTTLS"), std::string::npos) << caps;  // not offered after TLS
}

TEST_F(ImapE2eTest, ImplicitTlsWithVerification) {
  auto ok = run_awaitable([&]() -> asio::awaitable<bool> {
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, implicit_tls());
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) co_return false;
    co_return (*s)->has_capability("IDLE") && (co_await (*s)->noop()).ok();
  }());
  EXPECT_TRUE(ok);
}

TEST_F(ImapE2eTest, CertificateProblemsAreRefused) {
  // Another CA, made here: the server's certificate does not chain to it.
  char tmpl[] = "/tmp/imca.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  ASSERT_EQ(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
               "-subj /CN=Other-CA -keyout " +
               dir + "/k.pem -out " + dir + "/ca.pem 2>/dev/null"),
            0);
  auto results = run_awaitable([&]() -> asio::awaitable<std::vector<core::Error>> {
    std::vector<core::Error> errors;
    auto ex = co_await asio::this_coro::executor;
    ImapEndpoint wrong_ca = implicit_tls();
    wrong_ca.ca_file = dir + "/ca.pem";
    ImapEndpoint system_store = starttls();  // the system CAs do not know the stack's CA
    system_store.ca_file.clear();
    ImapEndpoint wrong_name = implicit_tls();  // right CA, but not the name in the certificate
    wrong_name.tls_server_name = "imap.wrong.example";
    ImapEndpoint missing_ca = implicit_tls();
    missing_ca.ca_file = dir + "/absent.pem";
    for (const ImapEndpoint& ep : {wrong_ca, system_store, wrong_name, missing_ca}) {
      auto s = co_await ImapSession::connect(ex, ep);
      EXPECT_FALSE(s.ok());
      errors.push_back(s.ok() ? core::Error::internal("connected") : s.error());
    }
    co_return errors;
  }());
  fs::remove_all(dir);
  ASSERT_EQ(results.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(results[i].kind, core::ErrorKind::kPermanent) << results[i].message;
    EXPECT_NE(results[i].message.find("certificate"), std::string::npos) << results[i].message;
  }
  EXPECT_EQ(results[3].kind, core::ErrorKind::kInvalidArgument) << results[3].message;
  EXPECT_EQ(results[3].field, "ca_file");
}

TEST_F(ImapE2eTest, WrongPasswordIsPermanent) {
  auto err = run_awaitable([&]() -> asio::awaitable<core::Error> {
    ImapEndpoint ep = starttls();
    ep.password = "not-the-password";
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, ep);
    co_return s.ok() ? core::Error::internal("logged in") : s.error();
  }());
  EXPECT_EQ(err.kind, core::ErrorKind::kPermanent) << err.message;
  EXPECT_NE(err.message.find("AUTHENTICATIONFAILED"), std::string::npos) << err.message;
  EXPECT_EQ(err.message.find("not-the-password"), std::string::npos);
}

TEST_F(ImapE2eTest, SelectAndFetchBodiesByteIdentical) {
  const std::string plain = message("plain", "",
                                    "Body with (parentheses) and \"quotes\" and a brace {5}\r\n"
                                    ".a line starting with a dot\r\n"
                                    "* 1 FETCH (UID 99 BODY[] {3}\r\n"
                                    "last line\r\n");
  const std::string eight_bit =
      message("8bit",
              "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 8bit\r\n",
              "Gr\xc3\xbc\xc3\x9f"
              "e \xe2\x98\x83 caf\xc3\xa9 and a Latin-1 byte: \xe9\r\n");
  std::string big_body;
  big_body.reserve(5 * 1024 * 1024 + 100);
  for (std::size_t i = 0; big_body.size() < 5 * 1024 * 1024; ++i) {
    std::string line(76, static_cast<char>('A' + i % 26));
    line.replace(0, std::to_string(i).size(), std::to_string(i));
    big_body += line + "\r\n";
  }
  const std::string big = message("big", "", big_body);
  const std::vector<std::string> sent{plain, eight_bit, big};
  for (const auto& m : sent) deliver(m);

  struct Out {
    MailboxState state;
    std::vector<FetchedMessage> messages;
    std::size_t again = 99;
  };
  Out out = run_awaitable([&]() -> asio::awaitable<Out> {
    Out o;
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, implicit_tls());
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) co_return o;
    auto st = co_await (*s)->select("INBOX");
    EXPECT_TRUE(st.ok()) << st.error().message;
    if (!st.ok()) co_return o;
    o.state = *st;
    o.messages = co_await fetch_until(**s, 1, 3);
    if (!o.messages.empty()) {
      auto r = co_await (*s)->fetch_from(o.messages.back().uid + 1, 10);
      if (r.ok()) o.again = r->size();
    }
    co_return o;
  }());

  EXPECT_NE(out.state.uidvalidity, 0u);
  EXPECT_GE(out.state.uidnext, 1u);
  EXPECT_GT(out.state.highestmodseq, 0u);  // QRESYNC/CONDSTORE enabled
  ASSERT_EQ(out.messages.size(), 3u);
  EXPECT_EQ(out.again, 0u);  // nothing after the last one
  const auto files = maildir_files();
  ASSERT_EQ(files.size(), 3u);
  // Postfix delivers in parallel, so the arrival order is not the sending order: match by
  // Message-ID.
  auto find_with = [](const std::vector<std::string>& texts, const std::string& needle) {
    return std::find_if(texts.begin(), texts.end(),
                        [&](const std::string& t) { return t.find(needle) != std::string::npos; });
  };
  std::vector<std::string> bodies;
  for (const auto& m : out.messages) bodies.push_back(m.body);
  for (const std::string id : {"plain", "8bit", "big"}) {
    const std::string header = "Message-ID: <" + id + "@test.example.org>";
    const std::string& original = *find_with(sent, header);
    const auto fetched = find_with(bodies, header);
    ASSERT_NE(fetched, bodies.end()) << id;
    const auto& m = out.messages[static_cast<std::size_t>(fetched - bodies.begin())];
    EXPECT_FALSE(m.too_large);
    EXPECT_EQ(m.size, m.body.size());
    // What we sent arrives intact after the trace headers Postfix and LMTP put in front.
    ASSERT_GE(m.body.size(), original.size());
    EXPECT_TRUE(m.body.compare(m.body.size() - original.size(), original.size(), original) == 0)
        << id << " differs from what was sent";
    // And BODY[] is exactly what Dovecot stored (Maildir keeps LF line ends; IMAP is CRLF).
    const auto file = find_with(files, header);
    ASSERT_NE(file, files.end()) << id;
    const std::string stored = file->find('\r') == std::string::npos ? crlf(*file) : *file;
    EXPECT_TRUE(m.body == stored) << id << " differs from the stored file";
  }
  EXPECT_LT(out.messages[0].uid, out.messages[1].uid);
  EXPECT_LT(out.messages[1].uid, out.messages[2].uid);
}

TEST_F(ImapE2eTest, TooLargeMessagesAreReportedNotFetched) {
  std::string body(40000, 'x');
  for (std::size_t i = 70; i < body.size(); i += 72) body.replace(i, 2, "\r\n");
  deliver(message("small", "", "small\r\n"));
  deliver(message("large", "", body + "\r\n"));
  auto messages = run_awaitable([&]() -> asio::awaitable<std::vector<FetchedMessage>> {
    ImapEndpoint ep = starttls();
    ep.max_message_bytes = 10000;
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, ep);
    EXPECT_TRUE(s.ok());
    if (!s.ok() || !(co_await (*s)->select("INBOX")).ok()) co_return std::vector<FetchedMessage>{};
    co_return co_await fetch_until(**s, 1, 2);
  }());
  ASSERT_EQ(messages.size(), 2u);
  // Either may have arrived first.
  const bool large_first = messages[0].too_large;
  const FetchedMessage& small = messages[large_first ? 1 : 0];
  const FetchedMessage& large = messages[large_first ? 0 : 1];
  EXPECT_FALSE(small.too_large);
  EXPECT_NE(small.body.find("small"), std::string::npos);
  EXPECT_TRUE(large.too_large);
  EXPECT_TRUE(large.body.empty());
  EXPECT_GT(large.size, 40000u);
}

TEST_F(ImapE2eTest, IdleWakesOnNewMailAndTimesOutOtherwise) {
  struct Out {
    core::Result<IdleResult> quiet = core::Error::internal("not run");
    std::chrono::steady_clock::duration quiet_took{};
    core::Result<IdleResult> woken = core::Error::internal("not run");
    std::chrono::steady_clock::duration woken_took{};
    std::vector<FetchedMessage> after;
  };
  std::thread sender;
  std::string sender_error;
  Out out = run_awaitable([&]() -> asio::awaitable<Out> {
    Out o;
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, starttls());
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok() || !(co_await (*s)->select("INBOX")).ok()) co_return o;
    auto none = co_await (*s)->fetch_from(1, 10);
    EXPECT_TRUE(none.ok() && none->empty());

    auto t0 = std::chrono::steady_clock::now();
    o.quiet = co_await (*s)->idle(2s);
    o.quiet_took = std::chrono::steady_clock::now() - t0;

    // Mail arrives while we idle; Dovecot reports it about 0.5 s after delivery.
    sender = std::thread([this, &sender_error] {
      std::this_thread::sleep_for(300ms);
      try {
        deliver(message("idle", "", "wake up\r\n"));
      } catch (const std::exception& e) {
        sender_error = e.what();
      }
    });
    t0 = std::chrono::steady_clock::now();
    o.woken = co_await (*s)->idle(60s);
    o.woken_took = std::chrono::steady_clock::now() - t0;
    o.after = co_await fetch_until(**s, 1, 1);
    EXPECT_TRUE((co_await (*s)->logout()).ok());
    co_return o;
  }());
  if (sender.joinable()) sender.join();
  EXPECT_EQ(sender_error, "");
  ASSERT_TRUE(out.quiet.ok()) << out.quiet.error().message;
  EXPECT_EQ(*out.quiet, IdleResult::kTimeout);
  EXPECT_GE(out.quiet_took, 1900ms);
  EXPECT_LT(out.quiet_took, 5s);
  ASSERT_TRUE(out.woken.ok()) << out.woken.error().message;
  EXPECT_EQ(*out.woken, IdleResult::kChanged);
  EXPECT_LT(out.woken_took, 5s);
  ASSERT_EQ(out.after.size(), 1u);
  EXPECT_NE(out.after[0].body.find("wake up"), std::string::npos);
}

TEST_F(ImapE2eTest, ListReturnsHierarchyDelimiter) {
  auto entries = run_awaitable([&]() -> asio::awaitable<std::vector<ListEntry>> {
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, starttls());
    EXPECT_TRUE(s.ok());
    if (!s.ok()) co_return std::vector<ListEntry>{};
    auto r = co_await (*s)->list("", "*");
    EXPECT_TRUE(r.ok()) << r.error().message;
    co_return r.ok() ? *r : std::vector<ListEntry>{};
  }());
  auto inbox = std::find_if(entries.begin(), entries.end(),
                            [](const ListEntry& e) { return e.name == "INBOX"; });
  ASSERT_NE(inbox, entries.end());
  EXPECT_EQ(inbox->delimiter, '/');  // the stack's inbox namespace separator
}

TEST_F(ImapE2eTest, MetadataSetGetAndRemove) {
  const std::string value = "line one\r\nline two: caf\xc3\xa9";  // needs a literal
  struct Out {
    std::optional<std::string> server_value, inbox_value, absent, removed;
  };
  Out out = run_awaitable([&]() -> asio::awaitable<Out> {
    Out o;
    auto ex = co_await asio::this_coro::executor;
    auto a = co_await ImapSession::connect(ex, starttls());
    EXPECT_TRUE(a.ok());
    if (!a.ok()) co_return o;
    EXPECT_TRUE((co_await (*a)->set_metadata("", "/private/comment", value)).ok());
    EXPECT_TRUE((co_await (*a)->set_metadata("INBOX", "/private/comment", "inbox note")).ok());
    // Read back on a second connection: the server stored it, not our session.
    auto b = co_await ImapSession::connect(ex, implicit_tls());
    EXPECT_TRUE(b.ok());
    if (!b.ok()) co_return o;
    auto r1 = co_await (*b)->get_metadata("", "/private/comment");
    EXPECT_TRUE(r1.ok()) << r1.error().message;
    if (r1.ok()) o.server_value = *r1;
    auto r2 = co_await (*b)->get_metadata("INBOX", "/private/comment");
    if (r2.ok()) o.inbox_value = *r2;
    auto r3 = co_await (*b)->get_metadata("", "/private/vendor/vendor.dovecot/coi/config/enabled");
    EXPECT_TRUE(r3.ok());
    if (r3.ok()) o.absent = *r3;
    EXPECT_TRUE((co_await (*a)->set_metadata("", "/private/comment", std::nullopt)).ok());
    auto r4 = co_await (*b)->get_metadata("", "/private/comment");
    EXPECT_TRUE(r4.ok());
    if (r4.ok()) o.removed = *r4;
    co_return o;
  }());
  EXPECT_EQ(out.server_value, value);
  EXPECT_EQ(out.inbox_value, "inbox note");
  EXPECT_FALSE(out.absent);
  EXPECT_FALSE(out.removed);
}

TEST_F(ImapE2eTest, StoreFlags) {
  deliver(message("flags", "", "flag me\r\n"));
  auto flags = run_awaitable([&]() -> asio::awaitable<std::vector<std::string>> {
    auto s = co_await ImapSession::connect(co_await asio::this_coro::executor, starttls());
    if (!s.ok() || !(co_await (*s)->select("INBOX")).ok()) co_return std::vector<std::string>{};
    auto first = co_await fetch_until(**s, 1, 1);
    if (first.empty()) co_return std::vector<std::string>{};
    // BODY.PEEK[] did not set \Seen. (\Recent is a per-session flag, RFC 3501 §2.3.2.)
    EXPECT_EQ(std::count(first[0].flags.begin(), first[0].flags.end(), "\\Seen"), 0);
    const auto uid = first[0].uid;
    EXPECT_TRUE((co_await (*s)->store_flags(uid, "\\Seen $Chat", true)).ok());
    EXPECT_TRUE((co_await (*s)->store_flags(uid, "$Chat", false)).ok());
    auto again = co_await (*s)->fetch_from(uid, 1);
    std::vector<std::string> kept;
    if (again.ok() && !again->empty()) {
      for (const auto& f : (*again)[0].flags) {
        if (f != "\\Recent") kept.push_back(f);
      }
    }
    co_return kept;
  }());
  EXPECT_EQ(flags, std::vector<std::string>{"\\Seen"});
}

}  // namespace
}  // namespace coibridge::connectors::coi::imap
