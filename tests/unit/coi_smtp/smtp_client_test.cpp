// send_mail against scripted fake servers on 127.0.0.1 (in this process, ephemeral ports):
// the protocol paths a well-behaved Postfix never takes (no PIPELINING, LOGIN only, HELO
// fallback, refusals at every step) and hostile servers (silence, endless replies, STARTTLS
// injection). The real-server tests are in tests/e2e/coi_smtp.

#include "connectors/coi/smtp/smtp_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "connectors/coi/smtp/smtp_reply.hpp"
#include "core/text/base64.hpp"

namespace coibridge::connectors::coi::smtp {
namespace {

namespace asio = boost::asio;
using core::ErrorKind;
using core::Status;
using namespace std::chrono_literals;

// One accepted connection of the fake server, driven by blocking POSIX calls in the server's
// thread. Every line the client sent is recorded.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {}

  // The next line without its CRLF; throws when the client closed or 10 s passed.
  std::string read_line() {
    while (true) {
      if (auto nl = buf_.find("\r\n"); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 2);
        std::lock_guard lock(mu_);
        lines_.push_back(line);
        return line;
      }
      if (!fill(10000)) throw std::runtime_error("client closed the connection");
    }
  }

  // Message data up to the "." line, still dot-stuffed, lines joined with CRLF.
  std::string read_data() {
    std::string data;
    while (true) {
      std::string line = read_line();
      if (line == ".") return data;
      data += line + "\r\n";
    }
  }

  void send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // True when the client sent something more within `wait` (used to prove that it waits
  // for each reply when PIPELINING is not offered).
  bool more_pending(std::chrono::milliseconds wait) {
    if (!buf_.empty()) return true;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK) > 0;
  }

  // True when the client closes the connection without sending anything more.
  bool closes_without_more_data() {
    if (!buf_.empty()) return false;
    return !fill(10000) && buf_.empty();
  }

  // The standard opening: greeting, EHLO, a 250 reply offering `caps`.
  void hello(const std::vector<std::string>& caps) {
    send("220 fake.example.org ESMTP\r\n");
    const std::string ehlo = read_line();
    if (ehlo.rfind("EHLO ", 0) != 0) throw std::runtime_error("expected EHLO, got " + ehlo);
    std::string reply = caps.empty() ? "250 fake.example.org\r\n" : "250-fake.example.org\r\n";
    for (std::size_t i = 0; i < caps.size(); ++i) {
      reply += (i + 1 == caps.size() ? "250 " : "250-") + caps[i] + "\r\n";
    }
    send(reply);
  }

  // The rest of a normal transaction, one reply per command (no pipelining).
  std::string accept_transaction(std::size_t recipients) {
    expect_prefix(read_line(), "MAIL FROM:");
    send("250 2.1.0 Ok\r\n");
    for (std::size_t i = 0; i < recipients; ++i) {
      expect_prefix(read_line(), "RCPT TO:");
      send("250 2.1.5 Ok\r\n");
    }
    expect_prefix(read_line(), "DATA");
    send("354 End data with <CR><LF>.<CR><LF>\r\n");
    std::string data = read_data();
    send("250 2.0.0 Ok: queued as 1234\r\n");
    expect_prefix(read_line(), "QUIT");
    send("221 2.0.0 Bye\r\n");
    return data;
  }

  static void expect_prefix(const std::string& line, std::string_view prefix) {
    if (line.rfind(prefix, 0) != 0) {
      throw std::runtime_error("expected " + std::string(prefix) + ", got " + line);
    }
  }

  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  bool fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) throw std::runtime_error("timed out reading");
    char tmp[4096];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// Accepts one connection on 127.0.0.1 and runs `script` on it in its own thread.
class FakeServer {
 public:
  using Script = std::function<void(Peer&)>;

  explicit FakeServer(Script script, in_addr_t bind_to = htonl(INADDR_LOOPBACK))
      : FakeServer(std::vector<Script>{std::move(script)}, bind_to) {}

  // Accepts one connection per script, in turn.
  explicit FakeServer(std::vector<Script> scripts, in_addr_t bind_to = htonl(INADDR_LOOPBACK)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = bind_to;
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 4) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, scripts = std::move(scripts)] {
      for (const auto& script : scripts) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) return;
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) return;
        ++accepted_;
        peer_.emplace(fd);
        try {
          script(*peer_);
        } catch (const std::exception& e) {
          error_ += e.what();
        }
        ::close(fd);
      }
    });
  }

  ~FakeServer() {
    join();
    ::close(listen_fd_);
  }

  std::uint16_t port() const { return port_; }

  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // After join(): what the script threw, or empty.
  const std::string& error() const { return error_; }
  bool accepted() const { return accepted_ > 0; }
  int connections() const { return accepted_; }
  std::vector<std::string> lines() { return peer_ ? peer_->lines() : std::vector<std::string>{}; }

 private:
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::optional<Peer> peer_;
  std::string error_;
  std::atomic<int> accepted_{0};
};

