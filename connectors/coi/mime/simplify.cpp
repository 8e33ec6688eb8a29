#include "connectors/coi/mime/simplify.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "connectors/coi/mime/text_util.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::coi::mime {
namespace {

using detail::split_lines;

using Lines = std::span<const std::string_view>;

constexpr std::string_view kZwsp = "\u200B";
constexpr std::string_view kForwardHeader = "---------- Forwarded message ----------";

bool is_empty_line(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](unsigned char c) { return std::isspace(c) != 0; });
}

bool is_plain_quote(std::string_view line) { return line.starts_with('>'); }

// "On 01.02.2016, xy@z wrote:" in any language: Delta Chat only checks the final colon.
bool is_quoted_headline(std::string_view line) { return line.size() <= 120 && line.ends_with(':'); }

std::string_view unquote(std::string_view line) {
  if (line.starts_with('>')) {
    line.remove_prefix(1);
    if (line.starts_with(' ')) line.remove_prefix(1);
  }
  return line;
}

std::string join_unquoted(Lines lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out.push_back('\n');
    out.append(unquote(lines[i]));
  }
  return out;
}

// Delta Chat collapses runs of empty lines for display; a bridge keeps the sender's
// layout and only drops empty lines at the start and the end.
std::string render(Lines lines) {
  std::size_t begin = 0;
  std::size_t end = lines.size();
  while (begin < end && is_empty_line(lines[begin])) ++begin;
  while (end > begin && is_empty_line(lines[end - 1])) --end;
  std::string out;
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) out.push_back('\n');
    out.append(lines[i]);
  }
  return unescape_footer_marks(out);
}

struct Split {
  Lines kept;
  std::optional<Lines> removed;
};

Lines skip_forward_header(Lines lines, bool& forwarded) {
  if (lines.size() >= 3 && lines[0] == kForwardHeader && lines[1].starts_with("From: ") &&
      lines[2].empty()) {
    forwarded = true;
    return lines.subspan(3);
  }
  return lines;
}

Split remove_top_quote(Lines lines, bool is_chat_message) {
  std::size_t first_quoted = 0;
  std::optional<std::size_t> last_quoted;
  bool has_headline = false;
  for (std::size_t l = 0; l < lines.size(); ++l) {
    if (is_plain_quote(lines[l])) {
      if (!last_quoted) first_quoted = l;
      last_quoted = l;
    } else if (!is_chat_message && is_quoted_headline(lines[l]) && !has_headline && !last_quoted) {
      has_headline = true;
    } else {
      break;
    }
  }
  if (!last_quoted) return {lines, std::nullopt};
  return {lines.subspan(*last_quoted + 1),
          lines.subspan(first_quoted, *last_quoted + 1 - first_quoted)};
}

// RFC 3676 §4.3: the signature follows a line "-- ". Some providers turn it into "--  "
// ("-- =20") or "--" ("=2D-"); the last is accepted only between an empty and a non-empty
// line, and only when no proper separator exists.
Split remove_message_footer(Lines lines) {
  std::optional<std::size_t> nearly_standard;
  for (std::size_t ix = 0; ix < lines.size(); ++ix) {
    const auto line = lines[ix];
    if (line == "-- " || line == "--  ") return {lines.first(ix), lines.subspan(ix + 1)};
    if (line == "--" && (ix == 0 || lines[ix - 1].empty()) && ix + 1 < lines.size() &&
        !lines[ix + 1].empty()) {
      nearly_standard = ix;
    }
  }
  if (nearly_standard) {
    return {lines.first(*nearly_standard), lines.subspan(*nearly_standard + 1)};
  }
  return {lines, std::nullopt};
}

bool remove_nonstandard_footer(Lines& lines) {
  for (std::size_t ix = 0; ix < lines.size(); ++ix) {
    const auto line = lines[ix];
    if (line == "--" || line.starts_with("---") || line.starts_with("_____") ||
        line.starts_with("=====") || line.starts_with("*****") || line.starts_with("~~~~~")) {
      lines = lines.first(ix);
      return true;
    }
  }
  return false;
}

std::optional<std::string> remove_bottom_quote(Lines& lines) {
  std::size_t first_quoted = lines.size();
  std::optional<std::size_t> last_quoted;
  for (std::size_t l = lines.size(); l-- > 0;) {
    if (is_plain_quote(lines[l])) {
      if (!last_quoted) first_quoted = l + 1;
      last_quoted = l;
    } else if (!is_empty_line(lines[l])) {
      break;
    }
  }
  if (!last_quoted) return std::nullopt;
  std::size_t l_last = *last_quoted;
  auto quoted = join_unquoted(lines.subspan(l_last, first_quoted - l_last));
  if (l_last > 1 && is_empty_line(lines[l_last - 1])) --l_last;
  if (l_last > 1 && is_quoted_headline(lines[l_last - 1])) --l_last;
  lines = lines.first(l_last);
  return quoted;
}

// A character reference to NUL, a surrogate or beyond U+10FFFF becomes U+FFFD (HTML's
// "numeric character reference end state" does the same).
void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  core::append_utf8(out, static_cast<char32_t>(cp));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Where "</name" starts (any case), or the end of the input.
std::size_t find_closing_tag(std::string_view html, std::size_t from, std::string_view name) {
  for (auto pos = html.find("</", from); pos != std::string_view::npos;
       pos = html.find("</", pos + 2)) {
    const auto candidate = html.substr(pos + 2, name.size());
    if (candidate.size() == name.size() && lower(candidate) == name) return pos;
  }
  return html.size();
}

}  // namespace

