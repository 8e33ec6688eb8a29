#include "connectors/coi/imap/imap_session.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <tuple>
#include <utility>
#include <variant>

#include "connectors/coi/imap/imap_parser.hpp"
#include "connectors/coi/imap/imap_quote.hpp"
#include "core/net/resolve.hpp"
#include "core/net/timeout.hpp"
#include "core/net/tls_client.hpp"
#include "core/text/base64.hpp"

namespace coibridge::connectors::coi::imap {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using core::Error;
using core::Result;
using core::Status;
using core::with_timeout;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;
// Upper bound on max_count, so the bookkeeping of one fetch stays small.
constexpr std::size_t kMaxFetchCount = 100000;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Server text for messages and logs: bounded, one line.
std::string clip(std::string_view s) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u != 0x7f) ? c : '?';
  }
  if (s.size() > kMax) out += "...";
  return out;
}

std::string status_text(const Response& r) {
  std::string s = r.name;
  if (r.code) {
    s += " [" + r.code->name;
    if (!r.code->raw_args.empty()) s += " " + r.code->raw_args;
    s += "]";
  }
  if (!r.text.empty()) s += " " + r.text;
  return clip(s);
}

// A tagged NO/BAD as an error. Response codes of RFC 5530 say whether trying again later
// can help.
Error refusal(std::string_view label, std::string_view what, const Response& tagged) {
  const std::string code = tagged.code ? tagged.code->name : std::string();
  const std::string msg = fmt::format("IMAP {}: {} refused: {}", label, what, status_text(tagged));
  if (code == "UNAVAILABLE" || code == "INUSE" || code == "SERVERBUG" || code == "LIMIT" ||
      code == "OVERQUOTA" || code == "EXPUNGEISSUED" || code == "CORRUPTION") {
    return Error::unavailable(msg);
  }
  if (code == "NONEXISTENT" || code == "TRYCREATE") return Error::not_found(msg);
  return Error::permanent(msg);
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace

struct ImapSession::Impl {
  Impl(asio::any_io_executor executor, ImapEndpoint endpoint)
      : ex(std::move(executor)),
        ep(std::move(endpoint)),
        ssl_ctx(ssl::context::tls_client),
        stream(ex, ssl_ctx),
        parser(limits_for(ep)),
        label(fmt::format("{}:{}", ep.host, ep.port)) {}

  ~Impl() { wipe(ep.password); }

  static ParserLimits limits_for(const ImapEndpoint& e) {
    ParserLimits l;
    // RFC822.SIZE and the BODY[] literal should agree, but servers that store LF line ends
    // have been seen to differ: allow 1/8 slack over the largest accepted message.
    l.max_literal_bytes = e.max_message_bytes + e.max_message_bytes / 8 + 64 * 1024;
    l.max_response_bytes = l.max_literal_bytes + 4 * 1024 * 1024;
    return l;
  }

  // ---- State -----------------------------------------------------------------------------
  asio::any_io_executor ex;
  ImapEndpoint ep;
  ssl::context ssl_ctx;
  ssl::stream<tcp::socket> stream;
  bool tls = false;
  bool broken = false;
  bool busy = false;
  ResponseParser parser;
  std::vector<std::string> caps;
  std::uint32_t tag_counter = 0;
  std::string label;
  std::string bye_text;
  std::vector<char> rbuf = std::vector<char>(kReadChunk);

  bool selected = false;
  bool in_select = false;
  bool enabled_done = false;
  bool condstore = false;
  bool qresync = false;
  MailboxState state;
  bool change_pending = false;

  // ---- Helpers ---------------------------------------------------------------------------
  Error fail(Error e) {
    broken = true;
    spdlog::debug("imap {}: session unusable: {}", label, e.message);
    return e;
  }
  Error unavailable(std::string_view what) {
    return fail(Error::unavailable(fmt::format("IMAP {}: {}", label, what)));
  }
  Error net_error(std::string_view step, const error_code& ec) {
    std::string what = fmt::format("{}: {}", step, ec.message());
    if (!bye_text.empty()) what += fmt::format(" (server said BYE {})", bye_text);
    return unavailable(what);
  }
  Error timeout(std::string_view step) {
    return unavailable(fmt::format("{} timed out after {}s", step, ep.timeout.count()));
  }

  bool has_cap(std::string_view cap) const {
    const std::string u = upper(cap);
    return std::find(caps.begin(), caps.end(), u) != caps.end();
  }
  LiteralMode literal_mode() const {
    if (has_cap("LITERAL+")) return LiteralMode::kPlus;
    if (has_cap("LITERAL-")) return LiteralMode::kMinus;
    return LiteralMode::kSynchronizing;
  }
  std::string next_tag() { return fmt::format("A{:04}", ++tag_counter); }

  // ---- Raw I/O ---------------------------------------------------------------------------
  asio::awaitable<std::tuple<error_code, std::size_t>> read_some() {
    if (tls) co_return co_await stream.async_read_some(asio::buffer(rbuf), kAwait);
    co_return co_await stream.next_layer().async_read_some(asio::buffer(rbuf), kAwait);
  }

  asio::awaitable<std::tuple<error_code, std::size_t>> write_raw(std::string_view data) {
    if (tls) co_return co_await asio::async_write(stream, asio::buffer(data), kAwait);
    co_return co_await asio::async_write(stream.next_layer(), asio::buffer(data), kAwait);
  }

  asio::awaitable<Status> write_all(std::string_view data) {
    auto r = co_await with_timeout(write_raw(data), ep.timeout);
    if (!r) co_return timeout("write");
    if (auto [ec, n] = *r; ec) co_return net_error("write", ec);
    co_return Status();
  }

  // The next response; `limit` bounds each read (no progress for that long fails).
  asio::awaitable<Result<Response>> read_response(Clock::duration limit) {
    for (;;) {
      auto next = parser.next();
      if (!next.ok()) co_return unavailable("protocol error: " + next.error().message);
      if (*next) {
        Response r = std::move(**next);
        if (r.kind == ResponseKind::kUntagged && r.condition == Condition::kBye) {
          bye_text = clip(r.text);
        }
        co_return r;
      }
      auto got = co_await with_timeout(read_some(), limit);
      if (!got) co_return timeout("read");
      auto [ec, n] = *got;
      if (ec) co_return net_error("read", ec);
      parser.feed(std::string_view(rbuf.data(), n));
    }
  }

  // Bookkeeping every untagged response gets, whichever command it arrives during
  // (RFC 3501 §7: the server may send EXISTS, EXPUNGE, FETCH flags... at any time).
  void note_untagged(const Response& r) {
    if (r.is_status()) {
      if (r.code) note_code(*r.code);
      if (r.code && r.code->name == "ALERT") {
        // RFC 3501 §7.1: ALERT text must be shown to the user; the operator is our user.
        spdlog::warn("imap {}: server alert: {}", label, clip(r.text));
      }
      return;
    }
    if (r.name == "CAPABILITY") {
      caps = decode_capabilities(r.data);
    } else if (r.name == "EXISTS" && r.number) {
      if (selected && !in_select && *r.number > state.exists) change_pending = true;
      state.exists = *r.number;
    } else if (r.name == "EXPUNGE" && r.number) {
      if (state.exists > 0) --state.exists;
      if (selected && !in_select) change_pending = true;
    } else if (r.name == "VANISHED") {
      auto v = decode_vanished(r);
      // VANISHED (EARLIER) only answers a QRESYNC resync; plain VANISHED is a live expunge
      // (RFC 7162 §3.2.10) and, like EXPUNGE, lowers the message count.
      if (v.ok() && !v->earlier) {
        state.exists =
            v->count >= state.exists ? 0 : state.exists - static_cast<std::uint32_t>(v->count);
        if (selected && !in_select) change_pending = true;
      }
    } else if (r.name == "ENABLED") {
      for (const auto& c : decode_capabilities(r.data)) {
        if (c == "CONDSTORE") condstore = true;
        if (c == "QRESYNC") qresync = condstore = true;  // RFC 7162 §3.2.3
      }
    }
  }

  void note_code(const ResponseCode& code) {
    if (code.name == "CAPABILITY") {
      caps = decode_capabilities(code.args);
      return;
    }
    if (!in_select) return;
    auto n = code_number(code);
    if (code.name == "UIDVALIDITY" && n && *n <= UINT32_MAX) {
      state.uidvalidity = static_cast<std::uint32_t>(*n);
    } else if (code.name == "UIDNEXT" && n && *n <= UINT32_MAX) {
      state.uidnext = static_cast<std::uint32_t>(*n);
    } else if (code.name == "HIGHESTMODSEQ" && n) {
      state.highestmodseq = *n;
    } else if (code.name == "NOMODSEQ") {
      state.highestmodseq = 0;
    } else if (code.name == "CLOSED") {
      // RFC 7162 §3.2.11: what came before [CLOSED] was about the previous mailbox.
      state = MailboxState{};
    }
  }

  using UntaggedHandler = std::function<Status(Response&)>;

  // Sends a command and reads until its tagged completion. Untagged responses go through
  // note_untagged and then `on_untagged`. Returns the tagged response (OK, NO or BAD);
  // errors only for failures that leave the session unusable.
  asio::awaitable<Result<Response>> command(const CommandBuilder& cmd,
                                            const UntaggedHandler& on_untagged = {}) {
    if (broken) {
      co_return Error::unavailable(
          fmt::format("IMAP {}: session unusable after an earlier error", label));
    }
    const std::string tag = next_tag();
    auto encoded = cmd.build(tag, literal_mode());
    if (!encoded.ok()) co_return encoded.error();
    spdlog::debug("imap {}: {} {}", label, tag, cmd.verb());

    auto result = co_await exchange(tag, *encoded, on_untagged);
    if (encoded->secret) {
      for (auto& p : encoded->parts) wipe(p);
    }
    co_return result;
  }

  asio::awaitable<Result<Response>> exchange(const std::string& tag, const EncodedCommand& cmd,
                                             const UntaggedHandler& on_untagged) {
    for (std::size_t i = 0; i < cmd.parts.size(); ++i) {
      if (auto w = co_await write_all(cmd.parts[i]); !w.ok()) co_return w.error();
      const bool last = i + 1 == cmd.parts.size();
      for (;;) {
        auto r = co_await read_response(ep.timeout);
        if (!r.ok()) co_return r.error();
        if (r->kind == ResponseKind::kContinuation) {
          if (last) co_return unavailable("unexpected continuation request");
          break;  // send the next part (a synchronizing literal, RFC 3501 §7.5)
        }
        if (r->kind == ResponseKind::kTagged) {
          if (r->tag != tag) co_return unavailable("response for unknown tag " + clip(r->tag));
          // Before the last part this is the server refusing the literal: stop there.
          co_return std::move(*r);
        }
        note_untagged(*r);
        if (on_untagged) {
          if (auto s = on_untagged(*r); !s.ok()) co_return fail(s.error());
        }
      }
    }
    co_return unavailable("command ended without a tagged response");  // not reached
  }

  // A command that must succeed: NO/BAD become errors.
  asio::awaitable<Result<Response>> command_ok(std::string_view what, const CommandBuilder& cmd,
                                               const UntaggedHandler& on_untagged = {}) {
    auto r = co_await command(cmd, on_untagged);
    if (!r.ok()) co_return r.error();
    if (r->condition != Condition::kOk) co_return refusal(label, what, *r);
    co_return r;
  }

  // ---- Connection set-up -----------------------------------------------------------------
  asio::awaitable<Status> open() {
    if (ep.host.empty()) co_return Error::invalid("host", "IMAP host is empty");
    if (ep.port == 0) co_return Error::invalid("port", "IMAP port is 0");
    if (auto s = setup_tls_context(); !s.ok()) co_return s;

    auto endpoints =
        co_await core::resolve_with_timeout(ex, ep.host, std::to_string(ep.port), ep.timeout);
    if (!endpoints) co_return unavailable(endpoints.error().message);

    auto connected = co_await with_timeout(
        asio::async_connect(stream.next_layer(), *endpoints, kAwait), ep.timeout);
    if (!connected) co_return timeout("connect");
    if (auto [cec, peer] = *connected; cec) co_return net_error("connect", cec);

    if (ep.tls == TlsMode::kNone) {
      error_code ec;
      const auto peer = stream.next_layer().remote_endpoint(ec);
      if (ec || !peer.address().is_loopback()) {
        co_return Error::invalid("tls", "IMAP without TLS is allowed to loopback addresses only");
      }
      spdlog::warn("imap {}: TLS DISABLED: credentials and mail travel in clear text (tests only)",
                   label);
    }
    if (ep.tls == TlsMode::kImplicit) {
      if (auto s = co_await handshake(); !s.ok()) co_return s;
    }

    auto greeting = co_await read_response(ep.timeout);
    if (!greeting.ok()) co_return greeting.error();
    // RFC 3501 §7.1: the greeting is an untagged OK, PREAUTH or BYE.
    if (greeting->kind != ResponseKind::kUntagged || !greeting->is_status() ||
        greeting->condition == Condition::kNo || greeting->condition == Condition::kBad) {
      co_return unavailable("not an IMAP greeting: " + status_text(*greeting));
    }
    if (greeting->condition == Condition::kBye) {
      co_return unavailable("server refused the connection: " + clip(greeting->text));
    }
    note_untagged(*greeting);  // Dovecot: * OK [CAPABILITY ...] Dovecot ready.
    const bool preauth = greeting->condition == Condition::kPreauth;

    if (ep.tls == TlsMode::kStartTls) {
      if (preauth) {
        // STARTTLS is valid only in the not-authenticated state (RFC 3501 §6.2.1).
        co_return fail(Error::permanent(fmt::format(
            "IMAP {}: server pre-authenticated the plain connection; STARTTLS impossible", label)));
      }
      if (auto s = co_await starttls(); !s.ok()) co_return s;
    }
    if (caps.empty()) {
      if (auto s = co_await capability(); !s.ok()) co_return s;
    }
    if (!preauth) {
      if (auto s = co_await authenticate(); !s.ok()) co_return s;
    }
    wipe(ep.password);
    spdlog::info("imap {}: logged in as {} ({})", label, ep.username, tls ? "TLS" : "no TLS");
    co_return Status();
  }

  Status setup_tls_context() {
    if (ep.tls == TlsMode::kNone) return Status();
    core::TlsClientOptions options;
    options.ca_file = ep.ca_file;
    options.verify_peer = ep.verify_peer;
    options.label = "imap " + label;
    if (auto s = core::configure_tls_client(ssl_ctx, options); !s) {
      return Error::invalid("ca_file", fmt::format("IMAP {}: {}", label, s.error().message));
    }
    return Status();
  }

  asio::awaitable<Status> handshake() {
    const std::string name = ep.tls_server_name.empty() ? ep.host : ep.tls_server_name;
    // RFC 8314 §4.3: the certificate must name the server we meant to reach.
    if (auto p = core::prepare_tls_client(stream.native_handle(), name, ep.verify_peer); !p) {
      co_return p;
    }
    auto r =
        co_await with_timeout(stream.async_handshake(ssl::stream_base::client, kAwait), ep.timeout);
    if (!r) co_return timeout("TLS handshake");
    if (auto [ec] = *r; ec) {
      const std::string refusal = core::certificate_refusal(stream.native_handle(), name);
      const bool verify_failed =
          !refusal.empty() || (ec.category() == asio::error::get_ssl_category() &&
                               ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
                                   SSL_R_CERTIFICATE_VERIFY_FAILED);
      if (ep.verify_peer && verify_failed) {
        // Trying again will not make the certificate trusted: an operator must act.
        co_return fail(Error::permanent(
            fmt::format("IMAP {}: TLS certificate of {} not accepted: {}", label, name,
                        refusal.empty() ? "certificate verify failed" : refusal)));
      }
      co_return net_error("TLS handshake", ec);
    }
    tls = true;
    co_return Status();
  }

  asio::awaitable<Status> capability() {
    auto r = co_await command_ok("CAPABILITY", CommandBuilder("CAPABILITY"));
    if (!r.ok()) co_return r.error();
    co_return Status();
  }

  asio::awaitable<Status> starttls() {
    if (!has_cap("STARTTLS")) {
      // Never fall back to plain text: that is exactly what an attacker stripping
      // STARTTLS from the capability list wants (RFC 3501 §11.1).
      co_return fail(
          Error::permanent(fmt::format("IMAP {}: server does not offer STARTTLS", label)));
    }
    auto r = co_await command_ok("STARTTLS", CommandBuilder("STARTTLS"));
    if (!r.ok()) co_return r.error();
    if (parser.pending_bytes() != 0) {
      co_return unavailable("data after the STARTTLS response (possible injection)");
    }
    if (auto s = co_await handshake(); !s.ok()) co_return s;
    // RFC 3501 §6.2.1: discard what was learnt before TLS and ask again.
    caps.clear();
    co_return co_await capability();
  }

  asio::awaitable<Status> authenticate() {
    Result<Response> r = Error::internal("no login attempted");
    if (has_cap("AUTH=PLAIN")) {
      if (ep.username.find('\0') != std::string::npos ||
          ep.password.find('\0') != std::string::npos) {
        co_return Error::invalid("username", "IMAP user name or password contains NUL");
      }
      // RFC 4616 §2: [authzid] NUL authcid NUL passwd; no authzid.
      std::string message;
      message.append(1, '\0').append(ep.username).append(1, '\0').append(ep.password);
      EncodedCommand cmd;
      cmd.secret = true;
      const std::string tag = next_tag();
      std::string ir = core::base64_encode(message);
      wipe(message);
      if (has_cap("SASL-IR")) {  // RFC 4959: initial response on the command line
        cmd.parts.push_back(fmt::format("{} AUTHENTICATE PLAIN {}\r\n", tag, ir));
      } else {  // RFC 3501 §6.2.2: wait for "+ " and send the response as its own line
        cmd.parts.push_back(fmt::format("{} AUTHENTICATE PLAIN\r\n", tag));
        cmd.parts.push_back(ir + "\r\n");
      }
      wipe(ir);
      if (broken) co_return Error::unavailable("session unusable");
      spdlog::debug("imap {}: {} AUTHENTICATE PLAIN", label, tag);
      r = co_await exchange(tag, cmd, {});
      for (auto& p : cmd.parts) wipe(p);
    } else if (has_cap("LOGINDISABLED")) {
      co_return fail(Error::permanent(fmt::format(
          "IMAP {}: server offers neither AUTH=PLAIN nor LOGIN (LOGINDISABLED)", label)));
    } else {
      r = co_await command(
          CommandBuilder("LOGIN").string(ep.username).string(ep.password).secret());
    }
    if (!r.ok()) co_return r.error();
    if (r->condition != Condition::kOk) {
      // The server's words only: our request held the password.
      Error e = refusal(label, "login", *r);
      if (e.kind != core::ErrorKind::kUnavailable) e.kind = core::ErrorKind::kPermanent;
      e.message =
          fmt::format("IMAP {}: login as {} refused: {}", label, ep.username, status_text(*r));
      co_return e;
    }
    // RFC 3501 §6.2.3: capabilities may change after login. Dovecot sends them in the
    // tagged OK; otherwise ask.
    if (r->code && r->code->name == "CAPABILITY") {
      caps = decode_capabilities(r->code->args);
      co_return Status();
    }
    co_return co_await capability();
  }

  // ---- Mailbox operations ----------------------------------------------------------------
  Status need_selected() const {
    if (!selected) return Error::invalid("mailbox", "no mailbox selected");
    return Status();
  }

  asio::awaitable<Status> enable_extensions() {
    if (enabled_done) co_return Status();
    enabled_done = true;
    if (!has_cap("ENABLE")) co_return Status();
    // RFC 7162 §3.2.3: ENABLE QRESYNC implies CONDSTORE; with it expunges arrive as
    // VANISHED with UIDs, and SELECT reports HIGHESTMODSEQ.
    const char* ext = has_cap("QRESYNC") ? "QRESYNC" : has_cap("CONDSTORE") ? "CONDSTORE" : nullptr;
    if (ext == nullptr) co_return Status();
    auto r = co_await command(CommandBuilder("ENABLE").raw(ext));
    if (!r.ok()) co_return r.error();
    co_return Status();  // a refusal only means no CONDSTORE
  }

  asio::awaitable<Result<MailboxState>> select(const std::string& mailbox) {
    if (auto s = co_await enable_extensions(); !s.ok()) co_return s.error();
    CommandBuilder cmd("SELECT");
    cmd.mailbox(mailbox);
    // Without ENABLE, the SELECT parameter turns CONDSTORE on (RFC 7162 §3.1.8).
    if (!condstore && has_cap("CONDSTORE") && !has_cap("ENABLE")) cmd.raw("(CONDSTORE)");
    selected = false;
    in_select = true;
    state = MailboxState{};
    auto r = co_await command(cmd);
    in_select = false;
    if (!r.ok()) co_return r.error();
    // A failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
    if (r->condition != Condition::kOk) co_return refusal(label, "SELECT " + clip(mailbox), *r);
    if (state.uidvalidity == 0) {
      co_return Error::permanent(
          fmt::format("IMAP {}: SELECT {} without UIDVALIDITY", label, clip(mailbox)));
    }
    selected = true;
    change_pending = false;
    co_return state;
  }

  asio::awaitable<Result<std::vector<FetchedMessage>>> fetch_from(std::uint32_t from,
                                                                  std::size_t max_count) {
    if (auto s = need_selected(); !s.ok()) co_return s.error();
    std::vector<FetchedMessage> out;
    if (max_count == 0) co_return out;
    max_count = std::min<std::size_t>(max_count, kMaxFetchCount);
    from = std::max<std::uint32_t>(from, 1);
    // Anything reported from here on may not be part of this fetch: let idle() see it.
    change_pending = false;

    // Step 1: which UIDs, and how big. One small response per message keeps every line
    // short, whatever the mailbox size (a UID SEARCH answer is one line for all of them).
    // With ESEARCH (RFC 4731) we first learn the sequence number of the first message at or
    // above `from` and look at just max_count messages from there; without it, at every
    // message from `from` on, which makes catching up on a large backlog quadratic.
    CommandBuilder step1_cmd("UID FETCH");
    bool more_after_window = false;
    if (has_cap("ESEARCH")) {
      std::optional<std::uint64_t> first_seq;
      auto search = co_await command_ok(
          "SEARCH", CommandBuilder("SEARCH").raw("RETURN (MIN)").raw(fmt::format("UID {}:*", from)),
          [&](Response& r) -> Status {
            // "* ESEARCH (TAG "A0007") MIN 42", or no MIN when nothing matched.
            if (r.name != "ESEARCH") return Status();
            for (std::size_t i = 0; i + 1 < r.data.size(); ++i) {
              if (r.data[i].is_atom("MIN") && r.data[i + 1].is_number()) {
                first_seq = r.data[i + 1].number;
              }
            }
            return Status();
          });
      if (!search.ok()) co_return search.error();
      if (!first_seq || *first_seq == 0) co_return out;
      // Sequence numbers cannot shift under us between the SEARCH and this FETCH: a server
      // sends no EXPUNGE while answering (non-UID) SEARCH or FETCH (RFC 3501 §7.4.1), and
      // we send nothing in between.
      std::string range = fmt::format("{}:*", *first_seq);
      if (*first_seq <= state.exists) {
        const std::uint64_t last =
            std::min<std::uint64_t>(*first_seq + max_count - 1, state.exists);
        range = fmt::format("{}:{}", *first_seq, last);
        more_after_window = last < state.exists;
      }
      step1_cmd = CommandBuilder("FETCH");
      step1_cmd.raw(range).raw("(UID RFC822.SIZE)");
    } else {
      step1_cmd.raw(fmt::format("{}:*", from)).raw("(UID RFC822.SIZE)");
    }
    struct Candidate {
      std::uint32_t uid;
      std::uint64_t size;
    };
    std::vector<Candidate> found;
    std::size_t candidates = 0;  // responses for UIDs >= from, before any truncation
    auto keep_smallest = [&] {
      std::sort(found.begin(), found.end(),
                [](const Candidate& a, const Candidate& b) { return a.uid < b.uid; });
      found.erase(
          std::unique(found.begin(), found.end(),
                      [](const Candidate& a, const Candidate& b) { return a.uid == b.uid; }),
          found.end());
      if (found.size() > max_count) found.resize(max_count);
    };
    auto step1 = co_await command_ok(step1_cmd.verb(), step1_cmd, [&](Response& r) -> Status {
      if (r.name != "FETCH") return Status();
      auto f = decode_fetch(std::move(r));
      if (!f.ok()) return Error::unavailable(f.error().message);
      if (!f->size) return Status();  // unsolicited flag update
      if (!f->uid) return Error::unavailable("FETCH response without the UID asked for");
      // RFC 3501 §6.4.8: "n:*" always includes the last message, even when its UID is
      // below n, so the range can return a message we already have.
      if (*f->uid < from) return Status();
      found.push_back({*f->uid, *f->size});
      ++candidates;
      if (found.size() >= 2 * max_count + 16) keep_smallest();
      return Status();
    });
    if (!step1.ok()) co_return step1.error();
    keep_smallest();
    if (found.empty()) co_return out;

    // Step 2: the bodies, in ascending UID order, stopping at max_count or at a byte budget
    // of one maximum message so a batch stays bounded in memory. The result must be a
    // prefix in UID order, because the caller checkpoints its last UID.
    std::vector<std::uint32_t> wanted;
    std::uint64_t budget = 0;
    for (const auto& c : found) {
      if (c.size > ep.max_message_bytes) {
        out.push_back(FetchedMessage{c.uid, {}, {}, c.size, true});
        continue;
      }
      if (!wanted.empty() && budget + c.size > ep.max_message_bytes) break;
      budget += c.size;
      wanted.push_back(c.uid);
      out.push_back(FetchedMessage{c.uid, {}, {}, c.size, false});
    }
    // Cut short by max_count or the byte budget: more is waiting, so the next idle() must
    // return at once rather than wait for new mail.
    if (out.size() < candidates || more_after_window) change_pending = true;
    if (wanted.empty()) co_return out;

    std::vector<bool> got(out.size(), false);
    auto step2 = co_await command_ok(
        "UID FETCH",
        CommandBuilder("UID FETCH").raw(format_uid_set(wanted)).raw("(UID FLAGS BODY.PEEK[])"),
        [&](Response& r) -> Status {
          if (r.name != "FETCH") return Status();
          auto f = decode_fetch(std::move(r));
          if (!f.ok()) return Error::unavailable(f.error().message);
          if (!f->body || !f->uid) return Status();  // unsolicited flag update
          auto it = std::lower_bound(
              out.begin(), out.end(), *f->uid,
              [](const FetchedMessage& m, std::uint32_t uid) { return m.uid < uid; });
          if (it == out.end() || it->uid != *f->uid || it->too_large) return Status();
          it->body = std::move(*f->body);
          if (f->flags) it->flags = std::move(*f->flags);
          got[static_cast<std::size_t>(it - out.begin())] = true;
          return Status();
        });
    if (!step2.ok()) co_return step2.error();

    // Messages expunged between the two steps are simply gone.
    std::vector<FetchedMessage> result;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].too_large || got[i]) result.push_back(std::move(out[i]));
    }
    co_return result;
  }

  asio::awaitable<Result<IdleResult>> idle(std::chrono::seconds max,
                                           std::chrono::seconds poll_interval) {
    if (auto s = need_selected(); !s.ok()) co_return s.error();
    if (change_pending) {
      change_pending = false;
      co_return IdleResult::kChanged;
    }
    const auto deadline = Clock::now() + max;
    if (!has_cap("IDLE")) co_return co_await poll(deadline, poll_interval);

    const std::string tag = next_tag();
    spdlog::debug("imap {}: {} IDLE", label, tag);
    if (auto w = co_await write_all(tag + " IDLE\r\n"); !w.ok()) co_return w.error();
    for (;;) {  // until "+ idling"
      auto r = co_await read_response(ep.timeout);
      if (!r.ok()) co_return r.error();
      if (r->kind == ResponseKind::kContinuation) break;
      if (r->kind == ResponseKind::kTagged) {
        if (r->tag != tag) co_return unavailable("response for unknown tag " + clip(r->tag));
        if (r->condition != Condition::kOk) co_return refusal(label, "IDLE", *r);
        co_return take_change();  // ended before it began; odd but harmless
      }
      note_untagged(*r);
    }

    // The reader waits for responses while the writer waits for the deadline; a change
    // cancels the writer's timer so DONE goes out at once (RFC 2177 §3). The read is never
    // cancelled, so no byte of the stream is lost whichever way IDLE ends.
    IdleRun run{asio::steady_timer(ex, deadline), tag, deadline, true, Status()};
    if (change_pending) wake_writer(run);
    co_await (idle_reader(run) && idle_writer(run));
    if (!run.status.ok()) co_return run.status.error();
    co_return take_change();
  }

  struct IdleRun {
    asio::steady_timer done_timer;
    std::string tag;
    Clock::time_point deadline;
    bool done_needed = true;
    Status status;
  };

  // Makes the writer send DONE now (or give up, if done_needed is false). expires_at rather
  // than cancel: it also works when the writer has not started waiting yet, which happens
  // when the reader finds a change already buffered behind "+ idling".
  static void wake_writer(IdleRun& run) { run.done_timer.expires_at(Clock::time_point::min()); }

  IdleResult take_change() {
    const bool changed = change_pending;
    change_pending = false;
    return changed ? IdleResult::kChanged : IdleResult::kTimeout;
  }

  asio::awaitable<void> idle_reader(IdleRun& run) {
    for (;;) {
      // No inactivity limit while idling (the server may be silent until the deadline);
      // after it, DONE must be answered within the usual timeout.
      const auto limit =
          std::max<Clock::duration>(run.deadline - Clock::now(), Clock::duration(0)) + ep.timeout;
      auto r = co_await read_response(limit);
      if (!r.ok()) {
        run.status = r.error();
        run.done_needed = false;
        wake_writer(run);
        co_return;
      }
      if (r->kind == ResponseKind::kTagged) {
        run.done_needed = false;
        wake_writer(run);
        if (r->tag != run.tag) {
          run.status = unavailable("response for unknown tag " + clip(r->tag));
        } else if (r->condition != Condition::kOk) {
          run.status = refusal(label, "IDLE", *r);
        }
        co_return;
      }
      if (r->kind == ResponseKind::kContinuation) {
        run.status = unavailable("unexpected continuation request during IDLE");
        run.done_needed = false;
        wake_writer(run);
        co_return;
      }
      note_untagged(*r);
      if (change_pending) wake_writer(run);
    }
  }

  asio::awaitable<void> idle_writer(IdleRun& run) {
    co_await run.done_timer.async_wait(kAwait);  // the deadline, or woken by the reader
    if (!run.done_needed) co_return;
    run.done_needed = false;
    spdlog::debug("imap {}: DONE", label);
    // A failed write breaks the session; the reader then fails too (or times out).
    if (auto w = co_await write_all("DONE\r\n"); !w.ok()) run.status = w.error();
  }

  asio::awaitable<Result<IdleResult>> poll(Clock::time_point deadline,
                                           std::chrono::seconds interval) {
    interval = std::max(interval, std::chrono::seconds(1));
    for (;;) {
      auto r = co_await command_ok("NOOP", CommandBuilder("NOOP"));
      if (!r.ok()) co_return r.error();
      if (change_pending) co_return take_change();
      const auto now = Clock::now();
      if (now >= deadline) co_return IdleResult::kTimeout;
      asio::steady_timer t(ex, std::min<Clock::duration>(interval, deadline - now));
      co_await t.async_wait(kAwait);
    }
  }

  asio::awaitable<void> close_connection() {
    broken = true;
    if (tls) {
      // Best effort close_notify; the server usually closes first after BYE.
      co_await with_timeout(stream.async_shutdown(kAwait),
                            std::min<Clock::duration>(ep.timeout, std::chrono::seconds(5)));
    }
    error_code ec;
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream.next_layer().close(ec);
  }
};

