#include "connectors/matrix/matrix_html.hpp"

#include <array>
#include <vector>

#include "connectors/matrix/html_tree.hpp"
#include "connectors/matrix/matrix_ids.hpp"
#include "core/text/ascii.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::matrix {
namespace {

// "Tags must not be nested more than 100 levels deep" (client-server API, m.room.message).
constexpr int kMaxNesting = 100;

// The suggested set of v1.13, plus font and strike, which earlier versions suggested and
// older clients still send.
constexpr std::array<std::string_view, 39> kAllowedTags = {
    "font", "del", "h1",     "h2",      "h3",  "h4",   "h5",  "h6",      "blockquote", "p",
    "a",    "ul",  "ol",     "sup",     "sub", "li",   "b",   "i",       "u",          "strong",
    "em",   "s",   "strike", "code",    "hr",  "br",   "div", "table",   "thead",      "tbody",
    "tr",   "th",  "td",     "caption", "pre", "span", "img", "details", "summary"};

bool is_allowed_tag(std::string_view tag) {
  for (std::string_view t : kAllowedTags) {
    if (t == tag) return true;
  }
  return false;
}

bool is_void(std::string_view tag) { return tag == "br" || tag == "hr" || tag == "img"; }

bool is_color(std::string_view v) {
  if (v.size() != 7 || v[0] != '#') return false;
  for (char c : v.substr(1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

bool is_number(std::string_view v, bool allow_sign) {
  if (allow_sign && !v.empty() && v[0] == '-') v.remove_prefix(1);
  if (v.empty() || v.size() > 9) return false;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The language-* classes of a class attribute (for syntax highlighting), nothing else.
std::string language_classes(std::string_view v) {
  std::string out;
  std::size_t i = 0;
  while (i < v.size()) {
    const auto end = std::min(v.find_first_of(" \t\n\r\f", i), v.size());
    const std::string_view token = v.substr(i, end - i);
    bool ok = token.starts_with("language-") && token.size() > 9;
    for (char c : token) {
      const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!word && c != '-' && c != '_' && c != '+' && c != '#' && c != '.') ok = false;
    }
    if (ok) {
      if (!out.empty()) out += ' ';
      out += token;
    }
    i = end + 1;
  }
  return out;
}

// The value to keep for one attribute of an allowed tag, or nullopt to drop it.
std::optional<std::string> permitted_value(std::string_view tag, std::string_view name,
                                           const std::string& v) {
  const bool colored = tag == "span" || tag == "font";
  if (colored && (name == "data-mx-color" || name == "data-mx-bg-color")) {
    return is_color(v) ? std::optional(v) : std::nullopt;
  }
  if (tag == "font" && name == "color") return is_color(v) ? std::optional(v) : std::nullopt;
  if (tag == "span" && name == "data-mx-spoiler") return v;
  if ((tag == "span" || tag == "div") && name == "data-mx-maths") return v;
  if (tag == "a" && name == "href") return is_safe_link(v) ? std::optional(v) : std::nullopt;
  if (tag == "a" && name == "target") return v == "_blank" ? std::optional(v) : std::nullopt;
  if (tag == "img" && name == "src") return is_valid_mxc_uri(v) ? std::optional(v) : std::nullopt;
  if (tag == "img" && (name == "width" || name == "height")) {
    return is_number(v, false) ? std::optional(v) : std::nullopt;
  }
  if (tag == "img" && (name == "alt" || name == "title")) return v;
  if (tag == "ol" && name == "start") return is_number(v, true) ? std::optional(v) : std::nullopt;
  if (tag == "code" && name == "class") {
    std::string classes = language_classes(v);
    return classes.empty() ? std::nullopt : std::optional(std::move(classes));
  }
  return std::nullopt;
}

void append_escaped(std::string& out, std::string_view text, bool attribute) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += attribute ? "&quot;" : "\"";
        break;
      default:
        out += c;
    }
  }
}

class Sanitizer : public html::Visitor {
 public:
  bool enter(const xmlNode& element) override {
    const std::string_view tag = html::name_of(element);
    if (html::drops_content(tag)) return false;
    if (tag == "img") {
      // A remote image would be fetched by every reader's client.
      const auto src = html::attribute(element, "src");
      if (!src || !is_valid_mxc_uri(*src)) return false;
    }
    // A link inside a link is not valid HTML, and a parser reading the output would close
    // the outer one there: the inner tag goes, so the output parses as it was written.
    const bool keep =
        is_allowed_tag(tag) && depth_ < kMaxNesting && !(tag == "a" && open_links_ > 0);
    kept_.push_back(keep);
    if (!keep) return true;  // the tag goes, its content stays
    ++depth_;
    if (tag == "a") ++open_links_;
    out_ += '<';
    out_ += tag;
    for (const xmlAttr* a = element.properties; a != nullptr; a = a->next) {
      if (a->name == nullptr) continue;
      const std::string_view name = reinterpret_cast<const char*>(a->name);
      const auto value = html::attribute(element, reinterpret_cast<const char*>(a->name));
      if (!value) continue;
      if (const auto kept = permitted_value(tag, name, *value)) {
        out_ += ' ';
        out_ += name;
        out_ += "=\"";
        append_escaped(out_, *kept, true);
        out_ += '"';
      }
    }
    out_ += '>';
    return true;
  }

  void leave(const xmlNode& element) override {
    const bool kept = kept_.back();
    kept_.pop_back();
    if (!kept) return;
    --depth_;
    const std::string_view tag = html::name_of(element);
    if (tag == "a") --open_links_;
    if (is_void(tag)) return;
    out_ += "</";
    out_ += tag;
    out_ += '>';
  }

  void text(std::string_view text) override { append_escaped(out_, text, false); }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::vector<bool> kept_;  // per open element: whether its tag was written
  int depth_ = 0;           // open elements whose tag was written
  int open_links_ = 0;      // of those, <a> elements
};

}  // namespace

bool is_safe_link(std::string_view url) {
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return false;
  }
  for (std::string_view scheme : {"http://", "https://", "mailto:"}) {
    if (url.size() > scheme.size() && core::ascii::iequals(url.substr(0, scheme.size()), scheme))
      return true;
  }
  return false;
}

core::Result<std::string> sanitize_html(std::string_view html) {
  auto doc = html::parse_fragment(html);
  if (!doc.ok()) return doc.error();
  Sanitizer sanitizer;
  html::walk(**doc, sanitizer);
  std::string out = sanitizer.take();
  // The input was repaired; this only guards against the parser producing ill-formed text.
  if (!core::is_valid_utf8(out)) out = core::repair_utf8(out);
  return out;
}

std::string text_to_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n' || c == '\r') {
      out += "<br>";
    } else {
      append_escaped(out, std::string_view(&c, 1), true);
    }
  }
  return out;
}

}  // namespace coibridge::connectors::matrix
