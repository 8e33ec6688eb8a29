#include "connectors/coi/smtp/smtp_client.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "connectors/coi/smtp/smtp_reply.hpp"
#include "core/net/resolve.hpp"
#include "core/net/tls_client.hpp"
#include "core/text/base64.hpp"

namespace coibridge::connectors::coi::smtp {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using core::Error;
using core::Result;
using core::Status;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 8 * 1024;
// Message data is written in blocks, each with its own deadline, like RFC 5321 §4.5.3.2.5's
// per-send "data block" timeout: a large message on a slow link must not need one huge limit.
constexpr std::size_t kWriteChunk = 64 * 1024;
// QUIT comes after the message was accepted; a server slow to answer it must not hold us long.
constexpr std::chrono::seconds kMaxQuitWait{10};

class Session {
 public:
  Session(asio::any_io_executor ex, const SmtpEndpoint& ep, ssl::context& ctx)
      : ep_(ep),
        stream_(ex, ctx),
        deadline_timer_(ex),
        server_(fmt::format("{}:{}", ep.host, ep.port)),
        limit_(ep.timeout),
        deadline_(Clock::now() + ep.timeout) {}

  // One connection, one message, QUIT: send_mail.
  awaitable<Status> run(const Envelope& env, const std::string& message);
  // Connects, greets, secures and logs in: ready for transactions (SmtpSender).
  awaitable<Status> open();
  // One mail transaction on an open session (RFC 5321 §3.3: a session may carry several).
  // After an error the session is closed or unusable.
  awaitable<Status> send(const Envelope& env, const std::string& message);
  // Whether the last send() got as far as the message data: a failure before that left
  // nothing with the server, so another connection may try again.
  bool data_started() const { return data_started_; }
  void close() {
    error_code ignored;
    stream_.next_layer().close(ignored);
  }
  awaitable<void> quit();

  // Runs beside run() (awaitable operator ||): closes the connection once the current
  // step's deadline passes, which fails the pending operation. Returns when that happened,
  // or when cancelled because run() finished first.
  awaitable<void> watchdog();

  Error timeout_error() const {
    return Error::unavailable(
        fmt::format("SMTP {}: timed out after {} s during {}", server_, limit_.count(), step_));
  }

 private:
  // Starts a step: names it for errors and logs, and arms the watchdog.
  void begin(std::string step, std::chrono::seconds limit) {
    step_ = std::move(step);
    limit_ = limit;
    deadline_ = Clock::now() + limit;
  }
  void begin(std::string step) { begin(std::move(step), ep_.timeout); }

  Error net_error(const error_code& ec);
  awaitable<Status> connect();
  awaitable<Status> handshake();
  awaitable<Result<Reply>> read_reply();
  awaitable<Status> write(std::string_view data);
  // Writes one command line and reads its reply. A `secret` line is logged as `step` only.
  awaitable<Result<Reply>> command(const std::string& line, std::string step, bool secret = false);
  awaitable<Result<Capabilities>> hello();
  awaitable<Status> start_tls();
  awaitable<Status> authenticate(const Capabilities& caps);
  awaitable<Status> transaction(const Envelope& env, const Capabilities& caps,
                                const MailParams& params, const std::string& data);

