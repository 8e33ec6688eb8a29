// ImapSession against a scripted IMAP server in this process (127.0.0.1, ephemeral port,
// TlsMode::kNone). "unit" because no external server is needed. Each test's script is the
// server side of a recorded exchange; it checks what the client sends, byte for byte where
// that matters (quoting, literals, DONE), and the test checks what the client makes of the
// answers: timeouts, protocol errors, IDLE wake-ups, NOOP polling, fetch batching.

#include "connectors/coi/imap/imap_session.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "connectors/coi/imap/coi_server.hpp"

namespace coibridge::connectors::coi::imap {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// The server end of one connection.
class Peer {
 public:
  explicit Peer(tcp::socket s) : socket_(std::move(s)) {}

  asio::awaitable<void> send(std::string_view data) {
    co_await asio::async_write(socket_, asio::buffer(data), kAwait);
  }
  // One line without CRLF; nullopt when the client closed the connection.
  asio::awaitable<std::optional<std::string>> line() {
    auto [ec, n] =
        co_await asio::async_read_until(socket_, asio::dynamic_buffer(buf_), "\r\n", kAwait);
    if (ec) co_return std::nullopt;
    std::string l = buf_.substr(0, n - 2);
    buf_.erase(0, n);
    co_return l;
  }
  asio::awaitable<std::string> bytes(std::size_t n) {
    if (buf_.size() < n) {
      co_await asio::async_read(socket_, asio::dynamic_buffer(buf_),
                                asio::transfer_exactly(n - buf_.size()), kAwait);
    }
    std::string out = buf_.substr(0, std::min(n, buf_.size()));
    buf_.erase(0, out.size());
    co_return out;
  }
  // Reads a command line, checks everything after the tag, returns the tag.
  asio::awaitable<std::string> expect(std::string_view command) {
    auto l = co_await line();
    if (!l) {
      ADD_FAILURE() << "connection closed, expected: " << command;
      co_return "";
    }
    const auto sp = l->find(' ');
    EXPECT_EQ(sp == std::string::npos ? std::string() : l->substr(sp + 1), command);
    co_return sp == std::string::npos ? *l : l->substr(0, sp);
  }
  asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(socket_.get_executor(), d);
    co_await t.async_wait(kAwait);
  }
  // True when the client closed the connection (reads EOF) within `limit`.
  asio::awaitable<bool> closed_by_client() {
    auto l = co_await line();
    co_return !l.has_value();
  }
  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  tcp::socket socket_;
  std::string buf_;
};

using Script = std::function<asio::awaitable<void>(Peer&)>;

constexpr std::string_view kGreeting =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN] ready\r\n";
constexpr std::string_view kCaps =
    "IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ CONDSTORE QRESYNC METADATA UIDPLUS";
// "\0bridge\0bridgepw" in base64
constexpr std::string_view kPlainBridge = "AGJyaWRnZQBicmlkZ2Vwdw==";

// Greets, takes AUTHENTICATE PLAIN with SASL-IR for bridge/bridgepw, and answers with
// capabilities `caps`.
asio::awaitable<void> login(Peer& p, std::string_view caps = kCaps) {
  co_await p.send(kGreeting);
  auto tag = co_await p.expect("AUTHENTICATE PLAIN " + std::string(kPlainBridge));
  co_await p.send(tag + " OK [CAPABILITY " + std::string(caps) + "] Logged in\r\n");
}

// Login as above, then ENABLE QRESYNC and SELECT INBOX with `exists` messages.
asio::awaitable<void> login_select(Peer& p, int exists = 2, std::string_view caps = kCaps) {
  co_await login(p, caps);
  if (std::string(caps).find("QRESYNC") != std::string::npos) {
    auto tag = co_await p.expect("ENABLE QRESYNC");
    co_await p.send("* ENABLED QRESYNC\r\n" + tag + " OK Enabled.\r\n");
  }
  auto tag = co_await p.expect("SELECT INBOX");
  co_await p.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* " +
                  std::to_string(exists) +
                  " EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
                  "* OK [UIDNEXT 20] Predicted next UID\r\n* OK [HIGHESTMODSEQ 33] Highest\r\n" +
                  tag + " OK [READ-WRITE] Select completed.\r\n");
}