// ---- ImapSession ------------------------------------------------------------------------

namespace {

// Guards the one-operation-at-a-time contract.
class BusyGuard {
 public:
  explicit BusyGuard(bool& busy) : busy_(busy), ok_(!busy) { busy_ = true; }
  ~BusyGuard() {
    if (ok_) busy_ = false;
  }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;
  bool ok() const { return ok_; }

 private:
  bool& busy_;
  bool ok_;
};

Error concurrent_use() { return Error::internal("ImapSession used by two operations at once"); }

}  // namespace

ImapSession::ImapSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImapSession::~ImapSession() = default;

asio::awaitable<Result<std::unique_ptr<ImapSession>>> ImapSession::connect(asio::any_io_executor ex,
                                                                           ImapEndpoint ep) {
  auto impl = std::make_unique<Impl>(std::move(ex), std::move(ep));
  auto s = co_await impl->open();
  if (!s.ok()) {
    wipe(impl->ep.password);
    co_return s.error();
  }
  co_return std::unique_ptr<ImapSession>(new ImapSession(std::move(impl)));
}

bool ImapSession::has_capability(std::string_view cap) const { return impl_->has_cap(cap); }
const std::vector<std::string>& ImapSession::capabilities() const { return impl_->caps; }
bool ImapSession::usable() const { return !impl_->broken; }
const MailboxState& ImapSession::mailbox_state() const { return impl_->state; }

