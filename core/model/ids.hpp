#pragma once
// Network-neutral references. A connector name ("coi", "matrix", "spool", ...) plus the id
// that network uses. Nothing here knows any network's id syntax.

#include <compare>
#include <string>

namespace coibridge::core {

// A conversation on one network: a mailbox chat or group, a Matrix room, a MUC, a channel.
struct ConversationRef {
  std::string connector;
  std::string remote_id;
  auto operator<=>(const ConversationRef&) const = default;
};

// A person (or bot) on one network.
struct ActorRef {
  std::string connector;
  std::string remote_id;
  std::string display_name;
  // The person's picture as their network gave it: a blob store location (the bytes are
  // content-addressed, so the same picture keeps its location). Empty: none known.
  std::string avatar{};
  bool operator==(const ActorRef&) const = default;
};

// One message as the network names it: a Message-ID, a Matrix event id, a Slack ts.
struct RemoteMessageRef {
  std::string connector;
  std::string remote_id;
  auto operator<=>(const RemoteMessageRef&) const = default;
};

// The canonical id of an event inside coi-bridge: a UUID in text form.
struct EventId {
  std::string value;
  auto operator<=>(const EventId&) const = default;
  bool empty() const { return value.empty(); }
};

// A new random (version 4) UUID.
EventId new_event_id();

}  // namespace coibridge::core
