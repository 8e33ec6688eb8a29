// html_to_text (declared in matrix_html.hpp): the plain rendering of Matrix HTML for mail.

#include <algorithm>
#include <vector>

#include "connectors/matrix/html_tree.hpp"
#include "connectors/matrix/matrix_html.hpp"
#include "core/text/ascii.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::matrix {
namespace {

// Quote markers and list indentation stop growing here, so deep nesting cannot blow up
// every line of the output.
constexpr int kMaxShownDepth = 10;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool is_heading(std::string_view tag) {
  return tag.size() == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '6';
}

// Set off by an empty line, as clients render them with vertical margins.
bool is_paragraph_block(std::string_view tag) {
  for (std::string_view t :
       {"p", "blockquote", "pre", "ul", "ol", "table", "hr", "details", "dl", "figure"}) {
    if (t == tag) return true;
  }
  return is_heading(tag);
}

// Start on a line of their own.
bool is_line_block(std::string_view tag) {
  for (std::string_view t :
       {"div",     "li",       "tr",     "caption", "summary", "dt",        "dd",      "section",
        "article", "header",   "footer", "nav",     "aside",   "main",      "address", "center",
        "form",    "fieldset", "thead",  "tbody",   "tfoot",   "figcaption"}) {
    if (t == tag) return true;
  }
  return false;
}

// A mention pill: a link to a user on matrix.to (client-server API, "User and room
// mentions"), whose text is the user's name.
bool is_user_pill(std::string_view href) { return href.starts_with("https://matrix.to/#/@"); }

// Builds the text line by line. Line breaks are owed, not written, until content follows, so
// blocks that open and close together collapse to at most one empty line, and the output
// never starts or ends with one.
class TextWriter {
 public:
  int quote_depth = 0;
  int list_depth = 0;
  int pre_depth = 0;

  // Text content: whitespace runs collapse to one space, except inside <pre>.
  void text(std::string_view s) {
    if (pre_depth > 0) {
      preformatted(s);
      return;
    }
    std::size_t i = 0;
    while (i < s.size()) {
      if (is_space(s[i])) {
        pending_space_ = true;
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < s.size() && !is_space(s[end])) ++end;
      literal(s.substr(i, end - i));
      i = end;
    }
  }

  // Written as it is, after any owed line break or space.
  void literal(std::string_view s) {
    if (s.empty()) return;
    flush();
    out_ += s;
  }

  // Ends the current line (blank_lines = 0) or paragraph (1) before the next content; a
  // negative count does nothing.
  void block(int blank_lines) {
    if (blank_lines < 0) return;
    pending_breaks_ = std::max(pending_breaks_, blank_lines + 1);
    pending_space_ = false;
  }

  void line_break() {
    pending_breaks_ = std::min(pending_breaks_ + 1, 2);
    pending_space_ = false;
  }

  void start_item() {
    block(0);
    item_pending_ = true;
  }

  // Links: where the link text starts, so that leave can compare it with the address.
  void open_link(std::string href) { links_.push_back({std::string::npos, std::move(href)}); }
  void close_link() {
    const Link link = std::move(links_.back());
    links_.pop_back();
    std::string_view shown;
    if (link.start != std::string::npos) shown = std::string_view(out_).substr(link.start);
    const std::string_view href = link.href;
    if (!is_safe_link(href) || shown == href || is_user_pill(href)) return;
    if (core::ascii::iequals(href.substr(0, 7), "mailto:") && shown == href.substr(7)) return;
    if (shown.empty()) {
      literal(href);
    } else {
      literal(" (" + link.href + ")");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  struct Link {
    std::size_t start;  // npos until the first content of the link is written
    std::string href;
  };

  void preformatted(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      if (s[i] == '\n') {
        ++pending_breaks_;  // not capped: empty lines in preformatted text are content
        ++i;
        continue;
      }
      std::size_t end = s.find('\n', i);
      if (end == std::string_view::npos) end = s.size();
      std::string_view line = s.substr(i, end - i);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) {
        flush();
        out_ += line;
      }
      i = end;
    }
  }

  static std::string quote_prefix(int depth, bool blank) {
    std::string p;
    for (int i = 0; i < std::min(depth, kMaxShownDepth); ++i) p += "> ";
    if (blank && !p.empty()) p.pop_back();  // an empty quoted line ends with its marker
    return p;
  }

