#pragma once
// Writing one chat mail with GMime 3 that COI clients, Delta Chat and plain mail programs
// all read as intended (coi-protocol.md §4.8, §7 items 7-14):
//
//  - Chat-Version: 1.0 and the Delta Chat and COI header sets side by side: Chat-Group-ID
//    and Chat-Group-Name on every group mail, Chat-Edit/Chat-Delete together with COI's
//    Chat-Content: editrequest/deleterequest, RFC 9078 reactions, both receipt-request
//    headers, RFC 8098 MDNs;
//  - a readable text/plain part first: UTF-8, format=flowed (RFC 3676) when that keeps the
//    text intact, 7bit when it is plain ASCII and quoted-printable otherwise;
//  - attachments as base64 parts with RFC 2231 filenames;
//  - CRLF line ends, no 8-bit byte in any header (RFC 2047), no line over 998 octets.
//
// Deterministic except for the multipart boundaries, which GMime draws at random.
// Returns kInvalidArgument (with `field` set) for input that cannot make a valid mail:
// a missing or malformed address or Message-ID, no recipient, a kind that is not sent.

#include <string>

#include "connectors/coi/mime/chat_mail.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::coi::mime {

core::Result<std::string> compose_mail(const OutgoingMail& mail);

}  // namespace coibridge::connectors::coi::mime