SmtpEndpoint endpoint(std::uint16_t port) {
  SmtpEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port;
  ep.tls = TlsMode::kNone;
  ep.timeout = 5s;
  return ep;
}

Envelope envelope(std::vector<std::string> rcpts = {"alice@example.org"}) {
  return Envelope{"bridge@example.org", std::move(rcpts)};
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

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string kMessage =
    "From: bridge@example.org\nTo: alice@example.org\nSubject: hi\n\nhello\n";

TEST(SmtpClient, WithoutPipeliningWaitsForEachReply) {
  bool eager = false;
  std::string data;
  FakeServer server([&](Peer& p) {
    p.hello({"8BITMIME", "SIZE 1000000"});
    const std::string mail = p.read_line();
    eager = eager || p.more_pending(100ms);
    p.send("250 Ok\r\n");
    for (int i = 0; i < 2; ++i) {
      p.read_line();
      eager = eager || p.more_pending(100ms);
      p.send("250 Ok\r\n");
    }
    Peer::expect_prefix(p.read_line(), "DATA");
    p.send("354 go\r\n");
    data = p.read_data();
    p.send("250 queued\r\n");
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  const std::string message =
      "Subject: dots\n\n.leading dot\n..two dots\nGr\xc3\xbc\xc3\x9f"
      "e\n.\nend";
  auto st =
      send(endpoint(server.port()), envelope({"alice@example.org", "bob@example.org"}), message);
  server.join();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(server.error(), "");
  EXPECT_FALSE(eager) << "client sent the next command before the reply";
  const auto lines = server.lines();
  ASSERT_GE(lines.size(), 4u);
  // SIZE counts the CRLF-normalized message without dot-stuffing (RFC 1870 §6).
  const std::string normalized = normalize_line_endings(message);
  EXPECT_EQ(lines[1], "MAIL FROM:<bridge@example.org> SIZE=" + std::to_string(normalized.size()) +
                          " BODY=8BITMIME");
  EXPECT_EQ(lines[2], "RCPT TO:<alice@example.org>");
  EXPECT_EQ(lines[3], "RCPT TO:<bob@example.org>");
  EXPECT_EQ(data,
            "Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\nGr\xc3\xbc\xc3\x9f"
            "e\r\n..\r\nend\r\n");
}

TEST(SmtpClient, PipeliningSendsMailRcptAndDataAsOneGroup) {
  bool grouped = false;
  FakeServer server([&](Peer& p) {
    p.hello({"PIPELINING", "8BITMIME"});
    Peer::expect_prefix(p.read_line(), "MAIL FROM:");
    // All of the group must be there before any reply was sent (RFC 2920 §3.1).
    Peer::expect_prefix(p.read_line(), "RCPT TO:<alice@example.org>");
    Peer::expect_prefix(p.read_line(), "RCPT TO:<bob@example.org>");
    Peer::expect_prefix(p.read_line(), "DATA");
    grouped = true;
    p.send("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
    p.read_data();
    p.send("250 queued\r\n");
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto st =
      send(endpoint(server.port()), envelope({"alice@example.org", "bob@example.org"}), kMessage);
  server.join();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(server.error(), "");
  EXPECT_TRUE(grouped);
  // A 7-bit message gets no BODY parameter; no SIZE offered, no SIZE parameter.
  EXPECT_EQ(server.lines()[1], "MAIL FROM:<bridge@example.org>");
}

TEST(SmtpClient, AuthLoginWhenPlainIsNotOfferedAndSecretsAreNotLogged) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);

  FakeServer server([&](Peer& p) {
    p.hello({"AUTH LOGIN CRAM-MD5"});
    Peer::expect_prefix(p.read_line(), "AUTH LOGIN");
    p.send("334 VXNlcm5hbWU6\r\n");
    if (p.read_line() != core::base64_encode("alice@example.org")) throw std::runtime_error("user");
    p.send("334 UGFzc3dvcmQ6\r\n");
    if (p.read_line() != core::base64_encode("s3cret-pw")) throw std::runtime_error("password");
    p.send("235 2.7.0 Authentication successful\r\n");
    p.accept_transaction(1);
  });
  auto ep = endpoint(server.port());
  ep.username = "alice@example.org";
  ep.password = "s3cret-pw";
  auto st = send(ep, envelope(), kMessage);
  server.join();
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(server.error(), "");
  const std::string text = log.str();
  EXPECT_TRUE(contains(text, "AUTH LOGIN")) << text;
  EXPECT_FALSE(contains(text, "s3cret-pw")) << text;
  EXPECT_FALSE(contains(text, core::base64_encode("s3cret-pw"))) << text;
  EXPECT_FALSE(contains(text, core::base64_encode("alice@example.org"))) << text;
}

TEST(SmtpClient, AuthPlainIsPreferredAndItsFailureIsRetryable) {
  FakeServer server([&](Peer& p) {
    p.hello({"AUTH LOGIN PLAIN"});
    if (p.read_line() != "AUTH PLAIN " + auth_plain_response("alice", "wrong")) {
      throw std::runtime_error("unexpected AUTH line");
    }
    p.send("535 5.7.8 Error: authentication failed\r\n");
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto ep = endpoint(server.port());
  ep.username = "alice";
  ep.password = "wrong";
  auto st = send(ep, envelope(), kMessage);
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "535 5.7.8")) << st.error().message;
  EXPECT_FALSE(contains(st.error().message, "wrong")) << st.error().message;
}

TEST(SmtpClient, AuthWantedButNotOffered) {
  FakeServer server([&](Peer& p) {
    p.hello({"AUTH CRAM-MD5"});
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto ep = endpoint(server.port());
  ep.username = "alice";
  ep.password = "pw";
  auto st = send(ep, envelope(), kMessage);
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "CRAM-MD5")) << st.error().message;
}

TEST(SmtpClient, FallsBackToHeloWhenEhloIsUnknown) {
  FakeServer server([&](Peer& p) {
    p.send("220 old.example.org SMTP\r\n");
    Peer::expect_prefix(p.read_line(), "EHLO localhost");
    p.send("502 5.5.2 Error: command not recognized\r\n");
    Peer::expect_prefix(p.read_line(), "HELO localhost");
    p.send("250 old.example.org\r\n");
    p.accept_transaction(1);
  });
  auto st = send(endpoint(server.port()), envelope(), kMessage);
  server.join();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.lines()[2], "MAIL FROM:<bridge@example.org>");
}

TEST(SmtpClient, RefusedRecipientAfterPipelinedDataDropsTheConnection) {
  bool dropped = false;
  FakeServer server([&](Peer& p) {
    p.hello({"PIPELINING"});
    for (int i = 0; i < 4; ++i) p.read_line();
    p.send("250 Ok\r\n250 Ok\r\n550 5.1.1 <nobody@example.org>: User unknown\r\n354 go\r\n");
    // Sending "." or QUIT now would deliver an empty message to alice.
    dropped = p.closes_without_more_data();
  });
  auto st = send(endpoint(server.port()), envelope({"alice@example.org", "nobody@example.org"}),
                 kMessage);
  server.join();
  EXPECT_EQ(server.error(), "");
  EXPECT_TRUE(dropped);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  EXPECT_TRUE(contains(st.error().message, "RCPT TO:<nobody@example.org>")) << st.error().message;
  EXPECT_TRUE(contains(st.error().message, "550 5.1.1 <nobody@example.org>: User unknown"));
}

TEST(SmtpClient, PermanentRecipientRefusalWinsOverTransient) {
  FakeServer server([&](Peer& p) {
    p.hello({"PIPELINING"});
    for (int i = 0; i < 4; ++i) p.read_line();
    p.send("250 Ok\r\n450 4.2.1 busy\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n");
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto st = send(endpoint(server.port()), envelope({"a@example.org", "b@example.org"}), kMessage);
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  EXPECT_TRUE(contains(st.error().message, "RCPT TO:<b@example.org>")) << st.error().message;
}

TEST(SmtpClient, TransientRecipientRefusalSendsNoData) {
  FakeServer server([&](Peer& p) {
    p.hello({});
    Peer::expect_prefix(p.read_line(), "MAIL FROM:");
    p.send("250 Ok\r\n");
    Peer::expect_prefix(p.read_line(), "RCPT TO:");
    p.send("452 4.5.3 Too many recipients\r\n");
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto st = send(endpoint(server.port()), envelope(), kMessage);
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "452 4.5.3")) << st.error().message;
}

TEST(SmtpClient, RefusedSenderInPipelinedGroupIsReported) {
  FakeServer server([&](Peer& p) {
    p.hello({"PIPELINING"});
    for (int i = 0; i < 3; ++i) p.read_line();
    p.send("553 5.7.1 sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n");
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto st = send(endpoint(server.port()), envelope(), kMessage);
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  EXPECT_TRUE(contains(st.error().message, "MAIL FROM:<bridge@example.org> refused: 553"))
      << st.error().message;
}

TEST(SmtpClient, RefusalAfterDataIsPermanentOrTransientByCode) {
  for (const auto& [reply, kind] :
       {std::pair{"552 5.3.4 Message size exceeds fixed limit", ErrorKind::kPermanent},
        std::pair{"451 4.3.0 Temporary lookup failure", ErrorKind::kUnavailable}}) {
    FakeServer server([&, r = std::string(reply)](Peer& p) {
      p.hello({});
      p.read_line();
      p.send("250 Ok\r\n");
      p.read_line();
      p.send("250 Ok\r\n");
      p.read_line();
      p.send("354 go\r\n");
      p.read_data();
      p.send(r + "\r\n");
      Peer::expect_prefix(p.read_line(), "QUIT");
      p.send("221 bye\r\n");
    });
    auto st = send(endpoint(server.port()), envelope(), kMessage);
    server.join();
    EXPECT_EQ(server.error(), "");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, kind) << reply;
    EXPECT_TRUE(contains(st.error().message, reply)) << st.error().message;
  }
}

TEST(SmtpClient, MessageOverTheSizeLimitIsRefusedBeforeMail) {
  FakeServer server([&](Peer& p) {
    p.hello({"SIZE 100"});
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  const std::string message = "Subject: big\r\n\r\n" + std::string(200, 'x');
  auto st = send(endpoint(server.port()), envelope(), message);
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  EXPECT_TRUE(contains(st.error().message,
                       "message of 218 bytes exceeds the server's limit of "
                       "100 bytes"))
      << st.error().message;
}

TEST(SmtpClient, EightBitMessageNeeds8BitMime) {
  FakeServer server([&](Peer& p) {
    p.hello({"PIPELINING"});
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto st = send(endpoint(server.port()), envelope(),
                 "Subject: x\n\nGr\xc3\xbc\xc3\x9f"
                 "e\n");
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermanent);
  EXPECT_TRUE(contains(st.error().message, "8BITMIME")) << st.error().message;
}

TEST(SmtpClient, Utf8AddressNeedsSmtpUtf8) {
  std::string mail;
  FakeServer server([&](Peer& p) {
    p.hello({"SMTPUTF8", "8BITMIME"});
    mail = p.read_line();
    p.send("250 Ok\r\n");
    p.read_line();
    p.send("250 Ok\r\n");
    p.read_line();
    p.send("354 go\r\n");
    p.read_data();
    p.send("250 queued\r\n");
    p.read_line();
    p.send("221 bye\r\n");
  });
  auto st = send(endpoint(server.port()), envelope({"j\xc3\xb6rg@example.org"}), kMessage);
  server.join();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(mail, "MAIL FROM:<bridge@example.org> SMTPUTF8");
}

TEST(SmtpClient, StartTlsRequiredButNotOfferedSendsNothing) {
  FakeServer server([&](Peer& p) {
    p.hello({"PIPELINING", "AUTH PLAIN"});
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  auto ep = endpoint(server.port());
  ep.tls = TlsMode::kStartTls;
  ep.username = "alice";
  ep.password = "pw";
  auto st = send(ep, envelope(), kMessage);
  server.join();
  EXPECT_EQ(server.error(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "does not offer STARTTLS")) << st.error().message;
  EXPECT_EQ(server.lines().size(), 2u);  // EHLO, QUIT: no AUTH, no MAIL
}

TEST(SmtpClient, DataAfterTheStartTlsReplyIsRefused) {
  FakeServer server([&](Peer& p) {
    p.hello({"STARTTLS"});
    Peer::expect_prefix(p.read_line(), "STARTTLS");
    // A man in the middle appends a reply that the client must not take for one sent in TLS.
    p.send("220 2.0.0 Ready to start TLS\r\n250 injected\r\n");
    p.closes_without_more_data();
  });
  auto ep = endpoint(server.port());
  ep.tls = TlsMode::kStartTls;
  auto st = send(ep, envelope(), kMessage);
  server.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "after its STARTTLS reply")) << st.error().message;
}

// An IPv4 address of this machine that is not a loopback one, if it has one.
std::optional<std::string> non_loopback_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> out;
  for (auto* i = list; i != nullptr && !out; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN] = {};
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) != nullptr) out = text;
  }
  ::freeifaddrs(list);
  return out;
}

// RFC 8314 §3: without TLS the password and the mail cross the network in clear text, which
// only a loopback test server may ask for.
TEST(SmtpClient, PlaintextToANonLoopbackAddressIsRefusedBeforeAnythingIsSent) {
  const auto address = non_loopback_address();
  if (!address) GTEST_SKIP() << "this machine has no IPv4 address but loopback ones";
  std::atomic<bool> silent{false};
  FakeServer server([&](Peer& p) { silent = p.closes_without_more_data(); }, htonl(INADDR_ANY));
  auto ep = endpoint(server.port());
  ep.host = *address;
  auto st = send(ep, envelope(), kMessage);
  server.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(contains(st.error().message, "without TLS only to loopback")) << st.error().message;
  EXPECT_TRUE(silent.load());  // not a byte: no EHLO, let alone AUTH
}

TEST(SmtpClient, SilentServerTimesOut) {
  FakeServer server([&](Peer& p) { p.closes_without_more_data(); });
  auto ep = endpoint(server.port());
  ep.timeout = 1s;
  auto st = send(ep, envelope(), kMessage);
  server.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "timed out after 1 s during greeting"))
      << st.error().message;
}

TEST(SmtpClient, ServerThatStallsMidReplyTimesOut) {
  FakeServer server([&](Peer& p) {
    p.hello({});
    Peer::expect_prefix(p.read_line(), "MAIL FROM:");
    p.send("250-half a reply");
    p.closes_without_more_data();
  });
  auto ep = endpoint(server.port());
  ep.timeout = 1s;
  auto st = send(ep, envelope(), kMessage);
  server.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "timed out after 1 s during MAIL FROM"))
      << st.error().message;
}

TEST(SmtpClient, EndlessReplyIsCutAt64KiB) {
  std::size_t sent = 0;
  FakeServer server([&](Peer& p) {
    const std::string line = "220-" + std::string(996, 'x') + "\r\n";
    try {
      // Up to 64 MiB; the client must give up long before.
      for (; sent < (64u << 20); sent += line.size()) p.send(line);
    } catch (const std::exception&) {
    }
  });
  auto st = send(endpoint(server.port()), envelope(), kMessage);
  server.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "reply longer than 65536 bytes")) << st.error().message;
  EXPECT_LT(sent, 64u << 20);
}

