#pragma once
// SMTP submission client: one message per call over a new connection (send_mail), or over
// kept sessions (SmtpSender) (RFC 5321, with
// STARTTLS RFC 3207, implicit TLS RFC 8314, AUTH RFC 4954, PIPELINING RFC 2920, SIZE RFC 1870,
// 8BITMIME RFC 6152, SMTPUTF8 RFC 6531). Asio, Beast-free; all socket code is in
// smtp_client.cpp.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/model/result.hpp"

namespace coibridge::connectors::coi::smtp {

enum class TlsMode {
  kImplicit,  // TLS from the first byte (submissions, port 465; RFC 8314 §3)
  kStartTls,  // plaintext greeting, then STARTTLS (RFC 3207); refused if the server lacks it
  kNone,      // plaintext throughout: only for loopback tests; logs a warning
};

struct SmtpEndpoint {
  std::string host;
  std::uint16_t port = 587;
  TlsMode tls = TlsMode::kStartTls;
  std::string ca_file;  // PEM file of trusted CAs; empty: the system store
  // Certificate and host-name checks; false only by explicit option (logs a loud warning).
  bool verify_peer = true;
  std::string tls_server_name;     // name to verify and send as SNI; empty: host
  std::string username, password;  // empty username: no AUTH
  std::string helo_name = "localhost";
  // Limit for each step: connect, each reply, the TLS handshake, each 64 KiB of message data.
  std::chrono::seconds timeout{30};
};

struct Envelope {
  std::string mail_from;  // may be empty: the null reverse-path <>
  std::vector<std::string> rcpt_to;
};

// Sends `message` (a complete RFC 5322 message; LF or CRLF line endings) to the recipients of
// `env`, returning once the server accepted it (250 after the end of DATA), then says QUIT.
// Runs its I/O on a private strand of `ex`; the caller may co_await it from any coroutine.
// Holds no state between calls, so concurrent calls are independent. Secrets (password, AUTH
// exchanges) are never logged or put into errors.
//
// Errors:
//   kUnavailable  network failure, timeout, a 4xx reply, a malformed or oversized reply, TLS
//                 failures (handshake, certificate or host-name verification, STARTTLS not
//                 offered): retry later. TLS failures are transient on purpose: they are
//                 about the connection, not the message, so an operator can fix the CA or
//                 the server without every queued message being dead-lettered at once.
//   kPermanent    a 5xx reply (the server's text is in the message; a refused recipient is
//                 named), a message larger than the server's SIZE ("message of N bytes
//                 exceeds the server's limit of M bytes", found before DATA is sent), 8-bit
//                 data or UTF-8 addresses the server cannot take, AUTH wanted but no usable
//                 mechanism offered.
//   kInvalidArgument  an envelope address, the HELO name, the endpoint or the CA file is
//                 unusable (field says which); nothing was sent.
// If any recipient is refused, nothing is sent (any 5xx RCPT is kPermanent, else any 4xx RCPT
// is kUnavailable), so a retry never duplicates the message for the others. The one window
// for a duplicate is SMTP's own (RFC 1047): the connection failing after the final "." but
// before the 250 arrived gives kUnavailable although the server may have accepted; callers
// keep the Message-ID stable across retries so receivers can tell.
boost::asio::awaitable<core::Status> send_mail(boost::asio::any_io_executor ex,
                                               const SmtpEndpoint& ep, const Envelope& env,
                                               const std::string& message);

// Sends like send_mail, but keeps logged-in sessions for the next mails instead of saying
// QUIT (RFC 5321 §3.3: a session may carry any number of transactions), so a burst of mail
// pays the TCP, TLS and AUTH round trips once. A session goes back to the idle set only after
// its mail was accepted; at most `max_idle` wait, each for at most `idle_for` (servers drop
// idle clients, Postfix after 300 s). A kept session that fails before any of the mail was
// sent (the server dropped it meanwhile) is replaced by a new connection at once; errors are
// those of send_mail. Safe to call concurrently: each call has a session of its own.
class SmtpSender {
 public:
  explicit SmtpSender(SmtpEndpoint ep, std::size_t max_idle = 4,
                      std::chrono::seconds idle_for = std::chrono::seconds(60));
  ~SmtpSender();
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  boost::asio::awaitable<core::Status> send(boost::asio::any_io_executor ex, const Envelope& env,
                                            const std::string& message);
  std::size_t idle_sessions();

 private:
  struct Connection;
  std::shared_ptr<Connection> take();
  void give_back(std::shared_ptr<Connection> connection);

  const SmtpEndpoint ep_;
  const std::size_t max_idle_;
  const std::chrono::seconds idle_for_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Connection>> idle_;
};

}  // namespace coibridge::connectors::coi::smtp