  // Writes what is owed before content: line breaks (empty lines keep the quote markers
  // both neighbours share), then the new line's quote markers and list indentation, or the
  // space owed between words.
  void flush() {
    if (out_.empty()) pending_breaks_ = 0;  // never start with empty lines
    if (pending_breaks_ > 0) {
      out_ += '\n';
      for (int i = 1; i < pending_breaks_; ++i) {
        out_ += quote_prefix(std::min(line_quote_depth_, quote_depth), true);
        out_ += '\n';
      }
      pending_breaks_ = 0;
      line_open_ = false;
    }
    if (!line_open_) {
      out_ += quote_prefix(quote_depth, false);
      const int levels = std::min(list_depth, kMaxShownDepth);
      if (item_pending_ && levels > 0) {
        out_.append(static_cast<std::size_t>(2 * (levels - 1)), ' ');
        out_ += "- ";
      } else if (item_pending_) {
        out_ += "- ";  // an <li> outside any list
      } else {
        out_.append(static_cast<std::size_t>(2 * levels), ' ');
      }
      item_pending_ = false;
      line_open_ = true;
      line_quote_depth_ = quote_depth;
    } else if (pending_space_) {
      out_ += ' ';
    }
    pending_space_ = false;
    for (Link& link : links_) {
      if (link.start == std::string::npos) link.start = out_.size();
    }
  }

  std::string out_;
  int pending_breaks_ = 0;  // newlines owed before the next content
  bool pending_space_ = false;
  bool line_open_ = false;  // the current line has its markers and content
  bool item_pending_ = false;
  int line_quote_depth_ = 0;  // quote depth of the line last written
  std::vector<Link> links_;
};

class TextRenderer : public html::Visitor {
 public:
  bool enter(const xmlNode& element) override {
    const std::string_view tag = html::name_of(element);
    if (html::drops_content(tag)) return false;
    if (tag == "br") {
      w_.line_break();
      return false;
    }
    if (tag == "img") {
      if (auto alt = html::attribute(element, "alt")) w_.text(*alt);
      return false;
    }
    if (tag == "hr") {
      w_.block(1);
      w_.literal("---");
      w_.block(1);
      return false;
    }
    w_.block(block_gap(tag));
    if (tag == "blockquote") ++w_.quote_depth;
    if (tag == "ul" || tag == "ol") ++w_.list_depth;
    if (tag == "pre") ++w_.pre_depth;
    if (tag == "li") w_.start_item();
    if (tag == "tr") cells_.push_back(0);
    if ((tag == "td" || tag == "th") && !cells_.empty() && cells_.back()++ > 0) w_.literal(" | ");
    if (tag == "a") w_.open_link(html::attribute(element, "href").value_or(""));
    return true;
  }

  void leave(const xmlNode& element) override {
    const std::string_view tag = html::name_of(element);
    if (tag == "a") w_.close_link();
    if (tag == "tr") cells_.pop_back();
    if (tag == "pre") --w_.pre_depth;
    if (tag == "ul" || tag == "ol") --w_.list_depth;
    if (tag == "blockquote") --w_.quote_depth;
    w_.block(block_gap(tag));
  }

  void text(std::string_view text) override { w_.text(text); }

  std::string take() { return w_.take(); }

 private:
  // The empty lines a block wants around it: -1 for inline elements. A list inside a list
  // item continues the list rather than starting a paragraph.
  int block_gap(std::string_view tag) const {
    if ((tag == "ul" || tag == "ol") && w_.list_depth > 0) return 0;
    if (is_paragraph_block(tag)) return 1;
    if (is_line_block(tag)) return 0;
    return -1;
  }

  TextWriter w_;
  std::vector<int> cells_;  // per open table row: cells seen so far
};

}  // namespace

core::Result<std::string> html_to_text(std::string_view html) {
  auto doc = html::parse_fragment(html);
  if (!doc.ok()) return doc.error();
  TextRenderer renderer;
  html::walk(**doc, renderer);
  std::string out = renderer.take();
  if (!core::is_valid_utf8(out)) out = core::repair_utf8(out);
  return out;
}

}  // namespace coibridge::connectors::matrix