TEST(SmtpClient, GarbageGreetingIsAProtocolError) {
  FakeServer server([&](Peer& p) {
    p.send("SSH-2.0-OpenSSH_9.2\r\n");
    p.closes_without_more_data();
  });
  auto st = send(endpoint(server.port()), envelope(), kMessage);
  server.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "protocol error during greeting")) << st.error().message;
}

TEST(SmtpClient, GreetingRefusals) {
  for (const auto& [greeting, kind] :
       {std::pair{"554 5.7.1 no service for you", ErrorKind::kPermanent},
        std::pair{"421 4.3.2 shutting down", ErrorKind::kUnavailable}}) {
    FakeServer server([&, g = std::string(greeting)](Peer& p) {
      p.send(g + "\r\n");
      p.closes_without_more_data();
    });
    auto st = send(endpoint(server.port()), envelope(), kMessage);
    server.join();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, kind) << greeting;
    EXPECT_TRUE(contains(st.error().message, greeting)) << st.error().message;
  }
}

TEST(SmtpClient, ServerClosingEarlyIsTransient) {
  FakeServer server([&](Peer& p) {
    p.hello({});
    p.read_line();
  });
  auto st = send(endpoint(server.port()), envelope(), kMessage);
  server.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "connection closed by the server"))
      << st.error().message;
}

