#pragma once
// HTML of Matrix messages (format "org.matrix.custom.html", Matrix spec v1.13 client-server
// API, "m.room.message msgtypes"): plain text for networks that show no HTML, a sanitiser
// for HTML that goes into rooms, and HTML for plain text.
//
// Input is untrusted and may be any bytes: it is parsed the way a browser would, ill-formed
// UTF-8 is replaced by U+FFFD, and anything over 256 KiB is refused with kInvalidArgument
// (field "html"). Output is always well-formed UTF-8.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/model/result.hpp"

namespace coibridge::connectors::matrix {

// Matrix events are at most 65536 bytes (client-server API, "Size limits"), so HTML far
// larger is no message body; the bound keeps parse time and output size predictable.
inline constexpr std::size_t kMaxHtmlBytes = 256 * 1024;

// Readable plain text, for mail: block elements start new lines (paragraphs, headings,
// lists and quotes are set off by an empty line), <br> breaks the line, list items start
// with "- " (indented two spaces per nesting level), quoted lines start with "> ", links
// read "text (url)" when the address is not the text itself (a mention pill, a link to a
// matrix.to user, keeps its text only), images become their alt text, table cells are
// separated by " | ". Entities are decoded; scripts, styles and the rich reply fallback
// (<mx-reply>) are dropped with their content.
core::Result<std::string> html_to_text(std::string_view html);

// HTML reduced to the tags and attributes the spec suggests clients permit:
//   font del h1-h6 blockquote p a ul ol sup sub li b i u strong em s strike code hr br div
//   table thead tbody tr th td caption pre span img details summary
// Other tags are removed and their content kept, except elements that carry no message
// text (script, style, <mx-reply>, ...), removed with their content. Attributes: a href (an
// http, https or mailto URL) and target="_blank"; img src (mxc:// only; an img without one
// is removed, so no remote image is ever fetched), width, height, alt, title; ol start; code
// class (language-* only); span, font data-mx-color and data-mx-bg-color (#rrggbb), font
// color; span data-mx-spoiler; span, div data-mx-maths. Deeper than 100 levels ("Tags must
// not be nested more than 100 levels deep") tags are removed and their content kept. Text
// and attribute values are escaped again, so the result is well-formed.
core::Result<std::string> sanitize_html(std::string_view html);

// Plain text as HTML: & < > " escaped, each line break (LF or CRLF) a <br>. For composing
// HTML around text, e.g. a sender's name before a formatted message.
std::string text_to_html(std::string_view text);

// A link a message may carry: an absolute http, https or mailto URL without control
// characters or spaces (the spec also allows ftp and magnet; nothing we bridge needs them).
bool is_safe_link(std::string_view url);

}  // namespace coibridge::connectors::matrix
