#include "connectors/matrix/appservice_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "connectors/matrix/registration.hpp"
#include "core/model/json_limits.hpp"

namespace coibridge::connectors::matrix {
namespace {

using boost::asio::awaitable;
using nlohmann::json;

// How long a processed transaction id is remembered: far longer than a homeserver keeps
// retrying one (Synapse backs off to about 8.5 minutes between attempts).
constexpr std::chrono::hours kTransactionMemory{24 * 7};

core::HttpResponse matrix_error(int status, const char* errcode, const std::string& message) {
  return core::HttpResponse::json(status, json{{"errcode", errcode}, {"error", message}}.dump());
}

// Path segments arrive percent-encoded (a user id's '@' and ':' as %40 and %3A).
std::string decode_segment(std::string_view segment) {
  std::string out;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (segment[i] == '%' && i + 2 < segment.size() && hex(segment[i + 1]) >= 0 &&
        hex(segment[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(segment[i + 1]) * 16 + hex(segment[i + 2])));
      i += 2;
    } else {
      out.push_back(segment[i]);
    }
  }
  return out;
}

}  // namespace

bool AppserviceEndpoint::handles(std::string_view path) {
  return path.starts_with("/_matrix/app/") || path.starts_with("/transactions/") ||
         path.starts_with("/users/") || path.starts_with("/rooms/");
}

namespace {

// Application Service API, "Authorization": the hs_token as a Bearer token, or (legacy) the
// access_token query parameter.
std::optional<std::string> presented_token(const core::HttpRequest& request) {
  if (auto auth = request.header("authorization"); auth && auth->starts_with("Bearer ")) {
    return auth->substr(7);
  }
  if (auto it = request.query.find("access_token"); it != request.query.end()) return it->second;
  return std::nullopt;
}

}  // namespace

core::HttpClaim AppserviceEndpoint::claim(const core::HttpRequest& request,
                                          std::string_view hs_token) {
  if (!handles(request.path)) return core::HttpClaim::kNone;
  const auto token = presented_token(request);
  if (token && !hs_token.empty() && tokens_equal(*token, hs_token)) {
    return core::HttpClaim::kInstance;
  }
  return core::HttpClaim::kPath;
}

std::optional<core::HttpResponse> AppserviceEndpoint::refused(const core::HttpRequest& request,
                                                              std::string_view hs_token,
                                                              core::MetricsRegistry& metrics,
                                                              const std::string& connector) {
  const auto token = presented_token(request);
  if (!token) return matrix_error(401, "M_UNAUTHORIZED", "missing hs_token");
  if (hs_token.empty() || !tokens_equal(*token, hs_token)) {
    metrics
        .counter("coibridge_matrix_rejected_requests_total",
                 "Homeserver requests refused for a wrong hs_token", {{"connector", connector}})
        .inc();
    return matrix_error(403, "M_FORBIDDEN", "wrong hs_token");
  }
  return std::nullopt;
}

awaitable<core::HttpResponse> AppserviceEndpoint::handle(const core::HttpRequest& request) {
  if (auto refusal = refused(request, hs_token_, metrics_, connector_)) co_return *refusal;
  std::string_view rest = request.path;
  if (rest.starts_with("/_matrix/app/v1"))
    rest.remove_prefix(std::string_view("/_matrix/app/v1").size());
  const auto segment_after = [&](std::string_view prefix) -> std::optional<std::string> {
    if (!rest.starts_with(prefix) || rest.size() == prefix.size()) return std::nullopt;
    const auto tail = rest.substr(prefix.size());
    if (tail.find('/') != std::string_view::npos) return std::nullopt;
    return decode_segment(tail);
  };
  const auto wrong_method = [] {
    return matrix_error(405, "M_UNRECOGNIZED", "method not allowed");
  };
  if (auto txn = segment_after("/transactions/")) {
    if (request.method != "PUT") co_return wrong_method();
    co_return co_await on_transaction(request, *txn);
  }
  if (auto user = segment_after("/users/")) {
    if (request.method != "GET") co_return wrong_method();
    co_return co_await on_user_query(*user);
  }
  if (auto alias = segment_after("/rooms/")) {
    if (request.method != "GET") co_return wrong_method();
    co_return co_await on_room_query(*alias);
  }
  if (rest == "/ping") {
    if (request.method != "POST") co_return wrong_method();
    co_return core::HttpResponse::json(200, "{}");
  }
  co_return matrix_error(404, "M_UNRECOGNIZED", "unknown endpoint");
}

