#pragma once
// The socket-free half of the SMTP client: parsing server replies (RFC 5321 §4.2) and EHLO
// capabilities, building commands, and encoding message data for DATA. Everything here is a
// pure function of its input, so it is unit-tested and fuzzable without a server.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/result.hpp"

namespace coibridge::connectors::coi::smtp {

// A complete reply: one code and the text of each line (without the code, the separator
// and the line ending).
struct Reply {
  int code = 0;
  std::vector<std::string> lines;

  // 2 (positive completion), 3 (positive intermediate), 4 (transient), 5 (permanent).
  int kind() const { return code / 100; }
  // "250 first line / second line", control characters removed and cut to max_bytes: for
  // error messages and logs (the server's text is untrusted).
  std::string summary(std::size_t max_bytes = 512) const;
};

// A reply larger than this is refused: a hostile or broken server must not be able to make
// us buffer without bound (RFC 5321 §4.5.3.1.5 limits a reply line to 512 octets; multi-line
// EHLO replies stay far below this).
inline constexpr std::size_t kMaxReplyBytes = 64 * 1024;

enum class ParseStatus { kComplete, kNeedMore, kMalformed, kTooLarge };

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  Reply reply;               // set when kComplete
  std::size_t consumed = 0;  // bytes of the input the reply took (kComplete only)
  std::string error;         // why, for kMalformed and kTooLarge
};

// Parses the first reply at the start of `input`. Lines end in CRLF; a bare LF is accepted
// too (robustness: RFC 5321 §2.3.8 forbids sending it, broken servers do). A line is "CODE-text"
// (more lines follow) or "CODE text" / "CODE" (the last line), CODE being three digits 2-5, 0-5,
// 0-9; every line of one reply must carry the same code (§4.2.1). Anything else is kMalformed. When
// no complete reply is there yet: kNeedMore, or kTooLarge once the input holds more than
// kMaxReplyBytes without completing one. Replies pipelined after the first stay in the input
// (the caller removes `consumed` bytes and parses again).
ParseResult parse_reply(std::string_view input);

// What an EHLO reply offers (RFC 5321 §4.1.1.1; keywords are case-insensitive).
struct Capabilities {
  bool esmtp = false;            // the server answered EHLO (false after the HELO fallback)
  bool starttls = false;         // RFC 3207
  bool pipelining = false;       // RFC 2920
  bool eightbitmime = false;     // RFC 6152
  bool smtputf8 = false;         // RFC 6531
  bool size = false;             // RFC 1870, limit in size_limit
  std::uint64_t size_limit = 0;  // 0: no fixed limit announced (RFC 1870 §4)
  std::vector<std::string> auth_mechanisms;  // RFC 4954, upper case

  bool has_auth(std::string_view mechanism) const;
};

// Reads the capability lines of a 250 EHLO reply (the first line is the server's greeting
// and is skipped). Also accepts the pre-standard "AUTH=PLAIN LOGIN" form some servers send.
Capabilities parse_ehlo(const Reply& reply);

// Message data for DATA (RFC 5321 §4.5.2, §2.3.8): every line ending becomes CRLF (a bare LF
// or a bare CR, which SMTP forbids, becomes CRLF), a final CRLF is added when missing.
std::string normalize_line_endings(std::string_view message);
// Dot-stuffs CRLF-normalized text (a line starting with "." gets another "." in front,
// §4.5.2) and appends the end-of-data marker ".\r\n".
std::string dot_stuff(std::string_view crlf_text);
// True when any byte has the high bit set: the message then needs BODY=8BITMIME (RFC 6152).
bool has_8bit(std::string_view text);

// The AUTH PLAIN initial response (RFC 4616 §2, RFC 4954 §4): base64 of
// authzid NUL authcid NUL password, with an empty authzid ("act as myself").
std::string auth_plain_response(std::string_view username, std::string_view password);

// An envelope address fit for MAIL FROM:<...> / RCPT TO:<...>: non-empty (except `allow_empty`
// for the null reverse-path <>, RFC 5321 §4.5.5), at most 256 octets (§4.5.3.1.3 path), no
// control characters, spaces, '<' or '>' (they would let an address inject SMTP commands).
bool valid_address(std::string_view address, bool allow_empty);
// A host name or address literal for EHLO: 1-255 characters, letters, digits, '-', '.',
// '[', ']', ':' only.
bool valid_helo_name(std::string_view name);
bool has_non_ascii(std::string_view text);

// Parameters for MAIL FROM, chosen from what the server offers.
struct MailParams {
  std::optional<std::uint64_t> size;  // SIZE=n (RFC 1870 §3), when the server offers SIZE
  bool body_8bitmime = false;         // BODY=8BITMIME (RFC 6152)
  bool smtputf8 = false;              // SMTPUTF8 (RFC 6531 §3.4)
};
std::string mail_from_command(std::string_view from, const MailParams& params);
std::string rcpt_to_command(std::string_view to);

// Maps a failed reply to the project's error kinds: 4xx is transient (kUnavailable: retry
// later), 5xx permanent (kPermanent), anything else out of sequence is a protocol error
// (kUnavailable). `what` names the step, e.g. "RCPT TO:<x@example.org>".
core::Error error_from_reply(std::string_view server, std::string_view what, const Reply& reply);

}  // namespace coibridge::connectors::coi::smtp
