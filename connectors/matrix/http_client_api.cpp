#include "connectors/matrix/http_client_api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>

#include "core/model/json_limits.hpp"
#include "core/text/percent.hpp"

namespace coibridge::connectors::matrix {

using boost::asio::awaitable;
using nlohmann::json;

namespace {
constexpr int kMaxRateLimitWaits = 3;
constexpr std::chrono::milliseconds kMaxRateLimitWait{10000};

// A homeserver's answer, or a discarded value when it is not JSON or is nested deeper than
// any answer of the client-server API needs (RFC 8259 §9 allows the limit).
json parse_answer(std::string_view body) {
  auto parsed = core::parse_json_limited(body);
  if (!parsed) return json(json::value_t::discarded);
  return std::move(*parsed);
}
}  // namespace

HttpClientApi::HttpClientApi(boost::asio::any_io_executor executor, std::string homeserver_url,
                             std::string as_token, core::HttpClientOptions options)
    : executor_(executor),
      base_(std::move(homeserver_url)),
      as_token_(std::move(as_token)),
      http_(std::move(executor), std::move(options)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

awaitable<core::Result<core::HttpClientResponse>> HttpClientApi::raw(std::string method,
                                                                     std::string target,
                                                                     core::HttpHeaders headers,
                                                                     std::string body) {
  headers["Authorization"] = "Bearer " + as_token_;
  core::HttpClientRequest request{std::move(method), base_ + target, std::move(headers),
                                  std::move(body)};
  co_return co_await http_.request(request);
}

awaitable<core::Result<json>> HttpClientApi::call(std::string method, std::string path,
                                                  std::string as_user, json body) {
  std::string target = path;
  if (!as_user.empty())
    target += (target.find('?') == std::string::npos ? "?" : "&") +
              ("user_id=" + core::url_encode(as_user));
  core::HttpHeaders headers;
  std::string payload;
  if (!body.is_null()) {
    headers["Content-Type"] = "application/json";
    payload = body.dump();
  }
  core::Result<core::HttpClientResponse> res = core::Error::internal("not sent");
  json parsed;
  // Client-server API, "Rate limiting": a 429 says how long to wait (retry_after_ms, or the
  // Retry-After header since v1.10). Short waits are taken here; a long one goes back to the
  // delivery worker's backoff instead of holding the conversation's queue.
  for (int waits = 0;; ++waits) {
    res = co_await raw(method, target, headers, payload);
    if (!res) co_return res.error();
    parsed = parse_answer(res->body);
    if (res->status != 429 || waits == kMaxRateLimitWaits) break;
    std::int64_t wait_ms = -1;
    if (parsed.is_object() && parsed.contains("retry_after_ms") &&
        parsed["retry_after_ms"].is_number_integer()) {
      wait_ms = parsed["retry_after_ms"].get<std::int64_t>();
    } else if (auto it = res->headers.find("retry-after"); it != res->headers.end()) {
      wait_ms = std::atoll(it->second.c_str()) * 1000;
    }
    if (wait_ms < 0 || wait_ms > kMaxRateLimitWait.count()) break;
    spdlog::info("matrix: rate limited on {}, waiting {} ms", path, wait_ms);
    boost::asio::steady_timer timer(executor_, std::chrono::milliseconds(wait_ms));
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
  if (res->status >= 200 && res->status < 300) {
    if (parsed.is_discarded()) co_return json::object();
    co_return parsed;
  }
  std::string errcode = "M_UNKNOWN";
  std::string message = res->body.substr(0, 300);
  if (parsed.is_object()) {
    if (parsed.contains("errcode") && parsed["errcode"].is_string())
      errcode = parsed["errcode"].get<std::string>();
    if (parsed.contains("error") && parsed["error"].is_string())
      message = parsed["error"].get<std::string>();
  }
  const std::string what =
      errcode + ": " + method + " " + path + " -> " + std::to_string(res->status) + " " + message;
  if (res->status == 429 || res->status >= 500) {
    if (parsed.is_object() && parsed.contains("retry_after_ms")) {
      spdlog::info("matrix: rate limited, retry after {} ms", parsed["retry_after_ms"].dump());
    }
    co_return core::Error::unavailable(what).with_code(errcode);
  }
  co_return core::Error::permanent(what).with_code(errcode);
}

namespace {
// Client-server API paths, each parameter percent-encoded ("Conventions").
const std::string kClient = "/_matrix/client/v3";
std::string enc(std::string_view segment) { return core::url_encode(segment); }
std::string room_path(std::string_view room_id) { return kClient + "/rooms/" + enc(room_id); }
// The event id of an answer, "" when it names none.
std::string event_id_of(const json& answer) {
  if (answer.is_object() && answer.contains("event_id") && answer["event_id"].is_string())
    return answer["event_id"].get<std::string>();
  return {};
}
core::Status status_of(const core::Result<json>& r) {
  if (!r) return r.error();
  return core::Status{};
}
core::Result<std::string> event_id_or_error(const core::Result<json>& r) {
  if (!r) return r.error();
  return event_id_of(*r);
}
}  // namespace

awaitable<core::Result<double>> HttpClientApi::ping(std::string appservice_id,
                                                    std::string transaction_id) {
  json body{{"transaction_id", transaction_id}};
  auto r = co_await call("POST", "/_matrix/client/v1/appservice/" + enc(appservice_id) + "/ping",
                         "", body);
  if (!r) co_return r.error();
  co_return r->contains("duration_ms") && (*r)["duration_ms"].is_number()
      ? (*r)["duration_ms"].get<double>()
      : 0.0;
}

awaitable<core::Status> HttpClientApi::register_user(std::string localpart) {
  json body{
      {"type", "m.login.application_service"}, {"username", localpart}, {"inhibit_login", true}};
  auto r = co_await call("POST", kClient + "/register", "", body);
  if (!r && errcode_of(r.error()) == "M_USER_IN_USE") co_return core::Status{};
  co_return status_of(r);
}

awaitable<core::Result<std::string>> HttpClientApi::get_displayname(std::string user_id) {
  auto r = co_await call("GET", kClient + "/profile/" + enc(user_id) + "/displayname", "", json());
  if (!r) co_return r.error();
  if (r->contains("displayname") && (*r)["displayname"].is_string())
    co_return (*r)["displayname"].get<std::string>();
  co_return std::string();
}

awaitable<core::Status> HttpClientApi::set_displayname(std::string user_id, std::string name) {
  json body{{"displayname", name}};
  co_return status_of(
      co_await call("PUT", kClient + "/profile/" + enc(user_id) + "/displayname", user_id, body));
}

awaitable<core::Status> HttpClientApi::set_avatar_url(std::string user_id, std::string mxc_uri) {
  json body{{"avatar_url", mxc_uri}};
  co_return status_of(
      co_await call("PUT", kClient + "/profile/" + enc(user_id) + "/avatar_url", user_id, body));
}

awaitable<core::Result<std::string>> HttpClientApi::create_room(json body, std::string as_user) {
  auto r = co_await call("POST", kClient + "/createRoom", as_user, std::move(body));
  if (!r) co_return r.error();
  if (!r->contains("room_id") || !(*r)["room_id"].is_string())
    co_return core::Error::unavailable("createRoom answered without a room_id");
  co_return (*r)["room_id"].get<std::string>();
}

awaitable<core::Status> HttpClientApi::join_room(std::string room_id, std::string as_user) {
  co_return status_of(
      co_await call("POST", kClient + "/join/" + enc(room_id), as_user, json::object()));
}

awaitable<core::Status> HttpClientApi::invite(std::string room_id, std::string user_id,
                                              std::string as_user) {
  json body{{"user_id", user_id}};
  co_return status_of(co_await call("POST", room_path(room_id) + "/invite", as_user, body));
}

awaitable<core::Status> HttpClientApi::leave_room(std::string room_id, std::string as_user) {
  co_return status_of(
      co_await call("POST", room_path(room_id) + "/leave", as_user, json::object()));
}

awaitable<core::Result<std::vector<std::string>>> HttpClientApi::joined_rooms(std::string as_user) {
  auto r = co_await call("GET", kClient + "/joined_rooms", as_user, json());
  if (!r) co_return r.error();
  std::vector<std::string> rooms;
  if (r->contains("joined_rooms") && (*r)["joined_rooms"].is_array()) {
    for (const auto& room : (*r)["joined_rooms"]) {
      if (room.is_string()) rooms.push_back(room.get<std::string>());
    }
  }
  co_return rooms;
}

awaitable<core::Result<json>> HttpClientApi::recent_events(std::string room_id, int limit,
                                                           std::string as_user) {
  auto r =
      co_await call("GET", room_path(room_id) + "/messages?dir=b&limit=" + std::to_string(limit),
                    as_user, json());
  if (!r) co_return r.error();
  if (!r->contains("chunk") || !(*r)["chunk"].is_array()) co_return json::array();
  co_return std::move((*r)["chunk"]);
}

awaitable<core::Result<std::string>> HttpClientApi::resolve_alias(std::string alias) {
  auto r = co_await call("GET", kClient + "/directory/room/" + enc(alias), "", json());
  if (!r) co_return r.error();
  if (!r->contains("room_id") || !(*r)["room_id"].is_string())
    co_return core::Error::unavailable("the directory answered without a room id");
  co_return (*r)["room_id"].get<std::string>();
}

awaitable<core::Status> HttpClientApi::delete_alias(std::string alias) {
  co_return status_of(
      co_await call("DELETE", kClient + "/directory/room/" + enc(alias), "", json()));
}

awaitable<core::Result<std::string>> HttpClientApi::send_event(
    std::string room_id, std::string event_type, std::string txn_id, json content,
    std::string as_user, std::optional<std::int64_t> origin_ts_ms) {
  std::string path = room_path(room_id) + "/send/" + enc(event_type) + "/" + enc(txn_id);
  if (origin_ts_ms) path += "?ts=" + std::to_string(*origin_ts_ms);
  co_return event_id_or_error(co_await call("PUT", path, as_user, std::move(content)));
}

awaitable<core::Result<std::string>> HttpClientApi::send_state(std::string room_id,
                                                               std::string event_type,
                                                               std::string state_key, json content,
                                                               std::string as_user) {
  co_return event_id_or_error(
      co_await call("PUT", room_path(room_id) + "/state/" + enc(event_type) + "/" + enc(state_key),
                    as_user, std::move(content)));
}

awaitable<core::Result<std::string>> HttpClientApi::redact(std::string room_id,
                                                           std::string event_id, std::string txn_id,
                                                           json content, std::string as_user) {
  co_return event_id_or_error(
      co_await call("PUT", room_path(room_id) + "/redact/" + enc(event_id) + "/" + enc(txn_id),
                    as_user, std::move(content)));
}

awaitable<core::Status> HttpClientApi::send_receipt(std::string room_id, std::string receipt_type,
                                                    std::string event_id, json content,
                                                    std::string as_user) {
  co_return status_of(co_await call(
      "POST", room_path(room_id) + "/receipt/" + enc(receipt_type) + "/" + enc(event_id), as_user,
      std::move(content)));
}

awaitable<core::Status> HttpClientApi::set_typing(std::string room_id, std::string user_id,
                                                  json content) {
  co_return status_of(co_await call("PUT", room_path(room_id) + "/typing/" + enc(user_id), user_id,
                                    std::move(content)));
}

awaitable<core::Result<std::string>> HttpClientApi::upload_media(std::string content_type,
                                                                 std::string filename,
                                                                 std::string data,
                                                                 std::string as_user) {
  std::string target = "/_matrix/media/v3/upload?filename=" + core::url_encode(filename);
  if (!as_user.empty()) target += "&user_id=" + core::url_encode(as_user);
  core::HttpHeaders headers{
      {"Content-Type", content_type.empty() ? "application/octet-stream" : content_type}};
  auto res = co_await raw("POST", target, std::move(headers), std::move(data));
  if (!res) co_return res.error();
  auto parsed = parse_answer(res->body);
  if (res->status != 200 || !parsed.is_object() || !parsed.contains("content_uri") ||
      !parsed["content_uri"].is_string()) {
    const std::string what =
        "media upload -> " + std::to_string(res->status) + " " + res->body.substr(0, 200);
    if (res->status == 429 || res->status >= 500) co_return core::Error::unavailable(what);
    co_return core::Error::permanent(what);
  }
  co_return parsed["content_uri"].get<std::string>();
}

awaitable<core::Result<std::string>> HttpClientApi::download_media(std::string mxc_uri) {
  constexpr std::string_view kScheme = "mxc://";
  if (!mxc_uri.starts_with(kScheme)) co_return core::Error::invalid("url", "not an mxc:// URI");
  const std::string rest = mxc_uri.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos)
    co_return core::Error::invalid("url", "mxc:// URI without a media id");
  auto res =
      co_await raw("GET",
                   "/_matrix/client/v1/media/download/" + core::url_encode(rest.substr(0, slash)) +
                       "/" + core::url_encode(rest.substr(slash + 1)),
                   {}, {});
  if (!res) co_return res.error();
  if (res->status == 200) co_return std::move(res->body);
  const std::string what = "media download of " + mxc_uri + " -> " + std::to_string(res->status);
  if (res->status == 429 || res->status >= 500) co_return core::Error::unavailable(what);
  co_return core::Error::permanent(what);
}

}  // namespace coibridge::connectors::matrix