TEST(SmtpClient, NoServerIsTransient) {
  // A port that was free a moment ago: bound, never listened on, closed.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  auto st = send(endpoint(ntohs(addr.sin_port)), envelope(), kMessage);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(st.error().message, "connect failed")) << st.error().message;
}

TEST(SmtpClient, InvalidRequestsFailBeforeConnecting) {
  auto ep = endpoint(1);
  auto bad_rcpt = send(ep, envelope({"alice@example.org>\r\nRCPT TO:<x@y"}), kMessage);
  ASSERT_FALSE(bad_rcpt.ok());
  EXPECT_EQ(bad_rcpt.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad_rcpt.error().field, "rcpt_to");
  EXPECT_FALSE(contains(bad_rcpt.error().message, "\r\n")) << bad_rcpt.error().message;
  auto none = send(ep, envelope({}), kMessage);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorKind::kInvalidArgument);
  ep.helo_name = "bad name";
  auto helo = send(ep, envelope(), kMessage);
  ASSERT_FALSE(helo.ok());
  EXPECT_EQ(helo.error().field, "helo_name");
  auto tls = endpoint(1);
  tls.tls = TlsMode::kImplicit;
  tls.ca_file = "/nonexistent/ca.pem";
  auto ca = send(tls, envelope(), kMessage);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(ca.error().field, "ca_file");
}

}  // namespace
}  // namespace coibridge::connectors::coi::smtp

