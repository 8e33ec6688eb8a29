#pragma once
// Encoding client command arguments (RFC 3501 §4, §9; RFC 7888 LITERAL+/LITERAL-): pure,
// no I/O. Every string that comes from outside (mailbox names, credentials, metadata values)
// goes through CommandBuilder::string, which picks an atom, a quoted string or a literal,
// so no argument can inject CRLF and a second command.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/result.hpp"

namespace coibridge::connectors::coi::imap {

// How a literal is announced (RFC 7888).
enum class LiteralMode {
  kSynchronizing,  // "{n}" then wait for the server's "+" (RFC 3501 §7.5)
  kPlus,           // LITERAL+: "{n+}" for any size, no round trip
  kMinus,          // LITERAL-: "{n+}" up to 4096 bytes, synchronizing above
};

enum class StringForm { kAtom, kQuoted, kLiteral };
// The cheapest correct form for `s` as an astring (RFC 3501 §9): an atom when every byte is
// an ATOM-CHAR (and s is not "NIL"), quoted when it is 7-bit text without CR/LF, else a
// literal (8-bit bytes, CR, LF). NUL cannot be sent in any form (checked by the builder).
StringForm string_form(std::string_view s);
// DQUOTE s DQUOTE with "\" and DQUOTE escaped. s must be quotable (no CR, LF, NUL, 8-bit).
std::string quote(std::string_view s);

// A command split where the client has to wait for a continuation request: send parts[0],
// wait for "+", send parts[1], and so on. The last part ends with CRLF.
struct EncodedCommand {
  std::vector<std::string> parts;
  bool secret = false;  // holds credentials: never log it, wipe it after sending
};

class CommandBuilder {
 public:
  explicit CommandBuilder(std::string_view verb) : verb_(verb) {}

  // SP + text verbatim. For protocol tokens the session writes itself ("(UID FLAGS)",
  // "1:5"); text with CR, LF or NUL makes build() fail.
  CommandBuilder& raw(std::string_view text);
  // SP + s as atom, quoted string or literal (an astring, RFC 3501 §9).
  CommandBuilder& string(std::string_view s);
  // SP + s, never as an atom (for grammar positions that are `string`, not `astring`).
  CommandBuilder& quoted_or_literal(std::string_view s);
  // A mailbox name given in UTF-8, sent in modified UTF-7 (RFC 3501 §5.1.3).
  CommandBuilder& mailbox(std::string_view utf8_name);
  // SP "(" and ")" around a parenthesised list: no space after "(" nor before ")".
  CommandBuilder& open_list();
  CommandBuilder& close_list();
  // Marks the command as holding credentials.
  CommandBuilder& secret();

  // "tag SP verb args CRLF", split at synchronizing literals.
  core::Result<EncodedCommand> build(std::string_view tag, LiteralMode mode) const;

  const std::string& verb() const { return verb_; }

 private:
  struct Arg {
    bool literal = false;
    std::string text;
    bool space_before = true;
  };
  void add(bool literal, std::string text);
  std::string verb_;
  std::vector<Arg> args_;
  bool secret_ = false;
  bool list_opened_ = false;  // the next argument follows "(" directly
  std::optional<std::string> error_;
};

// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3). encode fails on invalid UTF-8;
// decode fails on text that is not valid modified UTF-7 (callers then keep the raw name).
core::Result<std::string> encode_mailbox_utf7(std::string_view utf8);
core::Result<std::string> decode_mailbox_utf7(std::string_view mutf7);

// UIDs (ascending, no duplicates) as a compact sequence set: {1,2,3,7} -> "1:3,7".
std::string format_uid_set(std::span<const std::uint32_t> uids);

// A flag list for STORE (RFC 3501 §6.4.6): "\Seen $Chat" or "(\Seen $Chat)" ->
// "(\Seen $Chat)". Each flag must be an atom, optionally after "\"; anything else is
// kInvalidArgument (field "flags"), so the text can be sent verbatim.
core::Result<std::string> normalize_flag_list(std::string_view flags);

}  // namespace coibridge::connectors::coi::imap