  const SmtpEndpoint& ep_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer deadline_timer_;
  bool tls_ = false;
  bool data_started_ = false;
  Capabilities caps_;   // from the last EHLO of open()
  std::string server_;  // host:port, for messages
  std::string rbuf_;    // received bytes not yet parsed into replies
  std::array<char, kReadChunk> chunk_{};
  std::string step_ = "connect";
  std::chrono::seconds limit_{0};
  Clock::time_point deadline_;
};

// A session that could not be opened (no connection, no greeting, no TLS, no login): a
// transient failure then says nothing about the mail, the server is unreachable for every
// mail (Error::unreachable).
Status no_session(Status st) {
  if (st || st.error().kind != core::ErrorKind::kUnavailable) return st;
  core::Error down = st.error();
  down.unreachable = true;
  return down;
}

std::string tls_name(const SmtpEndpoint& ep) {
  return ep.tls_server_name.empty() ? ep.host : ep.tls_server_name;
}

Error Session::net_error(const error_code& ec) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return Error::unavailable(
        fmt::format("SMTP {}: connection closed by the server during {}", server_, step_));
  }
  std::string detail = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    // Say why a certificate was refused; OpenSSL's error string alone is just "certificate
    // verify failed".
    if (ep_.verify_peer) {
      if (auto why = core::certificate_refusal(stream_.native_handle(), tls_name(ep_));
          !why.empty()) {
        detail += " (" + why + ")";
      }
    }
  }
  return Error::unavailable(fmt::format("SMTP {}: {} failed: {}", server_, step_, detail));
}

awaitable<void> Session::watchdog() {
  while (true) {
    deadline_timer_.expires_at(deadline_);
    auto [ec] = co_await deadline_timer_.async_wait(kUseTuple);
    if (ec) co_return;  // cancelled: run() is done
    if (Clock::now() >= deadline_) {
      close();
      co_return;
    }
    // The deadline moved on while we waited (a new step began): wait for the new one.
  }
}

awaitable<Status> Session::connect() {
  begin("connect");
  // The watchdog bounds this step too; the lookup's own deadline keeps a hung getaddrinfo from
  // holding the coroutine after the watchdog fired.
  auto results = co_await core::resolve_with_timeout(stream_.get_executor(), ep_.host,
                                                     std::to_string(ep_.port), ep_.timeout);
  if (!results) {
    co_return Error::unavailable(
        fmt::format("SMTP {}: connect failed: {}", server_, results.error().message));
  }
  auto [cec, endpoint] = co_await asio::async_connect(stream_.next_layer(), *results, kUseTuple);
  if (cec) co_return net_error(cec);
  if (ep_.tls == TlsMode::kNone && !endpoint.address().is_loopback()) {
    // The password and every mail would cross the network in clear text (RFC 8314 §3).
    co_return Error::invalid(
        "tls", fmt::format("SMTP {}: without TLS only to loopback addresses, not {}", server_,
                           endpoint.address().to_string()));
  }
  spdlog::debug("smtp {}: connected to {}", server_, endpoint.address().to_string());
  co_return Status{};
}

awaitable<Status> Session::handshake() {
  begin("TLS handshake");
  // RFC 8314 §4.3 / RFC 6125: the certificate must be valid for the name we meant.
  if (auto p = core::prepare_tls_client(stream_.native_handle(), tls_name(ep_), ep_.verify_peer);
      !p) {
    co_return Error{p.error().kind,
                    fmt::format("SMTP {}: {}", server_, p.error().message),
                    p.error().field,
                    {}};
  }
  auto [ec] = co_await stream_.async_handshake(ssl::stream_base::client, kUseTuple);
  if (ec) co_return net_error(ec);
  tls_ = true;
  spdlog::debug("smtp {}: TLS established ({})", server_, SSL_get_version(stream_.native_handle()));
  co_return Status{};
}

awaitable<Result<Reply>> Session::read_reply() {
  while (true) {
    ParseResult parsed = parse_reply(rbuf_);
    switch (parsed.status) {
      case ParseStatus::kComplete:
        rbuf_.erase(0, parsed.consumed);
        spdlog::debug("smtp {}: S: {}", server_, parsed.reply.summary(200));
        co_return std::move(parsed.reply);
      case ParseStatus::kMalformed:
      case ParseStatus::kTooLarge:
        co_return Error::unavailable(
            fmt::format("SMTP {}: protocol error during {}: {}", server_, step_, parsed.error));
      case ParseStatus::kNeedMore:
        break;
    }
    // rbuf_ stays below kMaxReplyBytes + kReadChunk: parse_reply reports kTooLarge first.
    error_code ec;
    std::size_t n = 0;
    if (tls_) {
      std::tie(ec, n) = co_await stream_.async_read_some(asio::buffer(chunk_), kUseTuple);
    } else {
      std::tie(ec, n) =
          co_await stream_.next_layer().async_read_some(asio::buffer(chunk_), kUseTuple);
    }
    if (ec) co_return net_error(ec);
    rbuf_.append(chunk_.data(), n);
  }
}

