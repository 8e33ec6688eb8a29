// HttpClientApi against our own HttpServer standing in for a homeserver: the as_token and
// user_id on every call, percent-encoded path parameters, errcodes, and 429 handling
// (Client-server API, "Rate limiting").

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "connectors/matrix/http_client_api.hpp"
#include "core/net/http_server.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::connectors::matrix {
namespace {

namespace asio = boost::asio;
using testing::run_awaitable;
using Clock = std::chrono::steady_clock;

class ClientApiTest : public ::testing::Test {
 protected:
  using Reply = std::function<core::HttpResponse(const core::HttpRequest&, int call)>;

  void start(Reply reply) {
    reply_ = std::move(reply);
    server_ = std::make_unique<core::HttpServer>(
        ioc_.get_executor(), core::HttpServerOptions{"127.0.0.1", 0, 1024 * 1024},
        [this](const core::HttpRequest& req) -> asio::awaitable<core::HttpResponse> {
          int call = 0;
          {
            std::lock_guard lock(mu_);
            seen_.push_back({req.target, req.header("authorization").value_or(""), Clock::now()});
            call = static_cast<int>(seen_.size());
          }
          co_return reply_(req, call);
        });
    auto port = server_->listen();
    ASSERT_TRUE(port.ok());
    base_ = "http://127.0.0.1:" + std::to_string(*port);
    asio::co_spawn(ioc_, server_->run(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  // Runs `body` with an API client for the stand-in homeserver.
  template <class T>
  T with_api(std::function<asio::awaitable<T>(ClientApi&)> body) {
    return run_awaitable([&]() -> asio::awaitable<T> {
      core::HttpClientOptions options;  // named: g++ 12 and braced temporaries in co_await
      HttpClientApi api(co_await asio::this_coro::executor, base_, "the-as-token", options);
      co_return co_await body(api);
    }());
  }
  core::Status join(std::string room) {
    return with_api<core::Status>([room](ClientApi& api) -> asio::awaitable<core::Status> {
      const std::string bot;
      co_return co_await api.join_room(room, bot);
    });
  }

  struct Seen {
    std::string target, authorization;
    Clock::time_point at;
  };
  asio::io_context ioc_;
  std::unique_ptr<core::HttpServer> server_;
  std::thread thread_;
  std::string base_;
  Reply reply_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

TEST_F(ClientApiTest, SendsTheAsTokenAndMasqueradesAsTheGhost) {
  start([](const core::HttpRequest&, int) {
    return core::HttpResponse::json(200, R"({"event_id":"$e"})");
  });
  auto r = with_api<core::Result<std::string>>(
      [](ClientApi& api) -> asio::awaitable<core::Result<std::string>> {
        // Named, not literal: g++ 12 mishandles temporaries inside a co_await expression.
        const std::string room = "!r:hs", type = "m.room.message", txn = "t1";
        const std::string ghost = "@_coi_bob=40x.org:hs";
        const nlohmann::json content{{"body", "hi"}};
        co_return co_await api.send_event(room, type, txn, content, ghost, std::nullopt);
      });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, "$e");
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].authorization, "Bearer the-as-token");
  // Path parameters percent-encoded (client-server API, "Conventions").
  EXPECT_EQ(seen_[0].target,
            "/_matrix/client/v3/rooms/%21r%3Ahs/send/m.room.message/"
            "t1?user_id=%40_coi_bob%3D40x.org%3Ahs");
}

TEST_F(ClientApiTest, AnOriginTimeIsTheTsParameter) {
  start([](const core::HttpRequest&, int) {
    return core::HttpResponse::json(200, R"({"event_id":"$e"})");
  });
  auto r = with_api<core::Result<std::string>>(
      [](ClientApi& api) -> asio::awaitable<core::Result<std::string>> {
        const std::string room = "!r:hs", type = "m.room.message", txn = "t2";
        const std::string ghost = "@_coi_bob=40x.org:hs";
        const nlohmann::json content{{"body", "hi"}};
        const std::optional<std::int64_t> ts = 1795000000123;
        co_return co_await api.send_event(room, type, txn, content, ghost, ts);
      });
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].target,
            "/_matrix/client/v3/rooms/%21r%3Ahs/send/m.room.message/"
            "t2?ts=1795000000123&user_id=%40_coi_bob%3D40x.org%3Ahs");
}

TEST_F(ClientApiTest, StateKeysAndEventIdsAreEncodedInThePath) {
  start([](const core::HttpRequest&, int) {
    return core::HttpResponse::json(200, R"({"event_id":"$s"})");
  });
  auto r = with_api<core::Result<std::string>>(
      [](ClientApi& api) -> asio::awaitable<core::Result<std::string>> {
        const std::string room = "!r:hs", type = "m.bridge", key = "coi:bridge:1/x";
        const std::string event = "$ev/1", txn = "tx", bot;
        const nlohmann::json empty = nlohmann::json::object();
        auto state = co_await api.send_state(room, type, key, empty, bot);
        if (!state) co_return state.error();
        co_return co_await api.redact(room, event, txn, empty, bot);
      });
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[0].target,
            "/_matrix/client/v3/rooms/%21r%3Ahs/state/m.bridge/coi%3Abridge%3A1%2Fx");
  EXPECT_EQ(seen_[1].target, "/_matrix/client/v3/rooms/%21r%3Ahs/redact/%24ev%2F1/tx");
}

TEST_F(ClientApiTest, ShortRateLimitIsWaitedOutAndRetried) {
  start([](const core::HttpRequest&, int n) {
    if (n == 1)
      return core::HttpResponse::json(429,
                                      R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":300})");
    return core::HttpResponse::json(200, R"({"ok":true})");
  });
  auto r = join("!r");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(seen_.size(), 2u);
  // The second request came no sooner than the homeserver asked.
  EXPECT_GE(seen_[1].at - seen_[0].at, std::chrono::milliseconds(300));
}

TEST_F(ClientApiTest, LongRateLimitAndServerErrorsGoBackToTheCallerAsUnavailable) {
  start([](const core::HttpRequest& req, int) {
    if (req.path.ends_with("long")) {
      return core::HttpResponse::json(429,
                                      R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":600000})");
    }
    if (req.path.ends_with("down")) return core::HttpResponse::json(502, "{}");
    return core::HttpResponse::json(403, R"({"errcode":"M_FORBIDDEN","error":"not in room"})");
  });
  auto long_wait = join("!long");
  ASSERT_FALSE(long_wait.ok());
  EXPECT_EQ(long_wait.error().kind, core::ErrorKind::kUnavailable);
  auto down = join("!down");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().kind, core::ErrorKind::kUnavailable);
  auto forbidden = join("!forbidden");
  ASSERT_FALSE(forbidden.ok());
  EXPECT_EQ(forbidden.error().kind, core::ErrorKind::kPermanent);
  EXPECT_EQ(ClientApi::errcode_of(forbidden.error()), "M_FORBIDDEN");
  EXPECT_EQ(forbidden.error().code, "M_FORBIDDEN");
  EXPECT_EQ(down.error().code, "M_UNKNOWN");  // no JSON body: the spec's catch-all
  // The code travels beside the text; text that looks like one is not read as one.
  EXPECT_FALSE(ClientApi::errcode_of(core::Error::permanent("M_FORBIDDEN: a message, not a code"))
                   .has_value());
  EXPECT_EQ(seen_.size(), 3u);  // nothing retried here
}

}  // namespace
}  // namespace coibridge::connectors::matrix
