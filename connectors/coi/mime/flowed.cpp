#include "connectors/coi/mime/flowed.hpp"

#include <vector>

#include "connectors/coi/mime/text_util.hpp"

namespace coibridge::connectors::coi::mime {
namespace {

using detail::split_lines;

bool needs_stuffing(std::string_view line) {
  // RFC 3676 §4.4: a leading space would be taken for stuffing, "From " is mangled by mbox
  // writers, ">" would be read as a quote mark.
  return line.starts_with(' ') || line.starts_with("From ") || line.starts_with('>');
}

}  // namespace

std::string unformat_flowed(std::string_view text, bool delsp) {
  std::string result;
  bool continuing = true;  // the previous line was flowed (or there is none yet)
  bool first = true;
  for (std::string_view line : split_lines(text)) {
    if (!first && continuing) {
      // A continuation carries the quote depth of the line it continues.
      while (line.starts_with('>')) line.remove_prefix(1);
    }
    if (line.starts_with(' ')) line.remove_prefix(1);  // undo space-stuffing
    if (!first && !continuing) result.push_back('\n');
    first = false;
    // The signature separator "-- " is the one line ending in a space that is not flowed.
    if (line.ends_with(' ') && line != "-- ") {
      line.remove_suffix(1);
      result.append(line);
      if (!delsp) result.push_back(' ');
      continuing = true;
    } else {
      result.append(line);
      continuing = false;
    }
  }
  return result;
}

bool can_format_flowed(std::string_view text) {
  for (std::string_view line : split_lines(text)) {
    if (line.ends_with(' ') || line.ends_with('\t')) return false;
  }
  return true;
}

std::string format_flowed(std::string_view text, std::size_t width) {
  std::string out;
  bool first_line = true;
  for (std::string_view line : split_lines(text)) {
    if (!first_line) out.push_back('\n');
    first_line = false;
    if (line.starts_with('>')) {  // a quote line: kept whole, its depth is its prefix
      out.append(line);
      continue;
    }
    // Break after a run of spaces, before the next word, once the line is long enough.
    // Words longer than `width` stay whole; the caller picks quoted-printable when a line
    // exceeds what 7bit allows (RFC 5322 §2.1.1, 998 octets).
    std::string current;
    auto flush = [&](bool soft) {
      if (needs_stuffing(current)) current.insert(current.begin(), ' ');
      out.append(current);
      if (soft) out.push_back('\n');
      current.clear();
    };
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c != ' ' && i > 0 && line[i - 1] == ' ' && current.size() >= width) flush(true);
      current.push_back(c);
    }
    flush(false);
  }
  return out;
}

}  // namespace coibridge::connectors::coi::mime
