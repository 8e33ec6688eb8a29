#include "connectors/matrix/client_api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>

#include "core/text/percent.hpp"

namespace coibridge::connectors::matrix {

using boost::asio::awaitable;
using nlohmann::json;

namespace {
constexpr int kMaxRateLimitWaits = 3;
constexpr std::chrono::milliseconds kMaxRateLimitWait{10000};
}  // namespace

ClientApi::ClientApi(boost::asio::any_io_executor executor, std::string homeserver_url,
                     std::string as_token, core::HttpClientOptions options)
    : executor_(executor),
      base_(std::move(homeserver_url)),
      as_token_(std::move(as_token)),
      http_(std::move(executor), std::move(options)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

std::optional<std::string> ClientApi::errcode_of(const core::Error& error) {
  if (error.code.empty()) return std::nullopt;
  return error.code;
}

awaitable<core::Result<core::HttpClientResponse>> ClientApi::raw(std::string method,
                                                                 std::string target,
                                                                 core::HttpHeaders headers,
                                                                 std::string body) {
  headers["Authorization"] = "Bearer " + as_token_;
  core::HttpClientRequest request{std::move(method), base_ + target, std::move(headers),
                                  std::move(body)};
  co_return co_await http_.request(request);
}

awaitable<core::Result<json>> ClientApi::call(std::string method, std::string path,
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
    parsed = json::parse(res->body, nullptr, false);
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

awaitable<core::Status> ClientApi::ensure_user(std::string localpart) {
  json body{
      {"type", "m.login.application_service"}, {"username", localpart}, {"inhibit_login", true}};
  auto r = co_await call("POST", "/_matrix/client/v3/register", "", body);
  if (!r && errcode_of(r.error()) == "M_USER_IN_USE") co_return core::Status{};
  if (!r) co_return r.error();
  co_return core::Status{};
}

awaitable<core::Status> ClientApi::set_display_name(std::string user_id, std::string name) {
  json body{{"displayname", name}};
  auto r = co_await call("PUT",
                         "/_matrix/client/v3/profile/" + core::url_encode(user_id) + "/displayname",
                         user_id, body);
  if (!r) co_return r.error();
  co_return core::Status{};
}

awaitable<core::Status> ClientApi::set_avatar_url(std::string user_id, std::string mxc_uri) {
  json body{{"avatar_url", mxc_uri}};
  auto r = co_await call("PUT",
                         "/_matrix/client/v3/profile/" + core::url_encode(user_id) + "/avatar_url",
                         user_id, body);
  if (!r) co_return r.error();
  co_return core::Status{};
}

awaitable<core::Status> ClientApi::join(std::string room_id, std::string as_user) {
  auto r = co_await call("POST", "/_matrix/client/v3/join/" + core::url_encode(room_id), as_user,
                         json::object());
  if (!r) co_return r.error();
  co_return core::Status{};
}

awaitable<core::Status> ClientApi::leave(std::string room_id, std::string as_user) {
  auto r = co_await call("POST", "/_matrix/client/v3/rooms/" + core::url_encode(room_id) + "/leave",
                         as_user, json::object());
  if (!r) co_return r.error();
  co_return core::Status{};
}

awaitable<core::Result<std::vector<std::string>>> ClientApi::joined_rooms(std::string as_user) {
  auto r = co_await call("GET", "/_matrix/client/v3/joined_rooms", as_user, json());
  if (!r) co_return r.error();
  std::vector<std::string> rooms;
  if (r->contains("joined_rooms") && (*r)["joined_rooms"].is_array()) {
    for (const auto& room : (*r)["joined_rooms"]) {
      if (room.is_string()) rooms.push_back(room.get<std::string>());
    }
  }
  co_return rooms;
}

awaitable<core::Status> ClientApi::invite(std::string room_id, std::string user_id,
                                          std::string as_user) {
  json body{{"user_id", user_id}};
  auto r = co_await call(
      "POST", "/_matrix/client/v3/rooms/" + core::url_encode(room_id) + "/invite", as_user, body);
  if (!r) co_return r.error();
  co_return core::Status{};
}

awaitable<core::Result<std::string>> ClientApi::upload(std::string content_type,
                                                       std::string filename, std::string data,
                                                       std::string as_user) {
  std::string target = "/_matrix/media/v3/upload?filename=" + core::url_encode(filename);
  if (!as_user.empty()) target += "&user_id=" + core::url_encode(as_user);
  core::HttpHeaders headers{
      {"Content-Type", content_type.empty() ? "application/octet-stream" : content_type}};
  auto res = co_await raw("POST", target, std::move(headers), std::move(data));
  if (!res) co_return res.error();
  auto parsed = json::parse(res->body, nullptr, false);
  if (res->status != 200 || !parsed.is_object() || !parsed.contains("content_uri") ||
      !parsed["content_uri"].is_string()) {
    const std::string what =
        "media upload -> " + std::to_string(res->status) + " " + res->body.substr(0, 200);
    if (res->status == 429 || res->status >= 500) co_return core::Error::unavailable(what);
    co_return core::Error::permanent(what);
  }
  co_return parsed["content_uri"].get<std::string>();
}

awaitable<core::Result<std::string>> ClientApi::download(std::string mxc_uri) {
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
