#include "core/admin/admin_api.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "core/admin/admin_json.hpp"
#include "core/admin/validation.hpp"
#include "core/model/event_json.hpp"

namespace coibridge::core {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr const char* kRequestsMetric = "coibridge_http_requests_total";
constexpr const char* kRequestsHelp = "Admin API requests by route pattern, method and status.";
constexpr const char* kOutboxDepthMetric = "coibridge_outbox_depth";
constexpr const char* kOutboxDepthHelp = "Deliveries waiting in the outbox.";
constexpr const char* kUnmatched = "unmatched";
// Search texts and connector names in a query string: longer ones are mistakes.
constexpr std::size_t kMaxQueryText = 200;
// The most history one link request may ask for, per conversation.
constexpr std::int64_t kMaxBackfill = 1000;
constexpr const char* kRealm = R"(Bearer realm="coi-bridge")";

// Metric label for the method: clients choose arbitrary method tokens, and each distinct
// label value would create a new time series.
std::string method_label(const std::string& method) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return method;
  }
  return "other";
}

// RFC 6750 §3: a 401 carries a Bearer challenge; error codes say what was wrong with the
// credentials that were sent (none when there were none).
HttpResponse unauthorized(std::string_view message, std::string_view error_code) {
  auto res = error_response(401, "unauthorized", message);
  std::string challenge = kRealm;
  if (!error_code.empty()) challenge += fmt::format(R"(, error="{}")", error_code);
  res.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return res;
}

HttpResponse forbidden() {
  auto res = error_response(403, "forbidden", "this token may not use this route");
  res.headers.emplace_back("WWW-Authenticate",
                           std::string(kRealm) + R"(, error="insufficient_scope")");
  return res;
}

HttpResponse invalid_json() {
  return error_response(400, "invalid_json", "request body must be a JSON object");
}

// A body nested too deep names the member it was in; any other unusable body is not JSON.
HttpResponse body_error(const Error& error) {
  if (error.code == "too_deep") return invalid_field_response(error);
  return invalid_json();
}

HttpResponse no_content() { return HttpResponse{204, "", "", {}}; }

json page_cursor(const std::optional<std::int64_t>& next) {
  return next ? json(*next) : json(nullptr);
}

}  // namespace

struct AdminApi::Call {
  const HttpRequest& request;
  PathParams params;
  std::string actor;  // the token's name; empty on unauthenticated routes
};

AdminApi::AdminApi(AdminDeps deps) : deps_(std::move(deps)), auth_(deps_.tokens) {}

const std::vector<AdminApi::Route>& AdminApi::table() {
  static const std::vector<Route> kTable = {
      {{"GET", "/health", Scope::kNone}, &AdminApi::health},
      {{"GET", "/ready", Scope::kNone}, &AdminApi::ready},
      {{"GET", "/metrics", Scope::kNone}, &AdminApi::metrics},
      {{"GET", "/api/v1/bridges", Scope::kRead}, &AdminApi::list_bridges},
      {{"POST", "/api/v1/bridges", Scope::kWrite}, &AdminApi::create_bridge},
      {{"GET", "/api/v1/bridges/{id}", Scope::kRead}, &AdminApi::get_bridge},
      {{"PATCH", "/api/v1/bridges/{id}", Scope::kWrite}, &AdminApi::rename_bridge},
      {{"DELETE", "/api/v1/bridges/{id}", Scope::kWrite}, &AdminApi::delete_bridge},
      {{"GET", "/api/v1/bridges/{id}/links", Scope::kRead}, &AdminApi::list_links},
      {{"POST", "/api/v1/bridges/{id}/links", Scope::kWrite}, &AdminApi::add_link},
      {{"DELETE", "/api/v1/bridges/{id}/links/{link_id}", Scope::kWrite}, &AdminApi::remove_link},
      {{"GET", "/api/v1/conversations", Scope::kRead}, &AdminApi::list_conversations},
      {{"GET", "/api/v1/unlinked", Scope::kRead}, &AdminApi::list_unlinked},
      {{"GET", "/api/v1/dead-letters", Scope::kRead}, &AdminApi::list_dead_letters},
      {{"POST", "/api/v1/dead-letters/{id}/replay", Scope::kWrite}, &AdminApi::replay_dead_letter},
      {{"DELETE", "/api/v1/dead-letters/{id}", Scope::kWrite}, &AdminApi::discard_dead_letter},
  };
  return kTable;
}

