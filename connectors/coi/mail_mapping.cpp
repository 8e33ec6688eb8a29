#include "connectors/coi/mail_mapping.hpp"

#include <algorithm>
#include <chrono>

#include "core/text/fnv1a.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::coi {
namespace {

using mime::ChatKind;

constexpr std::size_t kLongestNamedSubaddress = 30;
// How much of the answered message a reply quotes: Delta Chat shows a quote's first lines.
constexpr std::size_t kQuoteBytes = 500;

// The "> " block a reply starts with (Delta Chat src/mimefactory.rs): Delta Chat shows a mail
// as a reply to the message In-Reply-To names only when the mail quotes it.
std::string quote_of(const core::QuotedMessage& quoted) {
  std::string text(core::utf8_prefix(quoted.text, kQuoteBytes));
  if (text.size() < quoted.text.size()) text += "\u2026";
  return text;
}

core::RemoteMessageRef ref(const MappingContext& ctx, const std::string& message_id) {
  return {ctx.connector, message_id};
}

// The conversation a chat mail belongs to (coi-protocol.md §7 item 6): the group when it
// is a group mail (group_state.hpp), else the 1:1 chat with its sender: with one person of another
// network when it is addressed to that person's puppet, else with the bridge account.
std::string conversation_of(const mime::ParsedMail& mail, const MappingContext& ctx) {
  if (auto group = group_conversation_of(mail)) return *group;
  for (const auto* list : {&mail.to, &mail.cc}) {
    for (const auto& rcpt : *list) {
      if (ctx.addresses.parse_puppet(rcpt.address))
        return dm_conversation(mail.from.address, rcpt.address);
    }
  }
  return dm_conversation(mail.from.address);
}

core::MessageBody body_of(const mime::ParsedMail& mail, const MappingContext& ctx) {
  core::MessageBody body;
  body.text = mail.text;
  body.html = mail.html;
  for (std::size_t i = 0; i < mail.attachments.size(); ++i) {
    const auto& part = mail.attachments[i];
    if (part.data.size() > ctx.max_attachment_bytes) {
      if (!body.text.empty() && body.text.back() != '\n') body.text += '\n';
      body.text += "[attachment \"" + part.filename + "\" (" + std::to_string(part.data.size()) +
                   " bytes) left out: over the bridge's limit of " +
                   std::to_string(ctx.max_attachment_bytes) + " bytes]\n";
      continue;
    }
    body.attachments.push_back(core::Attachment{part.filename, part.content_type, part.data.size(),
                                                "part:" + std::to_string(i)});
  }
  // In-Reply-To alone only threads (every Delta Chat message has one); a reply is a message
  // that quotes, and then In-Reply-To names the quoted message (coi-protocol.md §1.5).
  if (mail.quote && !mail.in_reply_to.empty()) body.reply_to = ref(ctx, mail.in_reply_to.front());
  return body;
}

}  // namespace