class ImapSessionTest : public ::testing::Test {
 protected:
  ImapEndpoint endpoint() const {
    ImapEndpoint ep;
    ep.host = "127.0.0.1";
    ep.port = port_;
    ep.tls = TlsMode::kNone;
    ep.username = "bridge";
    ep.password = "bridgepw";
    ep.timeout = 2s;
    return ep;
  }

  // Runs the server script and the client coroutine until both are done.
  template <class F>
  void run(Script script, F client) {
    script_ = std::move(script);
    asio::co_spawn(
        io_,
        [this]() -> asio::awaitable<void> {
          auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
          if (ec) co_return;
          Peer peer(std::move(socket));
          co_await script_(peer);
        },
        [this](std::exception_ptr e) {
          server_failed_ = static_cast<bool>(e);
          server_done_ = true;
        });
    asio::co_spawn(io_, client(), [this](std::exception_ptr e) {
      client_failed_ = static_cast<bool>(e);
      client_done_ = true;
    });
    io_.run_for(30s);
    EXPECT_TRUE(client_done_) << "client did not finish";
    EXPECT_FALSE(client_failed_) << "client threw";
    EXPECT_TRUE(server_done_) << "server script did not finish";
    EXPECT_FALSE(server_failed_) << "server script threw";
  }

  asio::awaitable<core::Result<std::unique_ptr<ImapSession>>> connect() {
    co_return co_await ImapSession::connect(io_.get_executor(), endpoint());
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, {asio::ip::make_address("127.0.0.1"), 0}};
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  Script script_;
  bool server_done_ = false, server_failed_ = false, client_done_ = false, client_failed_ = false;
};

TEST_F(ImapSessionTest, AuthenticatePlainWithInitialResponse) {
  std::vector<std::string> caps;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login(p);
        auto tag = co_await p.expect("LOGOUT");
        co_await p.send("* BYE Logging out\r\n" + tag + " OK Logout completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        EXPECT_TRUE(s.ok()) << s.error().message;
        if (!s.ok()) co_return;
        caps = (*s)->capabilities();
        EXPECT_TRUE((*s)->has_capability("metadata"));
        EXPECT_FALSE((*s)->has_capability("AUTH=PLAIN"));  // replaced by the post-login list
        EXPECT_TRUE((co_await (*s)->logout()).ok());
        EXPECT_FALSE((*s)->usable());
      });
  EXPECT_EQ(caps.size(), 10u);
}

TEST_F(ImapSessionTest, AuthenticatePlainWithoutSaslIrWaitsForContinuation) {
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await p.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
        auto tag = co_await p.expect("AUTHENTICATE PLAIN");
        co_await p.send("+ \r\n");
        EXPECT_EQ(co_await p.line(), std::string(kPlainBridge));
        co_await p.send(tag + " OK Logged in\r\n");
        // No capabilities in the OK: the client must ask.
        tag = co_await p.expect("CAPABILITY");
        co_await p.send("* CAPABILITY IMAP4rev1 IDLE\r\n" + tag + " OK done\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        EXPECT_TRUE(s.ok());
        if (s.ok()) {
          EXPECT_TRUE((*s)->has_capability("IDLE"));
        }
      });
}

TEST_F(ImapSessionTest, LoginQuotesAndUsesLiteralsForOddPasswords) {
  run(
      [](Peer& p) -> asio::awaitable<void> {
        // No AUTH=PLAIN: LOGIN. No LITERAL+: the 8-bit password goes as a synchronizing
        // literal, and only after our "+".
        co_await p.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
        auto tag = co_await p.expect("LOGIN \"user name\" {10}");
        co_await p.send("+ Ready for literal data\r\n");
        EXPECT_EQ(co_await p.bytes(12), "p\xc3\xa4ss\"w\\rd\r\n");
        co_await p.send(tag + " OK [CAPABILITY IMAP4rev1] Logged in\r\n");
      },
      [&]() -> asio::awaitable<void> {
        ImapEndpoint ep = endpoint();
        ep.username = "user name";
        ep.password = "p\xc3\xa4ss\"w\\rd";
        auto s = co_await ImapSession::connect(io_.get_executor(), ep);
        EXPECT_TRUE(s.ok()) << s.error().message;
      });
}