const std::vector<RouteInfo>& AdminApi::routes() {
  static const std::vector<RouteInfo> kRoutes = [] {
    std::vector<RouteInfo> out;
    for (const auto& route : table()) out.push_back(route.info);
    return out;
  }();
  return kRoutes;
}

asio::awaitable<HttpResponse> AdminApi::handle(const HttpRequest& request) {
  std::string label = kUnmatched;
  HttpResponse response;
  try {
    response = co_await dispatch(request, label);
  } catch (const std::exception& e) {
    spdlog::error("admin: {} {} failed: {}", request.method, request.path, e.what());
    response = error_response(500, "internal", "internal error");
  } catch (...) {
    spdlog::error("admin: {} {} failed: unknown exception", request.method, request.path);
    response = error_response(500, "internal", "internal error");
  }
  deps_.metrics
      .counter(kRequestsMetric, kRequestsHelp,
               {{"route", label},
                {"method", method_label(request.method)},
                {"status", std::to_string(response.status)}})
      .inc();
  co_return response;
}

asio::awaitable<HttpResponse> AdminApi::dispatch(const HttpRequest& request, std::string& label) {
  // HEAD is served by the GET route (RFC 9110 §9.3.2); the server drops the body.
  const bool head = request.method == "HEAD";
  const Route* found = nullptr;
  PathParams params;
  std::vector<std::string> allowed;
  for (const auto& route : table()) {
    PathParams captured;
    if (!match_path(route.info.pattern, request.path, captured)) continue;
    label = route.info.pattern;
    if (route.info.method == request.method || (head && route.info.method == "GET")) {
      found = &route;
      params = std::move(captured);
      break;
    }
    allowed.push_back(route.info.method);
    if (route.info.method == "GET") allowed.emplace_back("HEAD");
  }
  if (found == nullptr) {
    if (allowed.empty()) {
      label = kUnmatched;
      co_return error_response(404, "not_found", "no such resource");
    }
    // RFC 9110 §15.5.6: a 405 response lists the methods the resource does support.
    std::string allow;
    for (const auto& method : allowed) allow += (allow.empty() ? "" : ", ") + method;
    auto res =
        error_response(405, "method_not_allowed",
                       fmt::format("{} is not supported here", method_label(request.method)));
    res.headers.emplace_back("Allow", std::move(allow));
    co_return res;
  }

  Call call{request, std::move(params), {}};
  const Scope scope = found->info.scope;
  if (scope != Scope::kNone) {
    const AuthResult auth = auth_.authenticate(request.header("Authorization"));
    switch (auth.outcome) {
      case AuthOutcome::kMissing:
        co_return unauthorized("a bearer token is required", "");
      case AuthOutcome::kMalformed:
        co_return unauthorized("expected Authorization: Bearer <token>", "invalid_request");
      case AuthOutcome::kUnknown:
        co_return unauthorized("unknown token", "invalid_token");
      case AuthOutcome::kOk:
        break;
    }
    if (!auth.permits(scope)) {
      spdlog::warn("admin: token '{}' lacks scope for {} {}", auth.name, request.method,
                   found->info.pattern);
      co_return forbidden();
    }
    call.actor = auth.name;
  }
  co_return co_await (this->*(found->endpoint))(call);
}

asio::awaitable<HttpResponse> AdminApi::health(const Call&) {
  co_return json_response(200, {{"status", "ok"}});
}

