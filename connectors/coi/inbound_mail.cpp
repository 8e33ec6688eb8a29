#include "connectors/coi/inbound_mail.hpp"

#include "connectors/coi/mime/mime_parse.hpp"

namespace coibridge::connectors::coi {

PreparedMail prepare_mail(const imap::FetchedMessage& message, const MappingContext& ctx,
                          std::size_t max_message_bytes) {
  PreparedMail out;
  out.uid = message.uid;
  const std::string where = "UID " + std::to_string(message.uid) + ": ";
  if (message.too_large) {
    // Not downloaded at all; parked with its size so an operator can see what was dropped.
    out.result =
        RejectedMail{where + std::to_string(message.size) + " bytes exceed max_message_bytes (" +
                     std::to_string(max_message_bytes) + ")"};
    return out;
  }
  auto parsed = mime::parse_mail(message.body, {max_message_bytes});
  if (!parsed) {
    out.result = RejectedMail{where + parsed.error().message};
    return out;
  }
  auto mapped = event_from_mail(*parsed, ctx);
  if (auto* skip = std::get_if<Skip>(&mapped)) {
    out.result = std::move(*skip);
  } else {
    out.result = MappedMail{std::move(*parsed), std::move(std::get<core::Event>(mapped))};
  }
  return out;
}

}  // namespace coibridge::connectors::coi