awaitable<Status> Session::write(std::string_view data) {
  error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(data), kUseTuple);
  } else {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream_.next_layer(), asio::buffer(data), kUseTuple);
  }
  if (ec) co_return net_error(ec);
  co_return Status{};
}

awaitable<Result<Reply>> Session::command(const std::string& line, std::string step, bool secret) {
  begin(std::move(step));
  if (secret) {
    spdlog::debug("smtp {}: C: {} ***", server_, step_);
  } else {
    spdlog::debug("smtp {}: C: {}", server_, std::string_view(line).substr(0, line.size() - 2));
  }
  if (auto w = co_await write(line); !w) co_return w.error();
  co_return co_await read_reply();
}

awaitable<Result<Capabilities>> Session::hello() {
  auto r = co_await command("EHLO " + ep_.helo_name + "\r\n", "EHLO");
  if (!r) co_return r.error();
  if (r->code == 250) co_return parse_ehlo(*r);
  // RFC 5321 §3.2 / §4.1.4: a server without the service extensions answers EHLO with 500 or
  // 502 (any 5xx here); fall back to HELO and use no extension.
  if (r->kind() != 5) co_return error_from_reply(server_, "EHLO", *r);
  auto h = co_await command("HELO " + ep_.helo_name + "\r\n", "HELO");
  if (!h) co_return h.error();
  if (h->code != 250) co_return error_from_reply(server_, "HELO", *h);
  co_return Capabilities{};
}

awaitable<Status> Session::start_tls() {
  auto r = co_await command("STARTTLS\r\n", "STARTTLS");
  if (!r) co_return r.error();
  if (r->code != 220) co_return error_from_reply(server_, "STARTTLS", *r);
  // Anything the server sent after its 220 came in plaintext, possibly injected by a man in
  // the middle, and must not be taken for a reply inside TLS (RFC 3207 §4.2: nothing learnt
  // before TLS is trusted; the "response injection" flaw found in many clients in 2021).
  if (!rbuf_.empty()) {
    co_return Error::unavailable(fmt::format(
        "SMTP {}: the server sent {} bytes after its STARTTLS reply; refusing to continue", server_,
        rbuf_.size()));
  }
  co_return co_await handshake();
}

awaitable<Status> Session::authenticate(const Capabilities& caps) {
  // RFC 4954 §4. PLAIN first: one round trip with an initial response (RFC 4616).
  if (caps.has_auth("PLAIN")) {
    auto r =
        co_await command("AUTH PLAIN " + auth_plain_response(ep_.username, ep_.password) + "\r\n",
                         "AUTH PLAIN", true);
    if (!r) co_return r.error();
    if (r->code != 235) co_return error_from_reply(server_, "AUTH PLAIN", *r);
    co_return Status{};
  }
  if (caps.has_auth("LOGIN")) {
    // LOGIN (draft-murchison-sasl-login): 334 "Username:", 334 "Password:", then 235.
    auto r = co_await command("AUTH LOGIN\r\n", "AUTH LOGIN");
    if (!r) co_return r.error();
    if (r->code != 334) co_return error_from_reply(server_, "AUTH LOGIN", *r);
    r = co_await command(core::base64_encode(ep_.username) + "\r\n", "AUTH LOGIN username", true);
    if (!r) co_return r.error();
    if (r->code != 334) co_return error_from_reply(server_, "AUTH LOGIN username", *r);
    r = co_await command(core::base64_encode(ep_.password) + "\r\n", "AUTH LOGIN password", true);
    if (!r) co_return r.error();
    if (r->code != 235) co_return error_from_reply(server_, "AUTH LOGIN", *r);
    co_return Status{};
  }
  std::string offered;
  for (const auto& m : caps.auth_mechanisms) offered += (offered.empty() ? "" : " ") + m;
  co_return Error::permanent(
      fmt::format("SMTP {}: a username is configured but the server offers no AUTH PLAIN or LOGIN "
                  "(offered: {})",
                  server_, offered.empty() ? "no AUTH at all" : offered));
}