asio::awaitable<HttpResponse> AdminApi::ready(const Call&) {
  bool is_ready = true;
  if (deps_.ready) {
    try {
      is_ready = co_await deps_.ready();
    } catch (const std::exception& e) {
      spdlog::warn("admin: readiness check failed: {}", e.what());
      is_ready = false;
    }
  }
  co_return is_ready ? json_response(200, {{"status", "ready"}})
                     : json_response(503, {{"status", "not_ready"}});
}

asio::awaitable<HttpResponse> AdminApi::metrics(const Call&) {
  // Metrics matter most while the database is in trouble: a failed depth query keeps the
  // last value and still renders everything else.
  try {
    auto depth = co_await deps_.events.outbox_depth();
    if (depth) {
      deps_.metrics.gauge(kOutboxDepthMetric, kOutboxDepthHelp).set(static_cast<double>(*depth));
    } else {
      spdlog::warn("admin: outbox depth unavailable: {}", depth.error().message);
    }
  } catch (const std::exception& e) {
    spdlog::warn("admin: outbox depth unavailable: {}", e.what());
  }
  co_return HttpResponse{200, "text/plain; version=0.0.4", deps_.metrics.render(), {}};
}

asio::awaitable<HttpResponse> AdminApi::list_bridges(const Call& call) {
  auto after = parse_after(call.request);
  if (!after) co_return invalid_field_response(after.error());
  auto limit = parse_limit(call.request);
  if (!limit) co_return invalid_field_response(limit.error());
  auto page = co_await deps_.bridges.list_bridges(*after, *limit);
  if (!page) co_return store_error_response(page.error());
  json items = json::array();
  for (const auto& bridge : page->items) items.push_back(bridge_json(bridge));
  co_return json_response(
      200, {{"items", std::move(items)}, {"next_after", page_cursor(page->next_after)}});
}

asio::awaitable<HttpResponse> AdminApi::create_bridge(const Call& call) {
  auto body = parse_json_object(call.request.body);
  if (!body) co_return body_error(body.error());
  auto name = string_field(*body, "name");
  if (!name) co_return invalid_field_response(name.error());
  if (auto st = check_name(*name); !st) co_return invalid_field_response(st.error());
  auto bridge = co_await deps_.bridges.create_bridge(std::move(*name), call.actor);
  if (!bridge) co_return store_error_response(bridge.error());
  spdlog::info("admin: {} created bridge {}", call.actor, bridge->id);
  auto res = json_response(201, bridge_json(*bridge));
  res.headers.emplace_back("Location", fmt::format("/api/v1/bridges/{}", bridge->id));
  co_return res;
}

asio::awaitable<HttpResponse> AdminApi::get_bridge(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  auto bridge = co_await deps_.bridges.get_bridge(*id);
  if (!bridge) co_return store_error_response(bridge.error());
  co_return json_response(200, bridge_json(*bridge));
}

asio::awaitable<HttpResponse> AdminApi::rename_bridge(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  auto body = parse_json_object(call.request.body);
  if (!body) co_return body_error(body.error());
  auto name = string_field(*body, "name");
  if (!name) co_return invalid_field_response(name.error());
  if (auto st = check_name(*name); !st) co_return invalid_field_response(st.error());
  auto bridge = co_await deps_.bridges.rename_bridge(*id, std::move(*name), call.actor);
  if (!bridge) co_return store_error_response(bridge.error());
  spdlog::info("admin: {} renamed bridge {}", call.actor, bridge->id);
  co_return json_response(200, bridge_json(*bridge));
}

asio::awaitable<HttpResponse> AdminApi::delete_bridge(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  // The links are read first so their connectors can be told. A read that fails (no such
  // bridge, the database is down) fails the delete the same way.
  std::vector<Link> gone;
  if (deps_.on_unlinked) {
    auto links = co_await deps_.bridges.list_links(*id);
    if (!links) co_return store_error_response(links.error());
    gone = std::move(*links);
  }
  auto st = co_await deps_.bridges.delete_bridge(*id, call.actor);
  if (!st) co_return store_error_response(st.error());
  spdlog::info("admin: {} deleted bridge {}", call.actor, *id);
  for (const auto& link : gone) deps_.on_unlinked(link);
  co_return no_content();
}

