// libFuzzer target for the Matrix HTML handling: any input must render and sanitise (or be
// refused as too large, kInvalidArgument), never crash, hang or leak, and always give
// well-formed UTF-8 (it goes into JSON). The sanitiser's output is checked by a separate,
// purely lexical reading: balanced tags from the permitted set only, permitted attributes
// only, links and images with permitted schemes, no other '<', '>' or '&' than escapes.
// (Not idempotence: unwrapping an unknown element can change how a parser closes tags
// around it, so sanitising twice may move a closing tag; it can never add one.)
//
//   ./matrix_html_fuzz -max_len=65536 -rss_limit_mb=2048 corpus/ tests/fixtures/fuzz/matrix_html/

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/matrix/matrix_html.hpp"
#include "core/text/utf8.hpp"

namespace {

using namespace coibridge::connectors::matrix;
namespace core = coibridge::core;

// The only failure allowed: input over the 256 KiB bound.
void check_refusal(const coibridge::core::Error& error, std::size_t input_size) {
  if (error.kind != coibridge::core::ErrorKind::kInvalidArgument || input_size <= kMaxHtmlBytes)
    std::abort();
}

void require(bool condition) {
  if (!condition) std::abort();
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  for (std::string_view x : set) {
    if (x == s) return true;
  }
  return false;
}

bool permitted_tag(std::string_view t) {
  return one_of(t, {"font",       "del",     "h1",  "h2",     "h3",    "h4",      "h5",     "h6",
                    "blockquote", "p",       "a",   "ul",     "ol",    "sup",     "sub",    "li",
                    "b",          "i",       "u",   "strong", "em",    "s",       "strike", "code",
                    "hr",         "br",      "div", "table",  "thead", "tbody",   "tr",     "th",
                    "td",         "caption", "pre", "span",   "img",   "details", "summary"});
}

bool permitted_attribute(std::string_view tag, std::string_view name, std::string_view value) {
  if (tag == "a" && name == "href") {
    std::string scheme(value.substr(0, 8));
    for (char& ch : scheme) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    return (scheme.starts_with("http://") || scheme.starts_with("https://") ||
            scheme.starts_with("mailto:")) &&
           value.find_first_of(" \t\n\r") == std::string_view::npos;
  }
  if (tag == "img" && name == "src") return value.starts_with("mxc://");
  if (tag == "a") return name == "target" && value == "_blank";
  if (tag == "img") return one_of(name, {"width", "height", "alt", "title"});
  if (tag == "ol") return name == "start";
  if (tag == "code") return name == "class" && value.starts_with("language-");
  if (tag == "span")
    return one_of(name, {"data-mx-color", "data-mx-bg-color", "data-mx-spoiler", "data-mx-maths"});
  if (tag == "font") return one_of(name, {"data-mx-color", "data-mx-bg-color", "color"});
  if (tag == "div") return name == "data-mx-maths";
  return false;
}

// Reads the sanitiser's output as a browser's tokenizer would see it.
void check_sanitized(std::string_view html) {
  std::vector<std::string_view> open;
  std::size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    require(c != '>');
    if (c == '&') {
      require(html.substr(i).starts_with("&amp;") || html.substr(i).starts_with("&lt;") ||
              html.substr(i).starts_with("&gt;") || html.substr(i).starts_with("&quot;"));
      ++i;
      continue;
    }
    if (c != '<') {
      ++i;
      continue;
    }
    const bool closing = html.substr(i + 1).starts_with("/");
    std::size_t j = i + (closing ? 2 : 1);
    const std::size_t name_start = j;
    while (j < html.size() && html[j] != ' ' && html[j] != '>') ++j;
    const std::string_view tag = html.substr(name_start, j - name_start);
    require(permitted_tag(tag));
    if (closing) {
      require(j < html.size() && html[j] == '>' && !open.empty() && open.back() == tag);
      open.pop_back();
      i = j + 1;
      continue;
    }
    while (j < html.size() && html[j] == ' ') {
      const std::size_t eq = html.find("=\"", j);
      require(eq != std::string_view::npos);
      const std::string_view name = html.substr(j + 1, eq - j - 1);
      const std::size_t end = html.find('"', eq + 2);
      require(end != std::string_view::npos);
      const std::string_view value = html.substr(eq + 2, end - eq - 2);
      require(value.find_first_of("<>") == std::string_view::npos);
      require(permitted_attribute(tag, name, value));
      j = end + 1;
    }
    require(j < html.size() && html[j] == '>');
    if (!one_of(tag, {"br", "hr", "img"})) open.push_back(tag);
    require(open.size() <= 100);
    i = j + 1;
  }
  require(open.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto text = html_to_text(input);
  const auto clean = sanitize_html(input);
  if (!text.ok()) check_refusal(text.error(), size);
  if (!clean.ok()) check_refusal(clean.error(), size);
  if (!text.ok() || !clean.ok()) return 0;
  require(core::is_valid_utf8(*text) && core::is_valid_utf8(*clean));
  check_sanitized(*clean);
  const auto again = sanitize_html(*clean);
  require(again.ok());
  check_sanitized(*again);
  const auto rendered = html_to_text(*clean);
  require(rendered.ok() && core::is_valid_utf8(*rendered));
  require(core::is_valid_utf8(text_to_html(*text)));
  return 0;
}