TEST_F(ImapSessionTest, WrongPasswordIsPermanentAndNeverLogged) {
  std::ostringstream log;
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  logger->set_level(spdlog::level::trace);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  core::Result<std::unique_ptr<ImapSession>> result = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await p.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
        auto tag = co_await p.expect("LOGIN bridge s3cret-Passw0rd");
        co_await p.send(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        ImapEndpoint ep = endpoint();
        ep.password = "s3cret-Passw0rd";
        result = co_await ImapSession::connect(io_.get_executor(), ep);
      });
  spdlog::set_default_logger(previous);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kPermanent);
  EXPECT_NE(result.error().message.find("Authentication failed"), std::string::npos);
  EXPECT_EQ(result.error().message.find("s3cret"), std::string::npos);
  EXPECT_EQ(log.str().find("s3cret"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("LOGIN"), std::string::npos);  // the verb is logged
}

TEST_F(ImapSessionTest, LoginUnavailableIsTransient) {
  core::Result<std::unique_ptr<ImapSession>> result = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await p.send(kGreeting);
        auto tag = co_await p.expect("AUTHENTICATE PLAIN " + std::string(kPlainBridge));
        co_await p.send(tag + " NO [UNAVAILABLE] Temporary authentication failure.\r\n");
      },
      [&]() -> asio::awaitable<void> { result = co_await connect(); });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kUnavailable);
}

TEST_F(ImapSessionTest, SilentServerTimesOut) {
  core::Result<std::unique_ptr<ImapSession>> result = core::Error::internal("not run");
  run([](Peer& p) -> asio::awaitable<void> { co_await p.closed_by_client(); },
      [&]() -> asio::awaitable<void> {
        ImapEndpoint ep = endpoint();
        ep.timeout = 1s;
        result = co_await ImapSession::connect(io_.get_executor(), ep);
      });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_NE(result.error().message.find("timed out"), std::string::npos);
}

TEST_F(ImapSessionTest, ByeGreetingAndGarbageGreeting) {
  core::Result<std::unique_ptr<ImapSession>> result = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await p.send("* BYE Too many connections\r\n");
        co_await p.closed_by_client();
      },
      [&]() -> asio::awaitable<void> { result = co_await connect(); });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_NE(result.error().message.find("Too many connections"), std::string::npos);
}

TEST_F(ImapSessionTest, NotImapIsAnError) {
  core::Result<std::unique_ptr<ImapSession>> result = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await p.send("220 mail.example.org ESMTP Postfix\r\n");
        co_await p.closed_by_client();
      },
      [&]() -> asio::awaitable<void> { result = co_await connect(); });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_NE(result.error().message.find("protocol error"), std::string::npos);
}

TEST_F(ImapSessionTest, StartTlsRequiredButNotOffered) {
  core::Result<std::unique_ptr<ImapSession>> result = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await p.send(kGreeting);  // no STARTTLS in it
        co_await p.closed_by_client();
      },
      [&]() -> asio::awaitable<void> {
        ImapEndpoint ep = endpoint();
        ep.tls = TlsMode::kStartTls;
        result = co_await ImapSession::connect(io_.get_executor(), ep);
      });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kPermanent);
  EXPECT_NE(result.error().message.find("STARTTLS"), std::string::npos);
}

TEST_F(ImapSessionTest, StartTlsResponseInjectionIsRefused) {
  core::Result<std::unique_ptr<ImapSession>> result = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await p.send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
        auto tag = co_await p.expect("STARTTLS");
        // A man in the middle appends a response that would be read as if sent over TLS.
        co_await p.send(tag + " OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] x\r\n");
        co_await p.closed_by_client();
      },
      [&]() -> asio::awaitable<void> {
        ImapEndpoint ep = endpoint();
        ep.tls = TlsMode::kStartTls;
        result = co_await ImapSession::connect(io_.get_executor(), ep);
      });
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("injection"), std::string::npos);
}

