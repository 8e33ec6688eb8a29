#pragma once
// JSON codecs of the event model. This is the format of outbox rows and of the admin API, so
// field names are stable: renaming one is a schema change.

#include <nlohmann/json.hpp>

#include "core/model/event.hpp"
#include "core/model/result.hpp"

namespace coibridge::core {

nlohmann::json to_json(const Event& event);
// Strict: a missing or mistyped field is an error naming the field; unknown fields are ignored
// so that rows written by a newer version can still be read.
Result<Event> event_from_json(const nlohmann::json& json);

std::string format_timestamp(Timestamp at);  // RFC 3339, UTC, millisecond precision
Result<Timestamp> parse_timestamp(const std::string& text);

}  // namespace coibridge::core