asio::awaitable<Result<std::vector<ListEntry>>> ImapSession::list(std::string reference,
                                                                  std::string pattern) {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  std::vector<ListEntry> out;
  auto r = co_await impl_->command_ok(
      "LIST", CommandBuilder("LIST").mailbox(reference).mailbox(pattern), [&](Response& resp) {
        if (resp.name != "LIST") return Status();
        auto e = decode_list(resp);
        if (!e.ok()) return Status(Error::unavailable(e.error().message));
        // Names we cannot decode are kept as sent rather than dropped.
        if (auto utf8 = decode_mailbox_utf7(e->name); utf8.ok()) e->name = std::move(*utf8);
        out.push_back(std::move(*e));
        return Status();
      });
  if (!r.ok()) co_return r.error();
  co_return out;
}

asio::awaitable<Result<MailboxState>> ImapSession::select(std::string mailbox) {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  co_return co_await impl_->select(mailbox);
}

asio::awaitable<Result<std::vector<FetchedMessage>>> ImapSession::fetch_from(
    std::uint32_t from_uid, std::size_t max_count) {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  co_return co_await impl_->fetch_from(from_uid, max_count);
}

asio::awaitable<Result<IdleResult>> ImapSession::idle(std::chrono::seconds max,
                                                      std::chrono::seconds poll_interval) {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  if (impl_->broken) co_return Error::unavailable("IMAP session unusable after an earlier error");
  co_return co_await impl_->idle(max, poll_interval);
}

