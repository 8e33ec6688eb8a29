#pragma once
// Untrusted HTML fragments parsed with libxml2's HTML parser (the same error recovery a
// browser applies: unclosed and stray tags, bare '<' and '&'), and a walk over the tree that
// does not recurse, so no input can exhaust the stack. Shared by html_to_text and
// sanitize_html; nothing outside this module sees libxml2 types.

#include <libxml/tree.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/matrix/matrix_html.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::matrix::html {

struct DocFree {
  void operator()(xmlDoc* doc) const;
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// The fragment as a document. The input is repaired to well-formed UTF-8 first (libxml2
// passes stray bytes through, and they would poison the JSON the output ends up in).
// kInvalidArgument (field "html") when the input exceeds kMaxHtmlBytes.
core::Result<DocPtr> parse_fragment(std::string_view html);

class Visitor {
 public:
  virtual ~Visitor() = default;
  // An element: return true to walk its children, which guarantees one leave() call.
  virtual bool enter(const xmlNode& element) = 0;
  virtual void leave(const xmlNode& element) = 0;
  virtual void text(std::string_view text) = 0;
};

// Document order, elements and text only (comments, processing instructions and the
// doctype are skipped).
void walk(const xmlDoc& doc, Visitor& visitor);

std::string_view name_of(const xmlNode& element);
std::optional<std::string> attribute(const xmlNode& element, const char* name);

// Elements whose content is not message text: scripts, styles, document metadata, embedded
// objects, and the rich reply fallback, which clients SHOULD strip with its content since
// v1.13 (client-server API, "m.room.message msgtypes").
bool drops_content(std::string_view tag);

}  // namespace coibridge::connectors::matrix::html
