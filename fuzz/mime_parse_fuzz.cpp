// libFuzzer target for the mail parser: any input must parse or fail with kInvalidArgument,
// never crash, hang or leak (run under ASan/UBSan, which includes LeakSanitizer). What
// parses is fed back through compose_mail, whose output must keep the wire rules and parse
// again: this exercises the composer with arbitrary decoded text, names and files.
//
//   ./mime_parse_fuzz -max_len=65536 -rss_limit_mb=2048 corpus/ tests/fixtures/eml/

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "connectors/coi/mime/mime_compose.hpp"
#include "connectors/coi/mime/mime_parse.hpp"

namespace {

using namespace coibridge::connectors::coi::mime;

void check_wire_format(const std::string& raw) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\n') {
      if (i == 0 || raw[i - 1] != '\r') std::abort();  // bare LF
      line = 0;
    } else if (c == '\r') {
      if (i + 1 == raw.size() || raw[i + 1] != '\n') std::abort();  // bare CR
    } else if (++line > 998 || static_cast<unsigned char>(c) >= 0x80 || c == '\0') {
      std::abort();  // RFC 5322 §2.1.1 line length; 7-bit only
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ParseLimits limits;
  limits.max_bytes = std::size_t{1} << 20;
  const auto parsed =
      parse_mail(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!parsed.ok()) {
    if (parsed.error().kind != coibridge::core::ErrorKind::kInvalidArgument) std::abort();
    return 0;
  }

  OutgoingMail out;
  out.from = {"bridge@example.org", parsed->from.name};
  out.to = {{"peer@example.net", parsed->subject}};
  out.message_id = "chat$fuzz@example.org";
  out.date_unix = 1736244000;
  out.subject = parsed->subject;
  out.text = parsed->text;
  out.quote = parsed->quote;
  out.group_id = parsed->group_id;
  out.group_name = parsed->group_name;
  out.attachments = parsed->attachments;
  const auto raw = compose_mail(out);
  if (!raw.ok()) std::abort();  // every field above is valid by construction
  check_wire_format(*raw);
  const auto again = parse_mail(*raw);
  if (!again.ok() || again->attachments.size() != out.attachments.size()) std::abort();
  return 0;
}