TEST_F(ImapSessionTest, SelectReportsMailboxState) {
  MailboxState st;
  run([](Peer& p) -> asio::awaitable<void> { co_await login_select(p, 7); },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        auto r = co_await (*s)->select("INBOX");
        EXPECT_TRUE(r.ok()) << r.error().message;
        if (r.ok()) st = *r;
      });
  EXPECT_EQ(st.uidvalidity, 1700000000u);
  EXPECT_EQ(st.uidnext, 20u);
  EXPECT_EQ(st.exists, 7u);
  EXPECT_EQ(st.highestmodseq, 33u);
}

TEST_F(ImapSessionTest, SelectMissingMailboxIsNotFoundAndSessionStaysUsable) {
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login(p, "IMAP4rev1 IDLE");
        auto tag = co_await p.expect("SELECT \"No Such\"");
        co_await p.send(tag + " NO [NONEXISTENT] Mailbox doesn't exist: No Such\r\n");
        tag = co_await p.expect("NOOP");
        co_await p.send(tag + " OK NOOP completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        auto r = co_await (*s)->select("No Such");
        EXPECT_FALSE(r.ok());
        if (!r.ok()) {
          EXPECT_EQ(r.error().kind, core::ErrorKind::kNotFound);
        }
        EXPECT_TRUE((*s)->usable());
        EXPECT_TRUE((co_await (*s)->noop()).ok());
        // Not selected: fetch and idle are caller errors, nothing is sent.
        auto f = co_await (*s)->fetch_from(1, 10);
        EXPECT_FALSE(f.ok());
        if (!f.ok()) {
          EXPECT_EQ(f.error().kind, core::ErrorKind::kInvalidArgument);
        }
      });
}

TEST_F(ImapSessionTest, FetchFromFiltersStarQuirkAndKeepsBodiesExact) {
  std::vector<FetchedMessage> got;
  const std::string body1 = "Subject: one\r\n\r\n(1) \"x\" {2}\r\n";
  const std::string body2 = "Subject: two\r\n\r\n\xe2\x82\xac 8bit\r\n";
  run(
      [&](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 3);
        // 19:* on a mailbox whose highest UID is 18 returns UID 18 (RFC 3501 §6.4.8).
        auto tag = co_await p.expect("UID FETCH 19:* (UID RFC822.SIZE)");
        co_await p.send("* 3 FETCH (UID 18 RFC822.SIZE 100)\r\n" + tag +
                        " OK Fetch completed.\r\n");
        tag = co_await p.expect("UID FETCH 10:* (UID RFC822.SIZE)");
        co_await p.send("* 1 FETCH (UID 10 RFC822.SIZE " + std::to_string(body1.size()) +
                        ")\r\n* 2 FETCH (UID 12 RFC822.SIZE " + std::to_string(body2.size()) +
                        ")\r\n* 3 FETCH (UID 18 RFC822.SIZE 5)\r\n" + tag + " OK done\r\n");
        tag = co_await p.expect("UID FETCH 10,12 (UID FLAGS BODY.PEEK[])");
        co_await p.send("* 1 FETCH (UID 10 FLAGS (\\Seen) BODY[] {" + std::to_string(body1.size()) +
                        "}\r\n" + body1 + ")\r\n* 1 FETCH (FLAGS (\\Seen \\Flagged))\r\n" +
                        "* 2 FETCH (UID 12 FLAGS () BODY[] {" + std::to_string(body2.size()) +
                        "}\r\n" + body2 + ")\r\n" + tag + " OK Fetch completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        auto none = co_await (*s)->fetch_from(19, 10);
        EXPECT_TRUE(none.ok() && none->empty());
        auto r = co_await (*s)->fetch_from(10, 2);
        EXPECT_TRUE(r.ok()) << r.error().message;
        if (r.ok()) got = std::move(*r);
      });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].uid, 10u);
  EXPECT_EQ(got[0].body, body1);
  EXPECT_EQ(got[0].flags, std::vector<std::string>{"\\Seen"});
  EXPECT_EQ(got[1].uid, 12u);
  EXPECT_EQ(got[1].body, body2);
  EXPECT_TRUE(got[1].flags.empty());
}