asio::awaitable<HttpResponse> AdminApi::list_links(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  auto links = co_await deps_.bridges.list_links(*id);
  if (!links) co_return store_error_response(links.error());
  json items = json::array();
  for (const auto& link : *links) items.push_back(link_json(link));
  co_return json_response(200, {{"items", std::move(items)}});
}

asio::awaitable<HttpResponse> AdminApi::add_link(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  auto body = parse_json_object(call.request.body);
  if (!body) co_return body_error(body.error());
  auto connector = string_field(*body, "connector");
  if (!connector) co_return invalid_field_response(connector.error());
  if (auto st = check_connector(*connector); !st) co_return invalid_field_response(st.error());
  if (deps_.connector_known && !deps_.connector_known(*connector)) {
    co_return invalid_field_response(
        Error::invalid("connector", "no connector named '" + *connector + "' runs here"));
  }
  auto remote_id = string_field(*body, "remote_id");
  if (!remote_id) co_return invalid_field_response(remote_id.error());
  if (auto st = check_remote_id(*remote_id); !st) co_return invalid_field_response(st.error());
  json options = json::object();
  if (auto it = body->find("options"); it != body->end()) {
    if (!it->is_object()) {
      co_return invalid_field_response(Error::invalid("options", "must be an object"));
    }
    options = std::move(*it);
  }
  if (auto st = check_link_options(options); !st) co_return invalid_field_response(st.error());
  // History: the newest messages each conversation of the bridge kept while unlinked.
  int backfill = 0;
  if (auto it = body->find("backfill"); it != body->end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > kMaxBackfill) {
      co_return invalid_field_response(Error::invalid(
          "backfill", "must be an integer from 0 to " + std::to_string(kMaxBackfill)));
    }
    backfill = it->get<int>();
    if (backfill > 0 && !deps_.backfill) {
      co_return invalid_field_response(Error::invalid("backfill", "not offered here"));
    }
  }
  auto link = co_await deps_.bridges.add_link(*id, std::move(*connector), std::move(*remote_id),
                                              std::move(options), call.actor);
  if (!link) co_return store_error_response(link.error());
  spdlog::info("admin: {} added link {} to bridge {}", call.actor, link->id, link->bridge_id);
  if (deps_.on_linked) deps_.on_linked(*link);
  json answer = link_json(*link);
  if (backfill > 0) {
    auto queued = co_await deps_.backfill(link->bridge_id, backfill);
    if (!queued) {
      // The link stands; the history can be asked for again with the next link request.
      spdlog::warn("admin: backfill of bridge {} failed: {}", link->bridge_id,
                   queued.error().message);
      co_return store_error_response(queued.error());
    }
    spdlog::info("admin: bridge {}: {} deliveries of history queued", link->bridge_id, *queued);
    answer["backfilled"] = *queued;
  }
  co_return json_response(201, std::move(answer));
}

asio::awaitable<HttpResponse> AdminApi::remove_link(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  auto link_id = parse_id(call.params.get("link_id"), "link_id");
  if (!link_id) co_return invalid_field_response(link_id.error());
  std::optional<Link> gone;
  if (deps_.on_unlinked) {
    auto links = co_await deps_.bridges.list_links(*id);
    if (!links) co_return store_error_response(links.error());
    for (auto& link : *links) {
      if (link.id == *link_id) gone = std::move(link);
    }
  }
  auto st = co_await deps_.bridges.remove_link(*id, *link_id, call.actor);
  if (!st) co_return store_error_response(st.error());
  spdlog::info("admin: {} removed link {} from bridge {}", call.actor, *link_id, *id);
  if (gone) deps_.on_unlinked(*gone);
  co_return no_content();
}