awaitable<Status> Session::transaction(const Envelope& env, const Capabilities& caps,
                                       const MailParams& params, const std::string& data) {
  const std::string mail = mail_from_command(env.mail_from, params);
  const std::string mail_step = "MAIL FROM:<" + env.mail_from + ">";

  std::optional<Error> failure;
  // A refused recipient: the first 5xx wins over any 4xx (the message would never reach
  // that recipient, retrying cannot help).
  auto note_rcpt = [&](const std::string& rcpt, const Reply& r) {
    if (r.code == 250 || r.code == 251) return;  // 251: not local, will forward (§3.4)
    Error e = error_from_reply(server_, "RCPT TO:<" + rcpt + ">", r);
    if (!failure ||
        (e.kind == core::ErrorKind::kPermanent && failure->kind != core::ErrorKind::kPermanent)) {
      failure = std::move(e);
    }
  };

  std::optional<Reply> data_reply;
  if (caps.pipelining) {
    // RFC 2920 §3.1: MAIL, RCPTs and DATA go in one group (DATA last), the replies come back
    // in order.
    std::string batch = mail;
    for (const auto& rcpt : env.rcpt_to) batch += rcpt_to_command(rcpt);
    batch += "DATA\r\n";
    begin("MAIL FROM/RCPT TO/DATA (pipelined)");
    spdlog::debug("smtp {}: C: {} (+{} RCPT, DATA, pipelined)", server_,
                  std::string_view(mail).substr(0, mail.size() - 2), env.rcpt_to.size());
    if (auto w = co_await write(batch); !w) co_return w.error();
    begin(mail_step);
    auto m = co_await read_reply();
    if (!m) co_return m.error();
    const bool mail_ok = m->code == 250;
    if (!mail_ok) failure = error_from_reply(server_, mail_step, *m);
    for (const auto& rcpt : env.rcpt_to) {
      begin("RCPT TO:<" + rcpt + ">");
      auto r = co_await read_reply();
      if (!r) co_return r.error();
      // After a refused MAIL the RCPT replies only say "need MAIL first" (503).
      if (mail_ok) note_rcpt(rcpt, *r);
    }
    begin("DATA");
    auto d = co_await read_reply();
    if (!d) co_return d.error();
    data_reply = std::move(*d);
  } else {
    auto m = co_await command(mail, mail_step);
    if (!m) co_return m.error();
    if (m->code != 250) failure = error_from_reply(server_, mail_step, *m);
    const auto decided = [&] { return failure && failure->kind == core::ErrorKind::kPermanent; };
    for (std::size_t i = 0; !decided() && i < env.rcpt_to.size(); ++i) {
      auto r =
          co_await command(rcpt_to_command(env.rcpt_to[i]), "RCPT TO:<" + env.rcpt_to[i] + ">");
      if (!r) co_return r.error();
      note_rcpt(env.rcpt_to[i], *r);
    }
    if (!failure) {
      auto d = co_await command("DATA\r\n", "DATA");
      if (!d) co_return d.error();
      data_reply = std::move(*d);
    }
  }

  if (failure) {
    if (data_reply && data_reply->code == 354) {
      // The server waits for message data although we gave up on the transaction (a
      // pipelined DATA after a refused recipient). Any further line would become message
      // text, and "." would deliver to the accepted recipients: drop the connection, which
      // aborts the transaction (RFC 5321 §3.8).
      close();
    } else {
      co_await quit();
    }
    co_return *failure;
  }
  if (data_reply->code != 354) {
    Error e = error_from_reply(server_, "DATA", *data_reply);
    co_await quit();
    co_return e;
  }

  data_started_ = true;
  spdlog::debug("smtp {}: C: <{} bytes of message data>", server_, data.size());
  for (std::size_t off = 0; off < data.size(); off += kWriteChunk) {
    begin("message data");
    const std::size_t n = std::min(kWriteChunk, data.size() - off);
    if (auto w = co_await write(std::string_view(data).substr(off, n)); !w) co_return w.error();
  }
  begin("end of data");
  auto done = co_await read_reply();
  if (!done) co_return done.error();
  if (done->code != 250) {
    Error e = error_from_reply(server_, "message data", *done);
    co_await quit();
    co_return e;
  }
  spdlog::debug("smtp {}: message accepted: {}", server_, done->summary(200));
  co_return Status{};
}