TEST_F(ImapSessionTest, FetchWithEsearchLooksAtOneWindowOnly) {
  std::vector<FetchedMessage> got;
  std::optional<IdleResult> idle;
  core::Result<std::vector<FetchedMessage>> none = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 100, "IMAP4rev1 IDLE ESEARCH");
        // Where does UID 50 start? Then messages 40..42 only, not 40..100.
        auto tag = co_await p.expect("SEARCH RETURN (MIN) UID 50:*");
        co_await p.send("* ESEARCH (TAG \"" + tag + "\") MIN 40\r\n" + tag + " OK done\r\n");
        tag = co_await p.expect("FETCH 40:42 (UID RFC822.SIZE)");
        co_await p.send(
            "* 40 FETCH (UID 50 RFC822.SIZE 1)\r\n* 41 FETCH (UID 51 RFC822.SIZE 1)\r\n"
            "* 42 FETCH (UID 53 RFC822.SIZE 1)\r\n" +
            tag + " OK done\r\n");
        tag = co_await p.expect("UID FETCH 50:51,53 (UID FLAGS BODY.PEEK[])");
        co_await p.send(
            "* 40 FETCH (UID 50 FLAGS () BODY[] {1}\r\na)\r\n"
            "* 41 FETCH (UID 51 FLAGS () BODY[] {1}\r\nb)\r\n"
            "* 42 FETCH (UID 53 FLAGS () BODY[] {1}\r\nc)\r\n" +
            tag + " OK done\r\n");
        // Messages 43..100 wait: idle() returns at once, without IDLE.
        tag = co_await p.expect("SEARCH RETURN (MIN) UID 500:*");
        co_await p.send("* ESEARCH (TAG \"" + tag + "\")\r\n" + tag + " OK done\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok() || !(co_await (*s)->select("INBOX")).ok()) co_return;
        auto r = co_await (*s)->fetch_from(50, 3);
        EXPECT_TRUE(r.ok()) << r.error().message;
        if (r.ok()) got = std::move(*r);
        auto i = co_await (*s)->idle(60s);
        if (i.ok()) idle = *i;
        none = co_await (*s)->fetch_from(500, 3);
      });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].uid, 53u);
  EXPECT_EQ(got[2].body, "c");
  // Woken by the new mail, not by the 60 s limit (that would be kTimeout).
  EXPECT_EQ(idle, IdleResult::kChanged);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(ImapSessionTest, FetchBatchBudgetTooLargeAndIdleAfterTruncation) {
  std::vector<FetchedMessage> got;
  std::optional<IdleResult> idle;
  run(
      [&](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 4);
        auto tag = co_await p.expect("UID FETCH 1:* (UID RFC822.SIZE)");
        // UID 2 is over the limit of 100 bytes; UIDs 3 and 4 would together exceed the batch
        // budget (one maximum message), so the batch ends after 3.
        co_await p.send(
            "* 1 FETCH (UID 1 RFC822.SIZE 10)\r\n* 2 FETCH (UID 2 RFC822.SIZE 5000)\r\n"
            "* 3 FETCH (UID 3 RFC822.SIZE 80)\r\n* 4 FETCH (UID 4 RFC822.SIZE 20)\r\n" +
            tag + " OK done\r\n");
        tag = co_await p.expect("UID FETCH 1,3 (UID FLAGS BODY.PEEK[])");
        co_await p.send(
            "* 1 FETCH (UID 1 FLAGS () BODY[] {10}\r\n0123456789)\r\n"
            "* 3 FETCH (UID 3 FLAGS () BODY[] {3}\r\nabc)\r\n" +
            tag + " OK done\r\n");
        // More is waiting: idle() must not start IDLE.
      },
      [&]() -> asio::awaitable<void> {
        ImapEndpoint ep = endpoint();
        ep.max_message_bytes = 100;
        auto s = co_await ImapSession::connect(io_.get_executor(), ep);
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        auto r = co_await (*s)->fetch_from(1, 10);
        EXPECT_TRUE(r.ok()) << r.error().message;
        if (r.ok()) got = std::move(*r);
        auto i = co_await (*s)->idle(60s);
        if (i.ok()) idle = *i;
      });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].body, "0123456789");
  EXPECT_EQ(got[1].uid, 2u);
  EXPECT_TRUE(got[1].too_large);
  EXPECT_EQ(got[1].size, 5000u);
  EXPECT_TRUE(got[1].body.empty());
  EXPECT_EQ(got[2].uid, 3u);
  EXPECT_EQ(got[2].body, "abc");
  // Woken by the new mail, not by the 60 s limit (that would be kTimeout).
  EXPECT_EQ(idle, IdleResult::kChanged);
}

