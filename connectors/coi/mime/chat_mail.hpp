#pragma once
// Chat mail as this module sees it: plain structs, no GMime types. The mail side knows mail
// (addresses, Message-IDs, MIME parts), not the bridge core's Events; mail_mapping does that
// translation.
//
// Message-IDs are always stored without the angle brackets ("abc@example.org").

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coibridge::connectors::coi::mime {

struct Mailbox {
  std::string address;  // local part as written, domain lower-cased (RFC 5321 §2.4)
  std::string name;     // display name, RFC 2047 decoded to UTF-8; empty when absent
  bool operator==(const Mailbox&) const = default;
};

struct MailAttachment {
  std::string filename;      // UTF-8, RFC 2231/2047 decoded, no directory part
  std::string content_type;  // "type/subtype", lower case, no parameters
  std::string data;          // the decoded bytes
  bool operator==(const MailAttachment&) const = default;
};

// What a mail means to a chat. Kinds other than kNotChat and kMessage can also come from
// ordinary mail clients (an RFC 8098 MDN from Thunderbird is a kReadReceipt with
// is_chat == false).
enum class ChatKind {
  kNotChat,        // ordinary email
  kMessage,        // a chat message (text and/or attachments)
  kEdit,           // Delta Chat Chat-Edit, COI Chat-Content: editrequest
  kDelete,         // Delta Chat Chat-Delete, COI Chat-Content: deleterequest
  kReaction,       // RFC 9078 Content-Disposition: reaction
  kReadReceipt,    // RFC 8098 MDN with disposition "displayed"
  kMemberAdded,    // Chat-Group-Member-Added
  kMemberRemoved,  // Chat-Group-Member-Removed, COI Chat-Content: groupleft
  kGroupRenamed,   // Chat-Group-Name-Changed
  kProtocolNoise,  // never shown to people; ParsedMail::noise_reason says what it is
};

const char* to_string(ChatKind kind);

struct ParsedMail {
  std::string message_id;
  Mailbox from;
  std::optional<Mailbox> sender;  // Sender: (Delta Chat per-message name override, relay mode)
  std::vector<Mailbox> to, cc;
  std::string subject;         // RFC 2047 decoded
  std::int64_t date_unix = 0;  // 0 when Date is missing or unparsable
  std::vector<std::string> in_reply_to, references;

  // Chat-Version present, a chat$ Message-ID or first References id (COI), or a legacy Delta
  // Chat Mr./Gr. Message-ID (coi-protocol.md §1.1, §4.2).
  bool is_chat = false;
  ChatKind kind = ChatKind::kNotChat;
  // For kProtocolNoise: "autocrypt-setup", "secure-join", "webxdc-update", "sync",
  // "delivery-status", "location", "mdn-<disposition>", or the Chat-Content value of a
  // system message ("ephemeral-timer-changed", "groupinfo", ...).
  std::string noise_reason;
  std::string chat_content;  // the top-level Chat-Content value as sent, empty when absent

  // Chat-Group-ID; else the <id> of a chat$group.<id>.… (COI) or Gr.<id>.… (legacy Delta
  // Chat) Message-ID, In-Reply-To or References id, in that order (Delta Chat spec,
  // "Groups"; coi-protocol.md §7 item 6). Unencrypted Delta Chat groups carry no id, only
  // Chat-Group-Name ("ad-hoc" groups, keyed by name and member set).
  std::optional<std::string> group_id;
  // Chat-Group-Name; for a COI group without it, the Subject minus Re:/AW:/SV: prefixes.
  std::optional<std::string> group_name;
  std::optional<std::string> previous_group_name;  // Chat-Group-Name-Changed (kGroupRenamed)
  std::optional<Mailbox> member_added, member_removed;
  // The sender's picture from Chat-User-Avatar: base64:<data> (Delta Chat spec, "Profile
  // pictures"; Delta Chat sends it in encrypted mail only), decoded. Absent for "0" (removed).
  std::optional<std::string> avatar;

  // The message an edit, delete, reaction or read receipt is about.
  std::optional<std::string> target_message_id;
  // More targets: the further ids of a Chat-Delete, an MDN's Additional-Message-IDs.
  std::vector<std::string> additional_targets;
  std::string reaction;  // kReaction: one emoji sequence; empty = the sender withdrew theirs

  // The readable text: charset-decoded to UTF-8, format=flowed joined, with Delta Chat's
  // simplification (src/simplify.rs): the leading "> " quote block goes to `quote`, the
  // footer after a "-- " line to `footer`; for ordinary mail also trailing quotes and
  // non-standard signature lines. Lines end in "\n". When the mail has only HTML, a plain
  // rendering of it.
  std::string text;
  std::optional<std::string> quote;   // a Delta Chat explicit reply's quote, without "> "
  std::optional<std::string> footer;  // Delta Chat: the sender's status line
  std::optional<std::string> html;    // the text/html alternative or part, UTF-8
  std::vector<MailAttachment> attachments;

  // Chat-Disposition-Notification-To (Delta Chat) or Disposition-Notification-To (COI, RFC
  // 8098) is present. Whether to answer is policy: both specs require the address to equal
  // From; Delta Chat ignores the plain header.
  bool wants_read_receipt = false;
  std::optional<Mailbox> read_receipt_to;
  std::optional<std::string> autocrypt_header;  // the Autocrypt: value, unfolded, as sent
  bool encrypted = false;       // a multipart/encrypted body this module cannot read
  bool auto_submitted = false;  // Auto-Submitted other than "no" (RFC 3834): bots, MDNs
  // Problems the parser recovered from ("truncated: ...", "malformed multipart", ...).
  std::vector<std::string> warnings;
};

struct ParseLimits {
  std::size_t max_bytes = std::size_t{64} << 20;             // the whole raw message
  std::size_t max_attachment_bytes = std::size_t{32} << 20;  // one decoded attachment
  std::size_t max_parts = 200;                               // MIME entities, all levels
  std::size_t max_header_bytes = std::size_t{1} << 20;       // the top-level header section
  int max_depth = 16;                                        // multipart nesting
};

struct OutgoingMail {
  Mailbox from;
  std::optional<Mailbox> sender;
  std::vector<Mailbox> to, cc;
  // Without <>. The caller derives it from the event id so a repeated delivery is the same
  // mail: chat$<unique>@domain (COI 1:1), chat$group.<group-id>.<unique>@domain (COI group).
  std::string message_id;
  std::string subject;  // empty: the group name, else "Message from <name>" (Delta Chat)
  std::int64_t date_unix = 0;
  std::vector<std::string> in_reply_to, references;
  std::optional<std::string> group_id, group_name;
  std::optional<std::string> previous_group_name;  // kGroupRenamed
  std::optional<Mailbox> member_added, member_removed;
  ChatKind kind = ChatKind::kMessage;
  std::optional<std::string> target_message_id;  // kEdit, kDelete, kReaction, kReadReceipt
  std::vector<std::string> additional_targets;   // more ids for kDelete / kReadReceipt
  std::string reaction;                          // kReaction; empty withdraws
  std::string text;
  // Quoted text of the message replied to or edited; rendered as a "> " block before the
  // text, which is how Delta Chat marks an explicit reply (coi-protocol.md §1.5).
  std::optional<std::string> quote;
  std::vector<MailAttachment> attachments;
  // kMessage only: Chat-Disposition-Notification-To and Disposition-Notification-To, both
  // naming From (coi-protocol.md §7 item 10).
  bool request_read_receipt = false;
  // Compose an RFC 8098 MDN for this Message-ID (also when kind == kReadReceipt, with
  // target_message_id as the fallback).
  std::optional<std::string> read_receipt_for;
  std::optional<std::string> autocrypt_header;  // written as the Autocrypt: value
  bool auto_submitted = false;                  // Auto-Submitted: auto-generated (RFC 3834)
};

}  // namespace coibridge::connectors::coi::mime