awaitable<void> Session::quit() {
  begin("QUIT", std::min(ep_.timeout, kMaxQuitWait));
  spdlog::debug("smtp {}: C: QUIT", server_);
  if (auto w = co_await write("QUIT\r\n"); w) {
    // RFC 5321 §4.1.1.10: wait for the 221; its content does not matter any more.
    (void)co_await read_reply();
  }
  close();
}

awaitable<Status> Session::run(const Envelope& env, const std::string& message) {
  if (auto o = co_await open(); !o) co_return no_session(std::move(o));
  if (auto t = co_await send(env, message); !t) co_return t;
  co_await quit();
  co_return Status{};
}

awaitable<Status> Session::open() {
  if (auto c = co_await connect(); !c) co_return c;
  if (ep_.tls == TlsMode::kImplicit) {
    if (auto h = co_await handshake(); !h) co_return h;
  }
  begin("greeting");
  auto greeting = co_await read_reply();
  if (!greeting) co_return greeting.error();
  if (greeting->code != 220) co_return error_from_reply(server_, "greeting", *greeting);

  auto caps = co_await hello();
  if (!caps) co_return caps.error();
  if (ep_.tls == TlsMode::kStartTls) {
    // Never fall back to plaintext when TLS was asked for: a man in the middle can strip
    // STARTTLS from the EHLO reply (RFC 3207 §6).
    if (!caps->starttls) {
      co_await quit();
      co_return Error::unavailable(fmt::format(
          "SMTP {}: the server does not offer STARTTLS; refusing to continue without TLS",
          server_));
    }
    if (auto t = co_await start_tls(); !t) co_return t;
    // RFC 3207 §4.2: forget what the server said before TLS and ask again.
    caps = co_await hello();
    if (!caps) co_return caps.error();
  }
  if (!ep_.username.empty()) {
    if (auto a = co_await authenticate(*caps); !a) {
      co_await quit();
      // Refused credentials are the account's problem, not the message's: retrying with
      // backoff lets an operator fix them before the queue is dead-lettered message by message.
      Error e = a.error();
      if (e.kind == core::ErrorKind::kPermanent) e.kind = core::ErrorKind::kUnavailable;
      co_return e;
    }
  }
  caps_ = std::move(*caps);
  co_return Status{};
}

