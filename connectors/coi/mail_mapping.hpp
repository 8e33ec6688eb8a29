#pragma once
// Translation between chat mail and the core model, with no I/O: a parsed mail becomes an
// Event (or is skipped, with the reason), and a delivery becomes a mail to compose.

#include <optional>
#include <string>
#include <variant>

#include "connectors/coi/coi_addresses.hpp"
#include "connectors/coi/group_state.hpp"
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
  std::size_t max_attachment_bytes = std::size_t{16} << 20;
};

// Attachments of the event point at the mail's parts as "part:<index into
// mail.attachments>"; the connector stores those bytes and replaces the location with the
// blob store's key before publishing. A part over max_attachment_bytes is left out and the
// text says so.
std::variant<core::Event, Skip> event_from_mail(const mime::ParsedMail& mail,
                                                const MappingContext& ctx);

// The sender's avatar (ParsedMail::avatar) until the connector stores it: ActorRef::avatar.
inline constexpr std::string_view kAvatarPart = "part:avatar";

// The index a "part:<n>" location names, if it is one.
std::optional<std::size_t> mail_part_index(std::string_view location);

struct IdentityOptions {
  bool relay = false;  // relay mode: From = bridge address with the person's name, plus Sender
  std::string display_name;  // the bridge's own name (Sender in relay mode)
};

// The mail that carries one delivery, or nothing when the mail side has no way to show the
// event. Attachments come without their bytes (only name and type); the connector fills
// MailAttachment::data from the blob store, in the same order as the event's attachments. Its
// Message-ID is derived from the event id and the target, so a repeated delivery is the same mail
// and recipients drop the duplicate. A delivery to a group conversation needs the group's state
// (members, name, thread); for a 1:1 chat `group` is ignored.
core::Result<std::optional<mime::OutgoingMail>> mail_for_delivery(
    const core::Delivery& delivery, const MappingContext& ctx, const IdentityOptions& identity,
    const GroupState* group = nullptr);

std::string message_id_for(const core::Delivery& delivery, const AddressBook& addresses);

}  // namespace coibridge::connectors::coi
