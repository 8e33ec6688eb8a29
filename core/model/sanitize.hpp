#pragma once
// What every inbound event is made to satisfy before it is stored, whichever network it came
// from.

#include "core/model/event.hpp"

namespace coibridge::core {

// Removes U+0000 from every string of the event. JSON (RFC 8259 §7) and most networks allow
// it, but PostgreSQL's text and jsonb cannot hold it: one such character would fail the
// event's transaction on every retry. Returns whether anything was removed.
bool remove_nul(Event& event);

// Whether `id` is a UUID in its text form (RFC 9562 §4: 8-4-4-4-12 hex digits).
bool is_uuid(std::string_view id);

}  // namespace coibridge::core