awaitable<Status> Session::send(const Envelope& env, const std::string& message) {
  // A kept session's deadline is that of its last step: a fresh one before the watchdog looks.
  begin("MAIL FROM");
  data_started_ = false;
  const Capabilities* caps = &caps_;
  // Decide on parameters before sending anything of the transaction.
  std::string data = normalize_line_endings(message);
  MailParams params;
  // RFC 1870 §6: the declared size counts CRLF line endings but not dot-stuffing.
  const std::uint64_t size = data.size();
  if (caps->size) params.size = size;
  if (caps->size && caps->size_limit > 0 && size > caps->size_limit) {
    co_await quit();
    co_return Error::permanent(
        fmt::format("SMTP {}: message of {} bytes exceeds the server's limit of {} bytes", server_,
                    size, caps->size_limit));
  }
  if (has_8bit(data)) {
    // RFC 6152 §3: 8-bit data only to a server that offers 8BITMIME. Converting to 7 bit would
    // need MIME re-encoding, which is the message composer's business.
    if (!caps->eightbitmime) {
      co_await quit();
      co_return Error::permanent(fmt::format(
          "SMTP {}: the message has 8-bit data and the server does not offer 8BITMIME", server_));
    }
    params.body_8bitmime = true;
  }
  bool utf8_envelope = has_non_ascii(env.mail_from);
  for (const auto& r : env.rcpt_to) utf8_envelope = utf8_envelope || has_non_ascii(r);
  if (utf8_envelope) {
    // RFC 6531 §3.4: UTF-8 addresses only with SMTPUTF8 on MAIL FROM.
    if (!caps->smtputf8) {
      co_await quit();
      co_return Error::permanent(fmt::format(
          "SMTP {}: an envelope address is not ASCII and the server does not offer SMTPUTF8",
          server_));
    }
    params.smtputf8 = true;
  }
  data = dot_stuff(data);

  co_return co_await transaction(env, *caps, params, data);
}

// Input quoted in an error message, control characters replaced (a CR LF in an address
// must not forge log lines).
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 300));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

Status check_request(const SmtpEndpoint& ep, const Envelope& env) {
  if (ep.host.empty()) return Error::invalid("host", "SMTP host is empty");
  if (ep.port == 0) return Error::invalid("port", "SMTP port is 0");
  if (ep.timeout.count() <= 0) return Error::invalid("timeout", "SMTP timeout must be positive");
  if (!valid_helo_name(ep.helo_name)) {
    return Error::invalid("helo_name",
                          "SMTP HELO name \"" + printable(ep.helo_name) + "\" is not valid");
  }
  if (!valid_address(env.mail_from, true)) {
    return Error::invalid("mail_from",
                          "envelope sender \"" + printable(env.mail_from) + "\" is not valid");
  }
  if (env.rcpt_to.empty()) return Error::invalid("rcpt_to", "no envelope recipient");
  for (const auto& r : env.rcpt_to) {
    if (!valid_address(r, false)) {
      return Error::invalid("rcpt_to", "envelope recipient \"" + printable(r) + "\" is not valid");
    }
  }
  return {};
}

Status setup_tls(ssl::context& ctx, const SmtpEndpoint& ep) {
  core::TlsClientOptions options;
  options.ca_file = ep.ca_file;
  options.verify_peer = ep.verify_peer;
  options.label = fmt::format("smtp {}:{}", ep.host, ep.port);
  return core::configure_tls_client(ctx, options);
}

// One step of a session on its strand, closed by the watchdog when the step's deadline passes.
awaitable<Status> with_deadline(Session& session, awaitable<Status> step) {
  using namespace asio::experimental::awaitable_operators;
  auto watching = session.watchdog();
  auto result = co_await (std::move(step) || std::move(watching));
  if (result.index() == 1) co_return session.timeout_error();
  co_return std::get<0>(std::move(result));
}

// One session on `ex`, which must be a strand (or single-threaded): run() and watchdog() share
// the connection and the deadline.
awaitable<Status> run_session(asio::any_io_executor ex, const SmtpEndpoint& ep, const Envelope& env,
                              const std::string& message) {
  using namespace asio::experimental::awaitable_operators;
  ssl::context ctx(ssl::context::tls_client);
  if (ep.tls == TlsMode::kNone) {
    spdlog::warn("smtp {}:{}: sending without TLS (TlsMode::kNone; meant for loopback tests)",
                 ep.host, ep.port);
  } else if (auto t = setup_tls(ctx, ep); !t) {
    co_return t;
  }
  Session session(ex, ep, ctx);
  auto running = session.run(env, message);
  co_return co_await with_deadline(session, std::move(running));
}

}  // namespace

