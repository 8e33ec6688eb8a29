#include "core/admin/admin_json.hpp"

#include <spdlog/spdlog.h>

#include "core/model/event_json.hpp"

namespace coibridge::core {

nlohmann::json bridge_json(const Bridge& bridge) {
  return {{"id", bridge.id},
          {"name", bridge.name},
          {"created_at", format_timestamp(bridge.created_at)},
          {"updated_at", format_timestamp(bridge.updated_at)}};
}

nlohmann::json link_json(const Link& link) {
  return {{"id", link.id},
          {"bridge_id", link.bridge_id},
          {"connector", link.connector},
          {"remote_id", link.remote_id},
          {"options", link.options.is_object() ? link.options : nlohmann::json::object()},
          {"created_at", format_timestamp(link.created_at)}};
}

nlohmann::json conversation_json(const ConversationSummary& c) {
  return {{"id", c.id},
          {"connector", c.connector},
          {"remote_id", c.remote_id},
          {"kind", c.kind},
          {"title", c.title},
          {"members", c.members},
          {"messages", c.messages},
          {"unlinked_events", c.unlinked_events},
          {"bridge_id", c.bridge_id ? nlohmann::json(*c.bridge_id) : nlohmann::json(nullptr)},
          {"first_seen", format_timestamp(c.first_seen)},
          {"last_activity", format_timestamp(c.last_activity)}};
}

nlohmann::json dead_letter_json(const DeadLetter& d) {
  return {{"id", d.id},
          {"direction", d.direction},
          {"connector", d.target.connector},
          {"conversation", d.target.remote_id},
          {"event_id", d.event_id},
          {"target", {{"connector", d.target.connector}, {"remote_id", d.target.remote_id}}},
          {"reason", d.reason},
          {"attempts", d.attempts},
          {"created_at", format_timestamp(d.created_at)}};
}

HttpResponse json_response(int status, const nlohmann::json& body) {
  // Stored strings are not all guaranteed to be UTF-8 (dead-letter reasons quote peers);
  // replacing bad bytes beats failing the whole response.
  return HttpResponse::json(status,
                            body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  return json_response(status, {{"error", code}, {"message", message}});
}

HttpResponse invalid_field_response(const Error& error) {
  return json_response(
      400, {{"error", "invalid_field"}, {"field", error.field}, {"message", error.message}});
}

HttpResponse store_error_response(const Error& error) {
  switch (error.kind) {
    case ErrorKind::kNotFound:
      return error_response(404, "not_found", error.message);
    case ErrorKind::kConflict:
      return error_response(409, "conflict", error.message);
    case ErrorKind::kInvalidArgument:
      return invalid_field_response(error);
    case ErrorKind::kUnavailable: {
      spdlog::warn("admin: store unavailable: {}", error.message);
      // RFC 9110 §10.2.3: tell the client when to try again.
      auto res = error_response(503, "unavailable", "service temporarily unavailable");
      res.headers.emplace_back("Retry-After", "5");
      return res;
    }
    case ErrorKind::kPermanent:
    case ErrorKind::kInternal:
      break;
  }
  spdlog::error("admin: store error ({}): {}", to_string(error.kind), error.message);
  return error_response(500, "internal", "internal error");
}

}  // namespace coibridge::core