TEST_F(ImapSessionTest, IdleWakesOnExistsAndSendsDone) {
  std::optional<IdleResult> idle;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 2);
        auto tag = co_await p.expect("IDLE");
        co_await p.send("+ idling\r\n");
        co_await p.sleep(200ms);
        co_await p.send("* OK Still here\r\n");
        co_await p.sleep(100ms);
        co_await p.send("* 1 FETCH (FLAGS (\\Seen))\r\n* 3 EXISTS\r\n* 1 RECENT\r\n");
        EXPECT_EQ(co_await p.line(), "DONE");
        co_await p.send(tag + " OK Idle completed (0.5 + 0.5 secs).\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        auto r = co_await (*s)->idle(60s);
        EXPECT_TRUE(r.ok()) << r.error().message;
        if (r.ok()) idle = *r;
        EXPECT_EQ((*s)->mailbox_state().exists, 3u);
        EXPECT_TRUE((*s)->usable());
      });
  // Woken by the new mail, not by the 60 s limit (that would be kTimeout).
  EXPECT_EQ(idle, IdleResult::kChanged);
}

TEST_F(ImapSessionTest, IdleWakesOnVanished) {
  std::optional<IdleResult> idle;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 5);
        auto tag = co_await p.expect("IDLE");
        co_await p.send("+ idling\r\n* VANISHED 3:4\r\n");
        EXPECT_EQ(co_await p.line(), "DONE");
        co_await p.send(tag + " OK Idle completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        auto r = co_await (*s)->idle(60s);
        if (r.ok()) idle = *r;
        EXPECT_EQ((*s)->mailbox_state().exists, 3u);
      });
  // Woken by the new mail, not by the 60 s limit (that would be kTimeout).
  EXPECT_EQ(idle, IdleResult::kChanged);
}

TEST_F(ImapSessionTest, IdleTimesOutWithDone) {
  std::optional<IdleResult> idle;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 2);
        auto tag = co_await p.expect("IDLE");
        co_await p.send("+ idling\r\n");
        EXPECT_EQ(co_await p.line(), "DONE");
        co_await p.send(tag + " OK Idle completed.\r\n");
        tag = co_await p.expect("NOOP");  // the session is still in sync
        co_await p.send(tag + " OK NOOP completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        auto r = co_await (*s)->idle(1s);
        if (r.ok()) idle = *r;
        EXPECT_TRUE((co_await (*s)->noop()).ok());
      });
  EXPECT_EQ(idle, IdleResult::kTimeout);
}

TEST_F(ImapSessionTest, IdleConnectionLostIsUnavailable) {
  core::Result<IdleResult> idle = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 2);
        co_await p.expect("IDLE");
        co_await p.send("+ idling\r\n* BYE Server shutting down.\r\n");
        p.close();
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        idle = co_await (*s)->idle(60s);
        EXPECT_FALSE((*s)->usable());
        auto again = co_await (*s)->noop();
        EXPECT_FALSE(again.ok());
      });
  ASSERT_FALSE(idle.ok());
  EXPECT_EQ(idle.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_NE(idle.error().message.find("shutting down"), std::string::npos);
}

TEST_F(ImapSessionTest, NoopPollingWithoutIdle) {
  std::optional<IdleResult> first, second;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 2, "IMAP4rev1");
        // First call: one NOOP per second, nothing new, times out after max (2 s).
        for (int i = 0; i < 3; ++i) {
          auto tag = co_await p.expect("NOOP");
          co_await p.send(tag + " OK NOOP completed.\r\n");
        }
        // Second call: new mail on the second NOOP.
        auto tag = co_await p.expect("NOOP");
        co_await p.send(tag + " OK NOOP completed.\r\n");
        tag = co_await p.expect("NOOP");
        co_await p.send("* 3 EXISTS\r\n" + tag + " OK NOOP completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        auto a = co_await (*s)->idle(2s, 1s);
        if (a.ok()) first = *a;
        auto b = co_await (*s)->idle(30s, 1s);
        if (b.ok()) second = *b;
      });
  EXPECT_EQ(first, IdleResult::kTimeout);
  EXPECT_EQ(second, IdleResult::kChanged);
}

