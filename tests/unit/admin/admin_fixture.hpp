#pragma once
// Drives AdminApi::handle directly: requests are built in memory and the awaitable runs on a
// private io_context. No sockets.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/admin/admin_api.hpp"
#include "core/metrics/metrics.hpp"
#include "tests/unit/admin/fake_stores.hpp"

namespace coibridge::core::fakes {

inline const std::string kWriteToken = "write-token-0123456789abcdefghijklmnop";
inline const std::string kReadToken = "read-token-0123456789abcdefghijklmnopq";

template <class T>
T run_sync(boost::asio::awaitable<T> awaitable) {
  boost::asio::io_context ioc;
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(ioc, std::move(awaitable), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out = std::move(value);
  });
  ioc.run();
  if (error) std::rethrow_exception(error);
  if (!out) throw std::logic_error("awaitable did not complete");
  return std::move(*out);
}

class AdminApiTest : public ::testing::Test {
 protected:
  // nullopt: no Authorization field at all.
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::optional<std::string>& token = kWriteToken) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    split_target(req);
    req.body = body;
    if (token) req.headers.emplace("Authorization", "Bearer " + *token);
    return run_sync(api_.handle(req));
  }

  HttpResponse call_with_authorization(const std::string& method, const std::string& target,
                                       const std::string& authorization,
                                       const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    split_target(req);
    req.body = body;
    req.headers.emplace("authorization", authorization);
    return run_sync(api_.handle(req));
  }

  static nlohmann::json body(const HttpResponse& res) {
    auto j = nlohmann::json::parse(res.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << res.body;
    return j;
  }

  // Creates a bridge (and optionally a link in it) through the API; returns the ids.
  std::int64_t make_bridge(const std::string& name) {
    const auto res = call("POST", "/api/v1/bridges", nlohmann::json{{"name", name}}.dump());
    EXPECT_EQ(res.status, 201) << res.body;
    return body(res).at("id").get<std::int64_t>();
  }
  std::int64_t make_link(std::int64_t bridge, const std::string& remote_id) {
    const auto res = call("POST", "/api/v1/bridges/" + std::to_string(bridge) + "/links",
                          nlohmann::json{{"connector", "matrix"}, {"remote_id", remote_id}}.dump());
    EXPECT_EQ(res.status, 201) << res.body;
    return body(res).at("id").get<std::int64_t>();
  }

  double requests_counted(const std::string& route, const std::string& method, int status) {
    return metrics_
        .counter("coibridge_http_requests_total", "",
                 {{"route", route}, {"method", method}, {"status", std::to_string(status)}})
        .value();
  }

  FakeBridgeStore bridges_;
  FakeEventStore events_;
  MetricsRegistry metrics_;
  bool ready_ = true;
  bool ready_throws_ = false;
  int replay_notifications_ = 0;
  std::vector<Link> linked_;                             // on_linked calls
  std::vector<Link> unlinked_;                           // on_unlinked calls
  std::vector<std::pair<std::int64_t, int>> backfills_;  // backfill calls: bridge, messages
  Result<int> backfill_result_ = 0;
  AdminApi api_{AdminDeps{
      bridges_,
      events_,
      metrics_,
      {AdminToken{"admin", kWriteToken, true, true}, AdminToken{"viewer", kReadToken, true, false}},
      [this]() -> boost::asio::awaitable<bool> {
        if (ready_throws_) throw std::runtime_error("db gone");
        co_return ready_;
      },
      [this] { ++replay_notifications_; },
      [this](const Link& link) { linked_.push_back(link); },
      [this](const Link& link) { unlinked_.push_back(link); },
      {},  // every connector name is taken
      [this](std::int64_t bridge, int messages) -> boost::asio::awaitable<Result<int>> {
        backfills_.emplace_back(bridge, messages);
        co_return backfill_result_;
      }}};
};

}  // namespace coibridge::core::fakes