asio::awaitable<Result<std::optional<std::string>>> ImapSession::get_metadata(std::string mailbox,
                                                                              std::string entry) {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  if (!impl_->has_cap("METADATA") && !(mailbox.empty() && impl_->has_cap("METADATA-SERVER"))) {
    co_return Error::permanent(
        fmt::format("IMAP {}: server does not offer METADATA", impl_->label));
  }
  auto encoded_mailbox = encode_mailbox_utf7(mailbox);
  if (!encoded_mailbox.ok()) co_return encoded_mailbox.error();
  std::optional<std::string> value;
  auto r = co_await impl_->command_ok("GETMETADATA",
                                      CommandBuilder("GETMETADATA").mailbox(mailbox).string(entry),
                                      [&](Response& resp) {
                                        if (resp.name != "METADATA") return Status();
                                        auto m = decode_metadata(std::move(resp));
                                        if (!m.ok())
                                          return Status(Error::unavailable(m.error().message));
                                        if (m->mailbox != *encoded_mailbox) return Status();
                                        for (auto& [name, v] : m->entries) {
                                          // RFC 5464 §3.2: entry names are case-insensitive.
                                          if (upper(name) == upper(entry)) value = std::move(v);
                                        }
                                        return Status();
                                      });
  if (!r.ok()) co_return r.error();
  co_return value;
}

