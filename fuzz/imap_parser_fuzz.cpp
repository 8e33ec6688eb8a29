// libFuzzer target for the IMAP client's pure parts (connectors/coi/imap): the response
// parser must never crash, hang or grow without bound on any server input, whatever the read
// boundaries; and what the argument encoder writes must read back as the same string.
// Run under ASan/UBSan (LeakSanitizer included):
//
//   ./imap_parser_fuzz -max_len=65536 -rss_limit_mb=2048 corpus/
//
// The first input byte picks the mode and the read size; the rest is the data.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/coi/imap/imap_parser.hpp"
#include "connectors/coi/imap/imap_quote.hpp"

namespace {

using namespace coibridge::connectors::coi::imap;

void check(bool ok) {
  if (!ok) std::abort();
}

// Server bytes in reads of `chunk` bytes, with small limits so the caps are reached.
void parse_stream(std::string_view in, std::size_t chunk) {
  ParserLimits limits;
  limits.max_line_bytes = 4096;
  limits.max_literal_bytes = 8192;
  limits.max_response_bytes = 16384;
  limits.max_depth = 16;
  limits.max_values = 2000;
  ResponseParser p(limits);
  std::size_t fed = 0;
  bool failed = false;
  for (std::size_t i = 0; i < in.size() && !failed; i += chunk) {
    const std::string_view piece = in.substr(i, chunk);
    p.feed(piece);
    fed += piece.size();
    for (;;) {
      auto r = p.next();
      if (!r.ok()) {
        failed = true;
        check(p.failed());
        check(!p.next().ok());  // sticky
        break;
      }
      if (!*r) break;
      Response resp = std::move(**r);
      check(resp.kind != ResponseKind::kTagged || resp.is_status());
      // Buffered input never exceeds what the limits allow plus one read.
      check(p.pending_bytes() <= limits.max_response_bytes + limits.max_line_bytes + chunk + 2);
      if (resp.code) (void)code_number(*resp.code);
      if (resp.name == "CAPABILITY") (void)decode_capabilities(resp.data);
      if (resp.name == "LIST" || resp.name == "LSUB") (void)decode_list(resp);
      if (resp.name == "VANISHED") (void)decode_vanished(resp);
      if (resp.name == "METADATA") (void)decode_metadata(Response(resp));
      if (resp.name == "FETCH") (void)decode_fetch(std::move(resp));
    }
  }
  (void)fed;
}

// An argument encoded by CommandBuilder, put into a server response, parses back to itself.
void string_round_trip(std::string_view s) {
  auto cmd = CommandBuilder("X").string(s).build("A1", LiteralMode::kPlus);
  if (s.find('\0') != std::string_view::npos) {
    check(!cmd.ok());
    return;
  }
  check(cmd.ok() && cmd->parts.size() == 1);
  std::string line = cmd->parts[0];
  check(line.compare(0, 5, "A1 X ") == 0);
  line.replace(0, 2, "*");  // "* X <argument>\r\n": untagged data, so literals are read
  // "{n+}" is what a client sends; a server writes "{n}".
  if (const auto plus = line.find("+}\r\n"); plus != std::string::npos && line[4] == '{') {
    line.erase(plus, 1);
  }
  ResponseParser p;
  p.feed(line);
  auto r = p.next();
  check(r.ok() && r->has_value());
  const Response& resp = **r;
  check(resp.name == "X" && resp.data.size() == 1);
  auto back = resp.data[0].as_astring();
  check(back.has_value() && *back == s);
  check(p.pending_bytes() == 0);
}

void utf7_round_trip(std::string_view s) {
  if (auto utf8 = decode_mailbox_utf7(s); utf8.ok()) {
    auto again = encode_mailbox_utf7(*utf8);
    check(again.ok());
    auto twice = decode_mailbox_utf7(*again);
    check(twice.ok() && *twice == *utf8);
  }
  if (auto enc = encode_mailbox_utf7(s); enc.ok()) {
    auto dec = decode_mailbox_utf7(*enc);
    check(dec.ok() && *dec == s);
  }
  if (auto flags = normalize_flag_list(s); flags.ok()) {
    check(flags->find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
    check(flags->front() == '(' && flags->back() == ')');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (selector % 4) {
    case 0:
    case 1:
      parse_stream(in, 1 + (selector >> 2) % 64);
      break;
    case 2:
      string_round_trip(in);
      break;
    default:
      utf7_round_trip(in);
      break;
  }
  return 0;
}
