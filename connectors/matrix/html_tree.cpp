#include "connectors/matrix/html_tree.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include <array>
#include <climits>

#include "core/text/utf8.hpp"

namespace coibridge::connectors::matrix::html {
namespace {

void init_libxml2_once() {
  // xmlInitParser is not safe to race with a first parse on another thread.
  static const bool initialised = [] {
    xmlInitParser();
    return true;
  }();
  (void)initialised;
}

bool is_document(const xmlNode* node) {
  return node->type == XML_DOCUMENT_NODE || node->type == XML_HTML_DOCUMENT_NODE;
}

}  // namespace

void DocFree::operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }

core::Result<DocPtr> parse_fragment(std::string_view html) {
  if (html.size() > kMaxHtmlBytes) {
    return core::Error::invalid("html",
                                "is larger than " + std::to_string(kMaxHtmlBytes / 1024) + " KiB");
  }
  init_libxml2_once();
  // A leading <body> makes the parser treat the input as body content: without it, text at
  // the start is wrapped in an implied <p>, and the spec asks senders not to add paragraph
  // tags that are not needed.
  const std::string input = "<body>" + core::repair_utf8(html);
  static_assert(kMaxHtmlBytes * 3 + 6 < INT_MAX);
  // NONET: never fetch anything; the error options keep libxml2 from printing to stderr.
  // Blank text nodes are kept: whitespace between inline elements is content.
  constexpr int kOptions =
      HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NODEFDTD;
  xmlDoc* doc =
      htmlReadMemory(input.data(), static_cast<int>(input.size()), nullptr, "UTF-8", kOptions);
  if (doc == nullptr) return core::Error::invalid("html", "could not be parsed");
  return DocPtr(doc);
}

void walk(const xmlDoc& doc, Visitor& visitor) {
  const xmlNode* node = doc.children;
  while (node != nullptr) {
    bool descend = false;
    if (node->type == XML_ELEMENT_NODE) {
      descend = visitor.enter(*node);
      if (descend && node->children == nullptr) {
        visitor.leave(*node);
        descend = false;
      }
    } else if ((node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) &&
               node->content != nullptr) {
      visitor.text(reinterpret_cast<const char*>(node->content));
    }
    if (descend) {
      node = node->children;
      continue;
    }
    // Next in document order: the next sibling, else the next sibling of the nearest
    // ancestor that has one, leaving every element on the way up.
    while (node != nullptr && node->next == nullptr) {
      node = node->parent;
      if (node == nullptr || is_document(node)) {
        node = nullptr;
        break;
      }
      visitor.leave(*node);
    }
    if (node != nullptr) node = node->next;
  }
}

std::string_view name_of(const xmlNode& element) {
  return element.name == nullptr ? std::string_view() : reinterpret_cast<const char*>(element.name);
}

std::optional<std::string> attribute(const xmlNode& element, const char* name) {
  xmlChar* value = xmlGetNoNsProp(&element, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return out;
}

bool drops_content(std::string_view tag) {
  static constexpr std::array<std::string_view, 12> kDropped = {
      "script",   "style",  "head",   "title", "template", "mx-reply",
      "noscript", "iframe", "object", "embed", "svg",      "textarea"};
  for (std::string_view t : kDropped) {
    if (t == tag) return true;
  }
  return false;
}

}  // namespace coibridge::connectors::matrix::html