asio::awaitable<Status> ImapSession::set_metadata(std::string mailbox, std::string entry,
                                                  std::optional<std::string> value) {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  if (!impl_->has_cap("METADATA") && !(mailbox.empty() && impl_->has_cap("METADATA-SERVER"))) {
    co_return Error::permanent(
        fmt::format("IMAP {}: server does not offer METADATA", impl_->label));
  }
  // RFC 5464 §4.3: SETMETADATA mailbox (entry value), value = nstring / literal8.
  CommandBuilder cmd("SETMETADATA");
  cmd.mailbox(mailbox).open_list().string(entry);
  if (value) {
    cmd.quoted_or_literal(*value);
  } else {
    cmd.raw("NIL");
  }
  cmd.close_list();
  auto r = co_await impl_->command_ok("SETMETADATA", cmd);
  if (!r.ok()) co_return r.error();
  co_return Status();
}

asio::awaitable<Status> ImapSession::store_flags(std::uint32_t uid, std::string flags_list,
                                                 bool add) {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  if (auto s = impl_->need_selected(); !s.ok()) co_return s;
  if (uid == 0) co_return Error::invalid("uid", "UID 0 does not exist");
  auto flags = normalize_flag_list(flags_list);
  if (!flags.ok()) co_return flags.error();
  // .SILENT: no FETCH echo of the new flags (RFC 3501 §6.4.6); we do not need it.
  auto r = co_await impl_->command_ok("UID STORE", CommandBuilder("UID STORE")
                                                       .raw(std::to_string(uid))
                                                       .raw(add ? "+FLAGS.SILENT" : "-FLAGS.SILENT")
                                                       .raw(*flags));
  if (!r.ok()) co_return r.error();
  co_return Status();
}

asio::awaitable<Status> ImapSession::noop() {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  auto r = co_await impl_->command_ok("NOOP", CommandBuilder("NOOP"));
  if (!r.ok()) co_return r.error();
  co_return Status();
}

asio::awaitable<Status> ImapSession::logout() {
  BusyGuard guard(impl_->busy);
  if (!guard.ok()) co_return concurrent_use();
  Status result;
  if (!impl_->broken) {
    auto r = co_await impl_->command(CommandBuilder("LOGOUT"));
    // A server that closes right after "* BYE" (before the tagged OK) has logged us out too.
    if (!r.ok() && impl_->bye_text.empty()) result = r.error();
  }
  co_await impl_->close_connection();
  co_return result;
}

}  // namespace coibridge::connectors::coi::imap