TEST_F(ImapSessionTest, GarbageMidSessionBreaksTheSession) {
  core::Result<std::vector<FetchedMessage>> r = core::Error::internal("not run");
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 2);
        co_await p.expect("UID FETCH 1:* (UID RFC822.SIZE)");
        co_await p.send("* 1 FETCH (UID 1 RFC822.SIZE 5\r\n");  // unterminated list
        co_await p.closed_by_client();
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        r = co_await (*s)->fetch_from(1, 10);
        EXPECT_FALSE((*s)->usable());
      });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, core::ErrorKind::kUnavailable);
}

TEST_F(ImapSessionTest, ListDecodesNamesAndDelimiter) {
  std::vector<ListEntry> entries;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login(p);
        auto tag = co_await p.expect("LIST \"\" \"*\"");
        co_await p.send(
            "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Entw&APw-rfe\r\n"
            "* LIST (\\HasChildren) \"/\" \"COI\"\r\n"
            "* LIST (\\HasNoChildren) \"/\" {9}\r\nCOI/Chats\r\n" +
            tag + " OK List completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        auto r = co_await (*s)->list("", "*");
        EXPECT_TRUE(r.ok());
        if (r.ok()) entries = *r;
      });
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[1].name, "Entw\xc3\xbcrfe");
  EXPECT_EQ(entries[1].attributes[1], "\\Drafts");
  EXPECT_EQ(entries[3].name, "COI/Chats");
  EXPECT_EQ(entries[3].delimiter, '/');
}

TEST_F(ImapSessionTest, MetadataGetAndSet) {
  std::optional<std::string> a, b;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login(p);
        auto tag = co_await p.expect("GETMETADATA \"\" /private/comment");
        co_await p.send("* METADATA \"\" (/PRIVATE/Comment {7}\r\nhi\r\nyou)\r\n" + tag +
                        " OK Getmetadata completed.\r\n");
        tag = co_await p.expect("GETMETADATA INBOX /shared/x");
        co_await p.send("* METADATA INBOX (/shared/x NIL)\r\n" + tag + " OK done\r\n");
        tag = co_await p.expect("SETMETADATA \"\" (/private/comment {4+}");
        EXPECT_EQ(co_await p.bytes(7), "a\r\nb)\r\n");
        co_await p.send(tag + " OK Setmetadata completed.\r\n");
        tag = co_await p.expect("SETMETADATA \"\" (/private/comment NIL)");
        co_await p.send(tag + " NO [METADATA TOOMANY] too many\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        auto r1 = co_await (*s)->get_metadata("", "/private/comment");
        EXPECT_TRUE(r1.ok());
        if (r1.ok()) a = *r1;
        auto r2 = co_await (*s)->get_metadata("INBOX", "/shared/x");
        EXPECT_TRUE(r2.ok());
        if (r2.ok()) b = *r2;
        EXPECT_TRUE((co_await (*s)->set_metadata("", "/private/comment", "a\r\nb")).ok());
        auto no = co_await (*s)->set_metadata("", "/private/comment", std::nullopt);
        EXPECT_FALSE(no.ok());
        if (!no.ok()) {
          EXPECT_EQ(no.error().kind, core::ErrorKind::kPermanent);
        }
      });
  EXPECT_EQ(a, "hi\r\nyou");
  EXPECT_FALSE(b);
}

