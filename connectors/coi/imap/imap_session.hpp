#pragma once
// One IMAP4rev1 client connection (RFC 3501, with IDLE RFC 2177, ENABLE RFC 5161,
// CONDSTORE/QRESYNC RFC 7162, METADATA RFC 5464, LITERAL+/- RFC 7888), on Boost.Asio C++20
// coroutines. Asio and OpenSSL stay in imap_session.cpp.
//
// Contract:
//   - One operation at a time. All calls and the session's I/O run on one strand (or a
//     single-threaded io_context): the executor passed to connect(). A second call while one
//     is suspended fails with kInternal.
//   - Every network step has a timeout (ImapEndpoint::timeout).
//   - A network error, a timeout or a response that is not IMAP leaves the session unusable
//     (usable() == false, later calls fail with kUnavailable): the caller drops it and
//     connects again. A command the server refuses (tagged NO/BAD) leaves it usable.
//   - Errors: kUnavailable for transient trouble (network, timeout, protocol garbage, server
//     NO [UNAVAILABLE]/[INUSE]/[SERVERBUG]...), kPermanent when the server refuses for good
//     (wrong password, certificate not trusted, no STARTTLS), kNotFound for a mailbox that
//     does not exist, kInvalidArgument for bad arguments.
//   - The password is never logged nor put into an error message; it is wiped from memory
//     after login. Commands are logged (debug) by their verb only.
//   - Mailbox names are UTF-8 on this API and modified UTF-7 on the wire (RFC 3501 §5.1.3).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/coi/imap/imap_types.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::coi::imap {

class ImapSession {
 public:
  // TCP connect, TLS (implicit, RFC 8314 §3.3, or STARTTLS, RFC 3501 §6.2.1) with certificate
  // and host-name verification unless ep.verify_peer is false, CAPABILITY, then
  // AUTHENTICATE PLAIN (RFC 4616; with SASL-IR, RFC 4959, when offered) or else LOGIN, and a
  // fresh CAPABILITY after login (RFC 3501 §6.2.3: capabilities may change).
  static boost::asio::awaitable<core::Result<std::unique_ptr<ImapSession>>> connect(
      boost::asio::any_io_executor ex, ImapEndpoint ep);

  ~ImapSession();
  ImapSession(const ImapSession&) = delete;
  ImapSession& operator=(const ImapSession&) = delete;

  // ASCII case-insensitive, e.g. "IDLE", "AUTH=PLAIN", "METADATA".
  bool has_capability(std::string_view cap) const;
  const std::vector<std::string>& capabilities() const;  // upper-cased
  bool usable() const;
  // The selected mailbox as last reported (SELECT, then EXISTS/EXPUNGE/VANISHED updates).
  const MailboxState& mailbox_state() const;

  // LIST reference pattern (RFC 3501 §6.3.8): "*" and "%" are wildcards.
  boost::asio::awaitable<core::Result<std::vector<ListEntry>>> list(std::string reference,
                                                                    std::string pattern);
  // SELECT (read-write, so \Seen may be stored). Before the first SELECT, ENABLE QRESYNC
  // (or CONDSTORE) when offered, so HIGHESTMODSEQ is reported and expunges come as VANISHED.
  boost::asio::awaitable<core::Result<MailboxState>> select(std::string mailbox);
  // Messages with UID >= from_uid, ascending, at most max_count, and together at most about
  // max_message_bytes of body (at least one message). A message bigger than
  // max_message_bytes comes with too_large set and no body. The caller checkpoints the last
  // UID returned and calls again until the result is empty; when a call stops early (count
  // or byte budget), the next idle() returns kChanged at once, so nothing waits for new mail.
  // With ESEARCH (RFC 4731) only the next max_count messages are looked at, so catching up
  // on a large backlog stays linear.
  boost::asio::awaitable<core::Result<std::vector<FetchedMessage>>> fetch_from(
      std::uint32_t from_uid, std::size_t max_count);
  // Waits for a change to the selected mailbox: IDLE (RFC 2177) ended with DONE after `max`
  // or as soon as EXISTS/EXPUNGE/VANISHED arrives. Servers drop idle clients after 30
  // minutes (RFC 2177 §3), so callers pass at most 29 minutes. Without IDLE: NOOP every
  // poll_interval within max. A change reported during an earlier command (new mail during
  // a fetch) returns kChanged at once.
  boost::asio::awaitable<core::Result<IdleResult>> idle(
      std::chrono::seconds max, std::chrono::seconds poll_interval = std::chrono::seconds(30));
  // GETMETADATA (RFC 5464 §4.2); mailbox "" is the server. nullopt when the entry has no
  // value.
  boost::asio::awaitable<core::Result<std::optional<std::string>>> get_metadata(std::string mailbox,
                                                                                std::string entry);
  // SETMETADATA (RFC 5464 §4.3); nullopt removes the entry.
  boost::asio::awaitable<core::Status> set_metadata(std::string mailbox, std::string entry,
                                                    std::optional<std::string> value);
  // UID STORE uid +FLAGS.SILENT / -FLAGS.SILENT (RFC 3501 §6.4.6). flags_list: "\Seen $Chat"
  // or "(\Seen $Chat)".
  boost::asio::awaitable<core::Status> store_flags(std::uint32_t uid, std::string flags_list,
                                                   bool add);
  boost::asio::awaitable<core::Status> noop();
  // LOGOUT, then closes the connection. The session is unusable afterwards.
  boost::asio::awaitable<core::Status> logout();

 private:
  struct Impl;
  explicit ImapSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coibridge::connectors::coi::imap