std::string escape_footer_marks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool line_start = i == 0 || text[i - 1] == '\n';
    if (line_start && text.substr(i).starts_with("-- ")) {
      out.append("-").append(kZwsp).append("- ");
      i += 2;
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string unescape_footer_marks(std::string_view text) {
  // The final space is not required, for compatibility with older escapers.
  std::string out;
  out.reserve(text.size());
  const std::string marker = std::string("-").append(kZwsp).append("-");
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool line_start = i == 0 || text[i - 1] == '\n';
    if (line_start && text.substr(i).starts_with(marker)) {
      out.append("--");
      i += marker.size() - 1;
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

SimplifiedText simplify(std::string_view input, bool is_chat_message) {
  std::string no_cr;
  no_cr.reserve(input.size());
  for (char c : input) {
    if (c != '\r') no_cr.push_back(c);
  }
  const auto all_lines = split_lines(no_cr);
  SimplifiedText result;
  Lines lines = skip_forward_header(all_lines, result.is_forwarded);

  auto top = remove_top_quote(lines, is_chat_message);
  lines = top.kept;
  const Lines original = lines;
  auto footer = remove_message_footer(lines);
  lines = footer.kept;
  if (footer.removed) result.footer = render(*footer.removed);

  std::optional<std::string> top_quote;
  if (top.removed) top_quote = join_unquoted(*top.removed);

  if (is_chat_message) {
    result.text = render(lines);
  } else {
    remove_nonstandard_footer(lines);
    auto bottom_quote = remove_bottom_quote(lines);
    if (!top_quote && bottom_quote) top_quote = std::move(bottom_quote);
    const bool all_empty = std::all_of(lines.begin(), lines.end(), is_empty_line);
    result.text = render(all_empty ? original : lines);
    if (top_quote) {
      // A quote's own footer is noise too.
      const auto quote_lines = split_lines(*top_quote);
      top_quote = render(remove_message_footer(quote_lines).kept);
    }
  }
  result.top_quote = std::move(top_quote);
  return result;
}

std::string html_to_text(std::string_view html) {
  std::string out;
  bool pending_space = false;
  auto newline = [&] {
    pending_space = false;
    // At most one empty line between blocks.
    if (out.empty() || out.ends_with("\n\n")) return;
    out.push_back('\n');
  };
  std::size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      if (html.substr(i).starts_with("<!--")) {  // a comment may contain '>'
        const auto end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      const auto close = html.find('>', i);
      if (close == std::string_view::npos) break;
      std::string_view tag = html.substr(i + 1, close - i - 1);
      i = close + 1;
      const bool closing = tag.starts_with('/');
      if (closing) tag.remove_prefix(1);
      std::size_t name_end = 0;
      while (name_end < tag.size() && std::isalnum(static_cast<unsigned char>(tag[name_end]))) {
        ++name_end;
      }
      const std::string name = lower(tag.substr(0, name_end));
      if (!closing && (name == "script" || name == "style" || name == "head" || name == "title")) {
        i = find_closing_tag(html, i, name);
        continue;
      }
      if (name == "br") {
        pending_space = false;
        out.push_back('\n');
      } else if (name == "p" || name == "div" || name == "li" || name == "tr" ||
                 name == "blockquote" || name == "pre" || name == "table" || name == "ul" ||
                 name == "ol" ||
                 (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6')) {
        newline();
      }
      continue;
    }
    if (c == '&') {
      // Entities are short; looking further would make "&&&&…" quadratic.
      const auto window = html.substr(i, 12).find(';');
      const auto semi = window == std::string_view::npos ? window : i + window;
      if (semi != std::string_view::npos) {
        const std::string entity = lower(html.substr(i + 1, semi - i - 1));
        static constexpr std::array<std::pair<std::string_view, std::uint32_t>, 6> kNamed{
            {{"amp", '&'},
             {"lt", '<'},
             {"gt", '>'},
             {"quot", '"'},
             {"apos", '\''},
             {"nbsp", 0xA0}}};
        std::optional<std::uint32_t> cp;
        for (const auto& [named, value] : kNamed) {
          if (entity == named) cp = value;
        }
        if (entity.size() > 1 && entity[0] == '#') {
          const bool hex = entity[1] == 'x';
          const std::string digits = entity.substr(hex ? 2 : 1);
          if (!digits.empty() && digits.size() <= 7 &&
              std::all_of(digits.begin(), digits.end(), [hex](unsigned char d) {
                return hex ? std::isxdigit(d) != 0 : std::isdigit(d) != 0;
              })) {
            cp = static_cast<std::uint32_t>(std::stoul(digits, nullptr, hex ? 16 : 10));
          }
        }
        if (cp) {
          if (pending_space) out.push_back(' ');
          pending_space = false;
          append_utf8(out, *cp);
          i = semi + 1;
          continue;
        }
      }
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      // HTML collapses white space; a line start needs none.
      pending_space = !out.empty() && !out.ends_with('\n');
      ++i;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
    ++i;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace coibridge::connectors::coi::mime
