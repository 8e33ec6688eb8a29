#pragma once
// An in-process connector for tests of the router and delivery machinery: it records every
// deliver() call and can be told to fail, transiently or for good. Not thread-safe: use it
// from one io_context thread.

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "core/connector/connector.hpp"

namespace coibridge::testing {

class TestConnector final : public core::Connector {
 public:
  explicit TestConnector(std::string name) : name_(std::move(name)) {}

  std::string_view name() const override { return name_; }
  core::Capabilities capabilities() const override { return caps; }
  boost::asio::awaitable<void> run(core::ConnectorContext&) override { co_return; }

  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> deliver(
      const core::Delivery& delivery) override {
    calls.push_back(delivery);
    if (!scripted_failures.empty()) {
      core::Error e = scripted_failures.front();
      scripted_failures.pop_front();
      co_return e;
    }
    if (fail_always) co_return *fail_always;
    // Idempotent on the event id, as the contract requires.
    auto key = delivery.event_id.value + "|" + delivery.target.remote_id;
    auto [it, inserted] = delivered.try_emplace(key, delivery);
    (void)it;
    if (inserted) delivered_order.push_back(delivery);
    co_return core::RemoteMessageRef{name_, "remote-" + delivery.event_id.value};
  }

  core::Capabilities caps = core::Capabilities::all();

  // Claims requests under http_prefix; by instance when they carry http_token as a Bearer.
  std::string http_prefix;
  std::string http_token;
  std::size_t http_limit = 0;
  std::size_t http_body_limit() const override { return http_limit; }
  core::HttpClaim claims_http(const core::HttpRequest& request) const override {
    if (http_prefix.empty() || !request.path.starts_with(http_prefix))
      return core::HttpClaim::kNone;
    const auto auth = request.header("authorization");
    return auth && *auth == "Bearer " + http_token ? core::HttpClaim::kInstance
                                                   : core::HttpClaim::kPath;
  }

  bool is_own_actor(const core::ActorRef& actor) const override {
    return actor.connector == name_ && actor.remote_id.rfind("puppet:", 0) == 0;
  }

  std::deque<core::Error> scripted_failures;  // returned by the next calls, in order
  std::optional<core::Error> fail_always;
  std::vector<core::Delivery> calls;                // every deliver() call
  std::map<std::string, core::Delivery> delivered;  // distinct successful deliveries
  std::vector<core::Delivery> delivered_order;      // first successes, in order

 private:
  std::string name_;
};

}  // namespace coibridge::testing