TEST_F(ImapSessionTest, StoreFlagsValidatesBeforeSending) {
  core::Status bad, good;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login_select(p, 2);
        auto tag = co_await p.expect("UID STORE 7 +FLAGS.SILENT (\\Seen $Chat)");
        co_await p.send(tag + " OK Store completed.\r\n");
        tag = co_await p.expect("UID STORE 7 -FLAGS.SILENT ($Chat)");
        co_await p.send(tag + " OK Store completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        if (!(co_await (*s)->select("INBOX")).ok()) co_return;
        bad = co_await (*s)->store_flags(7, "\\Seen)\r\nA9 EXPUNGE", true);
        good = co_await (*s)->store_flags(7, "\\Seen $Chat", true);
        EXPECT_TRUE((co_await (*s)->store_flags(7, "($Chat)", false)).ok());
      });
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, core::ErrorKind::kInvalidArgument);
  EXPECT_TRUE(good.ok());
}

TEST_F(ImapSessionTest, ConcurrentUseIsRefused) {
  core::Status first, second;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login(p);
        auto tag = co_await p.expect("NOOP");
        co_await p.sleep(200ms);
        co_await p.send(tag + " OK NOOP completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        ImapSession* session = s->get();
        bool second_done = false;
        asio::co_spawn(
            io_,
            [&, session]() -> asio::awaitable<void> {
              second = co_await session->noop();
              second_done = true;
            },
            asio::detached);
        first = co_await session->noop();
        while (!second_done) {  // the session must outlive both calls
          asio::steady_timer t(io_, 10ms);
          co_await t.async_wait(kAwait);
        }
      });
  // Whichever started first succeeds; the other is refused without touching the connection.
  EXPECT_NE(first.ok(), second.ok());
  const core::Status& refused = first.ok() ? second : first;
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, core::ErrorKind::kInternal);
}

// A Dovecot with the COI plugin, COI enabled, root "COI" under an INBOX. namespace with "."
// as separator (coi-protocol.md §2.3): the folder is INBOX.COI.Chats.
TEST_F(ImapSessionTest, CoiServerChatsFolderFromMetadataAndSeparator) {
  std::optional<std::string> folder;
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login(p, std::string(kCaps) + " COI");
        auto tag =
            co_await p.expect("GETMETADATA \"\" /private/vendor/vendor.dovecot/coi/config/enabled");
        co_await p.send(
            "* METADATA \"\" (/private/vendor/vendor.dovecot/coi/config/enabled \"yes\")\r\n" +
            tag + " OK done\r\n");
        tag = co_await p.expect(
            "GETMETADATA \"\" /private/vendor/vendor.dovecot/coi/config/mailbox-root");
        co_await p.send(
            "* METADATA \"\" (/private/vendor/vendor.dovecot/coi/config/mailbox-root "
            "\"INBOX.COI\")\r\n" +
            tag + " OK done\r\n");
        tag = co_await p.expect("LIST \"\" INBOX.COI");
        co_await p.send("* LIST (\\HasChildren) \".\" INBOX.COI\r\n" + tag +
                        " OK List completed.\r\n");
        tag = co_await p.expect("LIST \"\" INBOX.COI.Chats");
        co_await p.send("* LIST (\\HasNoChildren \\Subscribed) \".\" INBOX.COI.Chats\r\n" + tag +
                        " OK List completed.\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        auto r = co_await coi_chats_folder(**s);
        EXPECT_TRUE(r.ok());
        if (r.ok()) folder = *r;
      });
  EXPECT_EQ(folder, "INBOX.COI.Chats");
}

TEST_F(ImapSessionTest, CoiServerWithCoiDisabledWatchesOnlyInbox) {
  std::optional<std::string> disabled = "unset";
  run(
      [](Peer& p) -> asio::awaitable<void> {
        co_await login(p, std::string(kCaps) + " COI");
        auto tag =
            co_await p.expect("GETMETADATA \"\" /private/vendor/vendor.dovecot/coi/config/enabled");
        co_await p.send(
            "* METADATA \"\" (/private/vendor/vendor.dovecot/coi/config/enabled NIL)\r\n" + tag +
            " OK done\r\n");
      },
      [&]() -> asio::awaitable<void> {
        auto s = co_await connect();
        if (!s.ok()) co_return;
        auto r = co_await coi_chats_folder(**s);
        EXPECT_TRUE(r.ok());
        if (r.ok()) disabled = *r;
      });
  EXPECT_FALSE(disabled.has_value());
}

}  // namespace
}  // namespace coibridge::connectors::coi::imap
