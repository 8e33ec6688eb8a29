#pragma once
// The canonical event model. Every connector translates its network to and from these types
// and nothing else; the router and the store never see a network's own format.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/model/ids.hpp"

namespace coibridge::core {

using Timestamp = std::chrono::system_clock::time_point;

struct Attachment {
  std::string filename;
  std::string content_type;
  std::uint64_t size = 0;
  // Where the bytes are: a content-addressed blob key, a file path, or an mxc:// URI. The
  // connector that produced the attachment decides; the receiving connector fetches it.
  std::string location;
  bool operator==(const Attachment&) const = default;
};

struct MessageBody {
  std::string text;
  std::optional<std::string> html;
  std::vector<Attachment> attachments;
  std::optional<RemoteMessageRef> reply_to;
  bool operator==(const MessageBody&) const = default;
};

struct MessagePosted {
  MessageBody body;
  bool operator==(const MessagePosted&) const = default;
};
struct MessageEdited {
  RemoteMessageRef target;
  MessageBody body;
  bool operator==(const MessageEdited&) const = default;
};
struct MessageDeleted {
  RemoteMessageRef target;
  bool operator==(const MessageDeleted&) const = default;
};
struct ReactionChanged {
  RemoteMessageRef target;
  std::string reaction;  // an emoji or short text
  bool added = true;
  bool operator==(const ReactionChanged&) const = default;
};
struct ReadUpTo {
  RemoteMessageRef target;
  bool operator==(const ReadUpTo&) const = default;
};
struct Typing {
  bool active = true;
  bool operator==(const Typing&) const = default;
};
struct MemberJoined {
  ActorRef member;
  bool operator==(const MemberJoined&) const = default;
};
struct MemberLeft {
  ActorRef member;
  bool operator==(const MemberLeft&) const = default;
};
struct ConversationRenamed {
  std::string name;
  bool operator==(const ConversationRenamed&) const = default;
};

using Payload = std::variant<MessagePosted, MessageEdited, MessageDeleted, ReactionChanged,
                             ReadUpTo, Typing, MemberJoined, MemberLeft, ConversationRenamed>;

// The stable wire name of a payload kind ("message.posted", ...), used in JSON and metrics.
const char* payload_kind(const Payload& payload);

struct Event {
  EventId id;
  ConversationRef where;
  ActorRef who;
  // The item on the source network this event came from. Its remote_id is the dedupe key:
  // publishing the same origin twice yields one event.
  RemoteMessageRef origin;
  Timestamp at{};  // millisecond precision in storage and JSON
  Payload payload;
  bool operator==(const Event&) const = default;
};

// Payload kinds a connector can express. The router degrades what a target cannot express
// (an edit becomes a new message marked as edited, and so on).
enum class Capability : std::uint32_t {
  kEdit = 1U << 0,
  kDelete = 1U << 1,
  kReaction = 1U << 2,
  kReadReceipt = 1U << 3,
  kTyping = 1U << 4,
  kMembership = 1U << 5,
  kRename = 1U << 6,
  kReply = 1U << 7,
  kAttachments = 1U << 8,
};

class Capabilities {
 public:
  constexpr Capabilities() = default;
  constexpr Capabilities(std::initializer_list<Capability> list) {
    for (Capability c : list) bits_ |= static_cast<std::uint32_t>(c);
  }
  static constexpr Capabilities all() {
    Capabilities c;
    c.bits_ = ~0U;
    return c;
  }
  constexpr bool has(Capability c) const { return (bits_ & static_cast<std::uint32_t>(c)) != 0; }

 private:
  std::uint32_t bits_ = 0;
};

}  // namespace coibridge::core
