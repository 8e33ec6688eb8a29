#pragma once
// Translation between chat mail and the core model, with no I/O: a parsed mail becomes an
// Event (or is skipped, with the reason), and a delivery becomes a mail to compose.

#include <optional>
#include <string>
#include <variant>

#include "connectors/coi/coi_addresses.hpp"
#include "connectors/coi/mime/chat_mail.hpp"
#include "core/connector/connector.hpp"

namespace coibridge::connectors::coi {

// Not relayed: protocol noise, plain email, our own mail. `reason` is for logs and metrics.
struct Skip {
  std::string reason;
};

struct MappingContext {
  std::string connector;  // this instance's name
  const AddressBook& addresses;
};

std::variant<core::Event, Skip> event_from_mail(const mime::ParsedMail& mail, const MappingContext& ctx);

struct IdentityOptions {
  bool relay = false;        // relay mode: From = bridge address with the person's name, plus Sender
  std::string display_name;  // the bridge's own name (Sender in relay mode)
};

// The mail that carries one delivery, or nothing when the mail side has no way to show the
// event. Its Message-ID is derived from the event id and the target, so a repeated delivery
// is the same mail and recipients drop the duplicate.
core::Result<std::optional<mime::OutgoingMail>> mail_for_delivery(const core::Delivery& delivery, const MappingContext& ctx,
                                                   const IdentityOptions& identity);

std::string message_id_for(const core::Delivery& delivery, const AddressBook& addresses);

}  // namespace coibridge::connectors::coi