awaitable<core::HttpResponse> AppserviceEndpoint::on_user_query(std::string user_id) {
  // Only ids this bridge could have made exist; creating them answers the query.
  if (!person_of_ghost(user_id, naming_))
    co_return matrix_error(404, "M_NOT_FOUND", "not a ghost of this bridge");
  const auto localpart = split_id(user_id);
  if (!localpart) co_return matrix_error(404, "M_NOT_FOUND", "malformed user id");
  if (auto st = co_await parts_.api.register_user(localpart->localpart); !st) {
    co_return matrix_error(500, "M_UNKNOWN", st.error().message);
  }
  co_return core::HttpResponse::json(200, "{}");
}

awaitable<core::HttpResponse> AppserviceEndpoint::on_room_query(std::string alias) {
  // Application Service API, "Querying room aliases": answering 200 means the room now
  // exists with that alias; the homeserver then resolves it. Anything else is 404.
  auto opened = co_await parts_.portals.open_public_portal(alias);
  if (!opened) co_return matrix_error(500, "M_UNKNOWN", opened.error().message);
  if (!*opened) co_return matrix_error(404, "M_NOT_FOUND", "no such portal");
  co_return core::HttpResponse::json(200, "{}");
}

awaitable<core::HttpResponse> AppserviceEndpoint::on_transaction(const core::HttpRequest& request,
                                                                 std::string txn_id) {
  if (parts_.runtime.sink == nullptr)
    co_return matrix_error(503, "M_UNKNOWN", "the bridge is starting");
  auto seen = co_await parts_.ledger.seen(connector_, txn_id);
  if (!seen) co_return matrix_error(500, "M_UNKNOWN", seen.error().message);
  if (*seen) co_return core::HttpResponse::json(200, "{}");  // a retransmission: done before
  auto parsed = core::parse_json_limited(request.body);
  if (!parsed && parsed.error().code == "too_deep") {
    // Client-server API, "Standard error response": M_BAD_JSON is JSON that is valid but
    // unusable. Deeper nesting than any event needs is refused before anything walks it.
    co_return matrix_error(400, "M_BAD_JSON", parsed.error().message);
  }
  if (!parsed || !parsed->is_object())
    co_return matrix_error(400, "M_NOT_JSON", "the transaction is not a JSON object");
  const json& body = *parsed;
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string ids;
    if (auto events = body.find("events"); events != body.end() && events->is_array()) {
      for (const auto& e : *events) {
        const bool named = e.is_object() && e.contains("event_id") && e["event_id"].is_string();
        ids += " " + (named ? e["event_id"].get<std::string>() : std::string("?"));
      }
    }
    spdlog::debug("matrix {}: transaction {}:{}", connector_, txn_id, ids);
  }
  if (!(co_await parts_.inbound.take(txn_id, body)))
    co_return matrix_error(500, "M_UNKNOWN", "not committed; send the transaction again");
  if (auto st = co_await parts_.ledger.remember(connector_, txn_id, kTransactionMemory); !st) {
    // Everything is committed; a retransmission would only meet the router's dedupe.
    spdlog::warn("matrix {}: transaction {} not recorded: {}", connector_, txn_id,
                 st.error().message);
  }
  co_return core::HttpResponse::json(200, "{}");
}

}  // namespace coibridge::connectors::matrix
