#pragma once
// The CPU-bound half of reading a mail, with no I/O: parse it (GMime) and map it to an event.
// The connector runs it for a whole fetched batch off the I/O thread (ConnectorContext::
// compute); what needs the database (attachments, groups, publishing) follows on the
// connector's strand.

#include <cstdint>
#include <string>
#include <variant>

#include "connectors/coi/imap/imap_types.hpp"
#include "connectors/coi/mail_mapping.hpp"
#include "connectors/coi/mime/chat_mail.hpp"

namespace coibridge::connectors::coi {

struct MappedMail {
  mime::ParsedMail mail;
  core::Event event;
};

// Cannot be read or mapped: to be parked as an inbound dead letter with this reason.
struct RejectedMail {
  std::string reason;
};

struct PreparedMail {
  std::uint32_t uid = 0;
  std::variant<MappedMail, Skip, RejectedMail> result;
};

PreparedMail prepare_mail(const imap::FetchedMessage& message, const MappingContext& ctx,
                          std::size_t max_message_bytes);

}  // namespace coibridge::connectors::coi