namespace coibridge::connectors::coi::smtp {
namespace {

// Runs `mails` sends one after another through one SmtpSender; their outcomes. The sender's
// kept sockets belong to `io`, so the sender must go before it.
std::vector<Status> send_through(asio::io_context& io, SmtpSender& sender, int mails) {
  std::vector<Status> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < mails; ++i) {
          const Envelope env = envelope();
          out.push_back(co_await sender.send(io.get_executor(), env, kMessage));
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  io.restart();
  return out;
}

// One transaction of a kept session: no QUIT afterwards.
std::string accept_kept(Peer& p) {
  Peer::expect_prefix(p.read_line(), "MAIL FROM:");
  p.send("250 2.1.0 Ok\r\n");
  Peer::expect_prefix(p.read_line(), "RCPT TO:");
  p.send("250 2.1.5 Ok\r\n");
  Peer::expect_prefix(p.read_line(), "DATA");
  p.send("354 go\r\n");
  std::string data = p.read_data();
  p.send("250 2.0.0 queued\r\n");
  return data;
}

TEST(SmtpSender, ThreeMailsShareOneLoggedInSession) {
  int ehlos = 0;
  FakeServer server([&](Peer& p) {
    p.hello({"8BITMIME"});
    ++ehlos;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(contains(accept_kept(p), "hello"));
    EXPECT_TRUE(p.closes_without_more_data());  // the sender went away; no fourth mail
  });
  {
    asio::io_context io;
    SmtpSender sender(endpoint(server.port()));
    const auto out = send_through(io, sender, 3);
    ASSERT_EQ(out.size(), 3U);
    for (const auto& st : out) EXPECT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ(sender.idle_sessions(), 1U);
  }
  server.join();
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(ehlos, 1);
}

TEST(SmtpSender, ASessionTheServerDroppedIsReplacedWithoutLosingTheMail) {
  std::string second;
  FakeServer server(std::vector<FakeServer::Script>{[&](Peer& p) {
                                                      p.hello({});
                                                      accept_kept(p);
                                                      // The server ends the idle session (a 421 and
                                                      // close, as on its idle timeout).
                                                      p.send("421 4.4.2 idle too long\r\n");
                                                    },
                                                    [&](Peer& p) {
                                                      p.hello({});
                                                      second = accept_kept(p);
                                                    }});
  asio::io_context io;
  SmtpSender sender(endpoint(server.port()));
  const auto out = send_through(io, sender, 2);
  server.join();
  ASSERT_EQ(out.size(), 2U);
  EXPECT_TRUE(out[0].ok());
  EXPECT_TRUE(out[1].ok()) << out[1].error().message;
  EXPECT_TRUE(contains(second, "hello"));
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.error(), "");
}

TEST(SmtpSender, ARefusedMailIsNotRetriedAndItsSessionIsNotKept) {
  FakeServer server([&](Peer& p) {
    p.hello({});
    Peer::expect_prefix(p.read_line(), "MAIL FROM:");
    p.send("250 Ok\r\n");
    Peer::expect_prefix(p.read_line(), "RCPT TO:");
    p.send("550 5.1.1 no such user\r\n");
    Peer::expect_prefix(p.read_line(), "QUIT");
    p.send("221 bye\r\n");
  });
  asio::io_context io;
  SmtpSender sender(endpoint(server.port()));
  const auto out = send_through(io, sender, 1);
  server.join();
  ASSERT_EQ(out.size(), 1U);
  ASSERT_FALSE(out[0].ok());
  EXPECT_EQ(out[0].error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(sender.idle_sessions(), 0U);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace coibridge::connectors::coi::smtp
