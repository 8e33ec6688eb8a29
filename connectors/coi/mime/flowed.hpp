#pragma once
// RFC 3676 format=flowed, on text whose lines end in "\n" (MIME converts to CRLF).

#include <cstddef>
#include <string>
#include <string_view>

namespace coibridge::connectors::coi::mime {

// Joins soft-broken lines: a line ending in a space continues on the next one (§4.2). With
// DelSp=yes that space is deleted (§4.5). Space-stuffing is undone (§4.4). The quote marks
// of a continuation line are dropped, as Delta Chat does (format-flowed/src/lib.rs).
std::string unformat_flowed(std::string_view text, bool delsp);

// True when `text` survives format=flowed unchanged: no line may end in white space, since
// a trailing space is what marks a soft break (§4.2) and generators trim the others (§4.1).
bool can_format_flowed(std::string_view text);

// Wraps lines longer than `width` octets after a space (a soft break, DelSp=no) and
// space-stuffs lines that start with a space or "From " or would start a wrapped
// continuation with ">" (§4.4). Lines starting with ">" are quotes and are not wrapped.
// Precondition: can_format_flowed(text).
std::string format_flowed(std::string_view text, std::size_t width = 72);

}  // namespace coibridge::connectors::coi::mime
