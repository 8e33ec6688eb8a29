#pragma once
// JSON views of store objects and the admin API's response shapes. Field names here are the
// API's contract: renaming one breaks clients.

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/model/result.hpp"
#include "core/net/http_types.hpp"
#include "core/store/bridge_store.hpp"
#include "core/store/event_store.hpp"

namespace coibridge::core {

// {id, name, created_at, updated_at}
nlohmann::json bridge_json(const Bridge& bridge);
// {id, bridge_id, connector, remote_id, options, created_at}
nlohmann::json link_json(const Link& link);
// {id, connector, remote_id, kind, title, members, messages, unlinked_events, bridge_id (or
// null), first_seen, last_activity}
nlohmann::json conversation_json(const ConversationSummary& c);
// {id, event_id, target: {connector, remote_id}, reason, attempts, created_at}
nlohmann::json dead_letter_json(const DeadLetter& d);

HttpResponse json_response(int status, const nlohmann::json& body);
// {"error": code, "message": message}
HttpResponse error_response(int status, std::string_view code, std::string_view message);
// 400 {"error":"invalid_field","field":..., "message":...} from an Error::invalid(...).
HttpResponse invalid_field_response(const Error& error);
// A store failure mapped by kind: kNotFound 404, kConflict 409, kInvalidArgument 400,
// kUnavailable 503, anything else 500 with no detail (the detail is logged instead).
HttpResponse store_error_response(const Error& error);

}  // namespace coibridge::core
