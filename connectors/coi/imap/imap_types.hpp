#pragma once
// Plain data exchanged with the IMAP client (imap_session.hpp) and produced by the response
// decoders (imap_parser.hpp). No I/O, no Asio.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace coibridge::connectors::coi::imap {

enum class TlsMode {
  kImplicit,  // TLS from the first byte (port 993, RFC 8314 §3.3)
  kStartTls,  // plain connect, then STARTTLS (RFC 3501 §6.2.1); refused when not offered
  kNone,      // no TLS at all: only for loopback test servers, logged as a warning
};

struct ImapEndpoint {
  std::string host;
  std::uint16_t port = 993;
  TlsMode tls = TlsMode::kImplicit;
  std::string ca_file;  // PEM trust anchors; empty = the system's default store
  bool verify_peer = true;
  std::string tls_server_name;  // SNI and the name the certificate must match; empty = host
  std::string username;
  std::string password;  // never logged; wiped from memory after login
  // Bound on every network step: resolve, connect, TLS handshake, and each read or write
  // (a read that makes no progress for this long fails the session with kUnavailable).
  std::chrono::seconds timeout{30};
  // Largest message body accepted. Bigger messages are reported by fetch_from with
  // too_large set and no body, instead of breaking the session every time they come up.
  std::size_t max_message_bytes = 64 * 1024 * 1024;
};

struct MailboxState {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uidnext = 0;  // 0 when the server did not say (RFC 3501 makes it optional)
  std::uint32_t exists = 0;
  std::uint64_t highestmodseq = 0;  // 0 without CONDSTORE, or with [NOMODSEQ]
};

struct FetchedMessage {
  std::uint32_t uid = 0;
  std::vector<std::string> flags;
  std::string body;        // the BODY[] bytes exactly as stored on the server
  std::uint64_t size = 0;  // RFC822.SIZE
  bool too_large = false;  // size > max_message_bytes: body left empty, not fetched
};

struct ListEntry {
  std::string name;                     // UTF-8 (decoded from modified UTF-7, RFC 3501 §5.1.3)
  char delimiter = '\0';                // hierarchy delimiter; '\0' for NIL (flat namespace)
  std::vector<std::string> attributes;  // e.g. "\HasNoChildren", "\Sent"
};

enum class IdleResult {
  kChanged,  // EXISTS, EXPUNGE or VANISHED seen: something to fetch (or gone)
  kTimeout,  // `max` passed without a change
};

}  // namespace coibridge::connectors::coi::imap