// A kept session: its strand, its TLS context and the session itself.
struct SmtpSender::Connection {
  Connection(asio::any_io_executor ex, const SmtpEndpoint& ep)
      : strand(asio::make_strand(ex)), ctx(ssl::context::tls_client), session(strand, ep, ctx) {}
  asio::strand<asio::any_io_executor> strand;
  ssl::context ctx;
  Session session;
  Clock::time_point idle_since{};

  // Each awaitable is named before the co_await: g++ 12 mishandles temporaries there.
  awaitable<Status> open() {
    auto step = session.open();
    co_return no_session(co_await with_deadline(session, std::move(step)));
  }
  awaitable<Status> send(const Envelope& env, const std::string& message) {
    auto step = session.send(env, message);
    co_return co_await with_deadline(session, std::move(step));
  }
};

SmtpSender::SmtpSender(SmtpEndpoint ep, std::size_t max_idle, std::chrono::seconds idle_for)
    : ep_(std::move(ep)), max_idle_(max_idle), idle_for_(idle_for) {}

SmtpSender::~SmtpSender() {
  for (auto& connection : idle_) connection->session.close();
}

std::shared_ptr<SmtpSender::Connection> SmtpSender::take() {
  std::lock_guard lock(mu_);
  while (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    // Servers drop idle clients (Postfix after 300 s): an old session is not worth a try.
    if (Clock::now() - connection->idle_since < idle_for_) return connection;
    connection->session.close();
  }
  return nullptr;
}

void SmtpSender::give_back(std::shared_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (idle_.size() >= max_idle_) {
    connection->session.close();
    return;
  }
  connection->idle_since = Clock::now();
  idle_.push_back(std::move(connection));
}

std::size_t SmtpSender::idle_sessions() {
  std::lock_guard lock(mu_);
  return idle_.size();
}

awaitable<Status> SmtpSender::send(asio::any_io_executor ex, const Envelope& env,
                                   const std::string& message) {
  if (auto c = check_request(ep_, env); !c) co_return c;
  for (int attempt = 1;; ++attempt) {
    auto connection = take();
    const bool reused = connection != nullptr;
    Status st;
    if (!reused) {
      connection = std::make_shared<Connection>(ex, ep_);
      if (ep_.tls == TlsMode::kNone) {
        spdlog::warn("smtp {}:{}: sending without TLS (TlsMode::kNone; meant for loopback tests)",
                     ep_.host, ep_.port);
      } else {
        st = setup_tls(connection->ctx, ep_);
      }
      if (st) {
        auto opening = connection->open();
        st = co_await asio::co_spawn(connection->strand, std::move(opening), asio::use_awaitable);
      }
    }
    if (st) {
      auto sending = connection->send(env, message);
      st = co_await asio::co_spawn(connection->strand, std::move(sending), asio::use_awaitable);
    }
    if (st) {
      give_back(std::move(connection));
      co_return st;
    }
    connection->session.close();
    // A kept session the server has dropped fails before any of the mail was sent: once more
    // on a new connection. Anything else is the answer.
    if (!reused || attempt > 1 || connection->session.data_started() ||
        st.error().kind != core::ErrorKind::kUnavailable) {
      co_return st;
    }
    spdlog::debug("smtp {}:{}: kept session unusable ({}); reconnecting", ep_.host, ep_.port,
                  st.error().message);
  }
}

awaitable<Status> send_mail(asio::any_io_executor ex, const SmtpEndpoint& ep, const Envelope& env,
                            const std::string& message) {
  if (auto c = check_request(ep, env); !c) co_return c;
  // A private strand: the caller's executor may be a thread pool, and the session's two
  // coroutines must not run at the same time.
  auto strand = asio::make_strand(ex);
  co_return co_await asio::co_spawn(strand, run_session(strand, ep, env, message),
                                    asio::use_awaitable);
}

}  // namespace coibridge::connectors::coi::smtp