namespace {

// The conversation directory's query: after, limit, connector, q, linked.
Result<ConversationFilter> conversation_filter(const HttpRequest& request) {
  ConversationFilter filter;
  auto after = parse_after(request);
  if (!after) return after.error();
  auto limit = parse_limit(request);
  if (!limit) return limit.error();
  filter.after = *after;
  filter.limit = *limit;
  const auto& query = request.query;
  if (auto it = query.find("connector"); it != query.end()) filter.connector = it->second;
  if (auto it = query.find("q"); it != query.end()) filter.query = it->second;
  if (auto it = query.find("linked"); it != query.end()) {
    if (it->second != "true" && it->second != "false") {
      return Error::invalid("linked", "must be true or false");
    }
    filter.linked = it->second == "true";
  }
  if (filter.connector.size() > kMaxQueryText || filter.query.size() > kMaxQueryText) {
    return Error::invalid(filter.query.size() > kMaxQueryText ? "q" : "connector",
                          "at most " + std::to_string(kMaxQueryText) + " bytes");
  }
  return filter;
}

}  // namespace

asio::awaitable<HttpResponse> AdminApi::list_conversations(const Call& call) {
  auto filter = conversation_filter(call.request);
  if (!filter) co_return invalid_field_response(filter.error());
  auto page = co_await deps_.bridges.list_conversations(std::move(*filter));
  if (!page) co_return store_error_response(page.error());
  json items = json::array();
  for (const auto& conversation : page->items) items.push_back(conversation_json(conversation));
  co_return json_response(
      200, {{"items", std::move(items)}, {"next_after", page_cursor(page->next_after)}});
}

asio::awaitable<HttpResponse> AdminApi::list_unlinked(const Call& call) {
  auto filter = conversation_filter(call.request);
  if (!filter) co_return invalid_field_response(filter.error());
  filter->linked = false;
  filter->with_unlinked_events = true;
  auto page = co_await deps_.bridges.list_conversations(std::move(*filter));
  if (!page) co_return store_error_response(page.error());
  json items = json::array();
  for (const auto& c : page->items) {
    items.push_back(json{{"connector", c.connector},
                         {"conversation", c.remote_id},
                         {"kind", c.kind},
                         {"title", c.title},
                         {"count", c.unlinked_events},
                         {"last_seen", format_timestamp(c.last_activity)}});
  }
  co_return json_response(
      200, {{"items", std::move(items)}, {"next_after", page_cursor(page->next_after)}});
}

asio::awaitable<HttpResponse> AdminApi::discard_dead_letter(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  auto st = co_await deps_.events.discard_dead_letter(*id, call.actor);
  if (!st) co_return store_error_response(st.error());
  spdlog::info("admin: {} discarded dead letter {}", call.actor, *id);
  co_return no_content();
}

asio::awaitable<HttpResponse> AdminApi::list_dead_letters(const Call& call) {
  auto after = parse_after(call.request);
  if (!after) co_return invalid_field_response(after.error());
  auto limit = parse_limit(call.request);
  if (!limit) co_return invalid_field_response(limit.error());
  auto letters = co_await deps_.events.dead_letters(*after, *limit);
  if (!letters) co_return store_error_response(letters.error());
  json items = json::array();
  for (const auto& letter : *letters) items.push_back(dead_letter_json(letter));
  // A full page may have a successor; a short one is the last.
  const std::optional<std::int64_t> next =
      static_cast<int>(letters->size()) >= *limit && !letters->empty()
          ? std::optional<std::int64_t>(letters->back().id)
          : std::nullopt;
  co_return json_response(200, {{"items", std::move(items)}, {"next_after", page_cursor(next)}});
}

asio::awaitable<HttpResponse> AdminApi::replay_dead_letter(const Call& call) {
  auto id = parse_id(call.params.get("id"), "id");
  if (!id) co_return invalid_field_response(id.error());
  auto st = co_await deps_.events.replay_dead_letter(*id, call.actor);
  if (!st) co_return store_error_response(st.error());
  spdlog::info("admin: {} replayed dead letter {}", call.actor, *id);
  if (deps_.on_replayed) deps_.on_replayed();
  co_return json_response(202, {{"status", "queued"}});
}

}  // namespace coibridge::core
