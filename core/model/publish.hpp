#pragma once
// What publishing an inbound event came to, and one event of a batch publish: shared by the
// connectors that publish (core/connector) and the store that commits (core/store).

#include "core/model/event.hpp"

namespace coibridge::core {

enum class PublishStatus {
  kAccepted,   // committed with one outbox row per other linked conversation
  kDuplicate,  // this origin was published before; nothing new was written
  kEcho,       // the event came from one of our own deliveries or puppets; dropped
  kUnlinked,   // the conversation belongs to no bridge: kept without deliveries, and counted
};

const char* to_string(PublishStatus status);

struct PublishOutcome {
  PublishStatus status = PublishStatus::kAccepted;
  EventId event_id;         // the event's id (for kDuplicate: the id stored the first time)
  std::size_t targets = 0;  // outbox rows written
};

// One event of a batch publish (EventSink::publish_batch).
struct BatchEvent {
  Event event;
  // Ends the batch after this event when its conversation turns out to be linked to nothing,
  // so that the publisher can act on that (open a direct chat, choose another conversation)
  // and publish it again before any later event of the batch is committed: order within a
  // conversation holds.
  bool stop_if_unlinked = false;
};

}  // namespace coibridge::core
