#pragma once
// Reading one mail (RFC 5322 + MIME) into a ParsedMail with GMime 3: multipart walking,
// transfer encodings, charsets, RFC 2047 words, RFC 2231 parameters, format=flowed, and the
// chat semantics of COI and Delta Chat (coi-protocol.md §1, §3, §4).
//
// Any thread may call it; calls share nothing. It never throws and never aborts on hostile
// input: what cannot be read as a mail is kInvalidArgument with the reason in the message
// (field "mail"); what was read around a defect carries a ParsedMail::warnings entry.
//
// Memory: GMime builds the whole MIME tree before the part and attachment limits are
// checked, so peak use is a small multiple of the input (up to a few hundred times for
// input made only of tiny header lines). Keep ParseLimits::max_bytes near what the mail
// server accepts.

#include <string_view>

#include "connectors/coi/mime/chat_mail.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::coi::mime {

core::Result<ParsedMail> parse_mail(std::string_view raw, const ParseLimits& limits = {});

}  // namespace coibridge::connectors::coi::mime