std::optional<std::size_t> mail_part_index(std::string_view location) {
  constexpr std::string_view kPrefix = "part:";
  if (!location.starts_with(kPrefix) || location.size() == kPrefix.size() ||
      location.size() > kPrefix.size() + 6) {
    return std::nullopt;
  }
  std::size_t n = 0;
  for (char c : location.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

std::variant<core::Event, Skip> event_from_mail(const mime::ParsedMail& mail,
                                                const MappingContext& ctx) {
  if (mail.message_id.empty()) return Skip{"no Message-ID"};
  if (ctx.addresses.is_ours(mail.from.address)) return Skip{"sent by the bridge"};
  // A read receipt counts from any mail client (RFC 8098; Delta Chat's carry no Chat-Version
  // either): it names the message it is about, and only one we sent can be its target.
  if (!mail.is_chat && mail.kind != ChatKind::kReadReceipt) return Skip{"not a chat message"};
  if (mail.kind == ChatKind::kProtocolNoise) return Skip{"protocol: " + mail.noise_reason};

  core::Event event;
  event.where = {ctx.connector, conversation_of(mail, ctx)};
  event.who = {ctx.connector, lower_ascii(mail.from.address), mail.from.name};
  if (mail.avatar && mail.avatar->size() <= ctx.max_attachment_bytes)
    event.who.avatar = std::string(kAvatarPart);
  event.origin = ref(ctx, mail.message_id);
  if (mail.date_unix > 0) event.at = core::Timestamp{std::chrono::seconds(mail.date_unix)};

  const auto target = [&]() -> std::optional<core::RemoteMessageRef> {
    if (!mail.target_message_id || mail.target_message_id->empty()) return std::nullopt;
    return ref(ctx, *mail.target_message_id);
  }();
  switch (mail.kind) {
    case ChatKind::kMessage:
      event.payload = core::MessagePosted{body_of(mail, ctx)};
      break;
    case ChatKind::kEdit:
      if (!target) return Skip{"edit without a target"};
      // Delta Chat quotes the original in an edit for plain mail clients; that quote is not a
      // reply.
      event.payload = core::MessageEdited{*target, body_of(mail, ctx)};
      std::get<core::MessageEdited>(event.payload).body.reply_to.reset();
      break;
    case ChatKind::kDelete:
      if (!target) return Skip{"delete without a target"};
      event.payload = core::MessageDeleted{*target};
      break;
    case ChatKind::kReaction:
      if (!target) return Skip{"reaction without a target"};
      // RFC 9078 §2: an empty reaction withdraws the sender's earlier one.
      event.payload = core::ReactionChanged{*target, mail.reaction, !mail.reaction.empty()};
      break;
    case ChatKind::kReadReceipt:
      if (!target) return Skip{"read receipt without an original message"};
      event.payload = core::ReadUpTo{*target};
      break;
    case ChatKind::kMemberAdded:
      if (!mail.member_added) return Skip{"member change without a member"};
      event.payload = core::MemberJoined{
          {ctx.connector, lower_ascii(mail.member_added->address), mail.member_added->name}};
      break;
    case ChatKind::kMemberRemoved:
      if (!mail.member_removed) return Skip{"member change without a member"};
      event.payload = core::MemberLeft{
          {ctx.connector, lower_ascii(mail.member_removed->address), mail.member_removed->name}};
      break;
    case ChatKind::kGroupRenamed:
      event.payload = core::ConversationRenamed{mail.group_name.value_or("")};
      break;
    default:
      return Skip{"not a chat message"};
  }
  return event;
}

std::string message_id_for(const core::Delivery& delivery, const AddressBook& addresses) {
  // chat$ satisfies COI's detection rule (coi-protocol.md §1.1); Delta Chat accepts any id.
  // The target's digest: one id per (event, target).
  const auto tag = core::hex64(core::fnv1a64(delivery.target.remote_id));
  const auto at = addresses.bridge_address().rfind('@');
  return "chat$" + delivery.event_id.value + "." + tag + addresses.bridge_address().substr(at);
}

core::Result<std::optional<mime::OutgoingMail>> mail_for_delivery(const core::Delivery& delivery,
                                                                  const MappingContext& ctx,
                                                                  const IdentityOptions& identity,
                                                                  const GroupState* group) {
  const auto& event = delivery.event;
  mime::OutgoingMail mail;
  const std::string& conversation = delivery.target.remote_id;
  if (const auto peer = dm_peer(conversation)) {
    mail.to = {mime::Mailbox{*peer, ""}};
  } else if (is_group_conversation(conversation)) {
    if (group == nullptr || group->members.empty()) {
      // A group linked before its first mail: mail has no server-side member list, the
      // group's first mail brings it. Until then the queue waits, costing no attempt.
      return core::Error::unreachable_peer(
          "group '" + conversation + "': no member list yet (waiting for the group's first mail)");
    }
  } else {
    return core::Error::permanent("conversation '" + conversation +
                                  "' is neither a 1:1 chat nor a group");
  }
  const std::string name =
      event.who.display_name.empty() ? event.who.remote_id : event.who.display_name;
  if (identity.relay) {
    // Delta Chat shows the From name for this message only when Sender is present
    // (coi-protocol.md §4.7).
    mail.from = {ctx.addresses.bridge_address(), name};
    mail.sender = mime::Mailbox{ctx.addresses.bridge_address(), identity.display_name};
  } else {
    mail.from = {ctx.addresses.puppet_address(event.who.connector, event.who.remote_id), name};
    // Delta Chat (2.65) ignores the From name of an address whose subaddress is long, as
    // puppets of Matrix users are (measured: 30 characters after "+" keep the name, 33 lose
    // it); with Sender it shows the From name on each message. Sender is also simply true
    // (RFC 5322 §3.6.2): the bridge transmits on the person's behalf.
    const auto plus = mail.from.address.find('+');
    const auto at = mail.from.address.rfind('@');
    if (plus != std::string::npos && at != std::string::npos &&
        at - plus - 1 > kLongestNamedSubaddress) {
      mail.sender = mime::Mailbox{ctx.addresses.bridge_address(), identity.display_name};
    }
  }
  mail.message_id = message_id_for(delivery, ctx.addresses);
  mail.date_unix =
      std::chrono::duration_cast<std::chrono::seconds>(event.at.time_since_epoch()).count();
  mail.subject = "Message from " + name;
  if (group != nullptr && is_group_conversation(conversation)) {
    // Every member but the sender, ours included: Delta Chat and COI clients take the
    // recipients as the member list.
    for (const auto& member : group->members) {
      if (member != lower_ascii(mail.from.address)) mail.to.push_back(mime::Mailbox{member, ""});
    }
    if (mail.to.empty())
      return core::Error::permanent("group '" + conversation + "' has no other member");
    mail.group_id = group_id_of(conversation);
    if (!group->name.empty()) mail.group_name = group->name;
    mail.subject.clear();  // the group name (mime_compose)
  }

  // References must be ids the mail side knows: the scheduler translated them already when a
  // mapping exists; a reference still in another network's terms cannot be expressed.
  const auto mail_ref = [&](const core::RemoteMessageRef& r) -> std::optional<std::string> {
    if (r.connector != ctx.connector) return std::nullopt;
    return r.remote_id;
  };
  // An ad-hoc group is found by its thread: References starts with the group's root, and
  // In-Reply-To names the newest group mail unless the message replies to another.
  const bool adhoc = group != nullptr && adhoc_root_of(conversation).has_value();
  if (adhoc) {
    mail.references = {group->root};
    if (!group->last_message_id.empty() && group->last_message_id != group->root) {
      mail.references.push_back(group->last_message_id);
    }
    mail.in_reply_to = {group->last_message_id.empty() ? group->root : group->last_message_id};
  }
  const auto add_reply = [&](const std::optional<core::RemoteMessageRef>& r) {
    if (!r) return;
    if (auto id = mail_ref(*r)) {
      mail.in_reply_to = {*id};
      if (adhoc) {
        if (std::find(mail.references.begin(), mail.references.end(), *id) ==
            mail.references.end()) {
          mail.references.push_back(*id);
        }
      } else {
        mail.references = {*id};
      }
    }
  };

  // What the mail side cannot express is dropped (typing, membership of a 1:1 chat) or
  // degraded (an edit of a message it never saw becomes a new message), never dead-lettered:
  // those are not failures.
  bool send = std::visit(
      [&](const auto& p) -> bool {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, core::MessagePosted>) {
          mail.kind = mime::ChatKind::kMessage;
          mail.text = p.body.text;
          // Ask for read receipts (coi-protocol.md §7 item 10): Delta Chat answers only when
          // asked, so a read on the mail side can reach the other network.
          mail.request_read_receipt = true;
          for (const auto& file : p.body.attachments) {
            mail.attachments.push_back(mime::MailAttachment{file.filename, file.content_type, {}});
          }
          add_reply(p.body.reply_to);
          if (delivery.quoted && p.body.reply_to && mail_ref(*p.body.reply_to)) {
            mail.quote = quote_of(*delivery.quoted);
          }
          return true;
        } else if constexpr (std::is_same_v<T, core::MessageEdited>) {
          auto target = mail_ref(p.target);
          mail.text = p.body.text;
          if (!target) {
            mail.kind = mime::ChatKind::kMessage;
            mail.text = "\u270F\uFE0F " + p.body.text;  // marked as edited
            return true;
          }
          mail.kind = mime::ChatKind::kEdit;
          mail.target_message_id = *target;
          add_reply(p.target);
          return true;
        } else if constexpr (std::is_same_v<T, core::MessageDeleted> ||
                             std::is_same_v<T, core::ReactionChanged>) {
          auto target = mail_ref(p.target);
          if (!target) return false;
          mail.target_message_id = *target;
          add_reply(p.target);
          if constexpr (std::is_same_v<T, core::ReactionChanged>) {
            mail.kind = mime::ChatKind::kReaction;
            mail.reaction = p.added ? p.reaction : std::string();
          } else {
            mail.kind = mime::ChatKind::kDelete;
          }
          return true;
        } else if constexpr (std::is_same_v<T, core::ReadUpTo>) {
          auto target = mail_ref(p.target);
          if (!target) return false;
          mail.kind = mime::ChatKind::kReadReceipt;
          mail.read_receipt_for = *target;
          return true;
        } else {
          return false;
        }
      },
      event.payload);
  if (!send) return std::optional<mime::OutgoingMail>{};
  return std::optional<mime::OutgoingMail>(std::move(mail));
}

}  // namespace coibridge::connectors::coi
