// HttpServer over real loopback sockets. "unit" because it needs no external server: the
// server under test runs in this process on 127.0.0.1 with an ephemeral port.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/net/http_server.hpp"
#include "tests/support/http_test_client.hpp"

namespace coibridge::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::http_request;
using test::raw_exchange;
using test::TestConnection;

constexpr const char* kHost = "127.0.0.1";

class HttpServerTest : public ::testing::Test {
 protected:
  // Handler that echoes what it parsed, so tests can check the request mapping.
  static asio::awaitable<HttpResponse> echo(const HttpRequest& req) {
    std::string out = req.method + " " + req.path + " q=" + req.raw_query;
    if (auto it = req.query.find("y"); it != req.query.end()) out += " y=" + it->second;
    if (auto v = req.header("x-test")) out += " x-test=" + *v;
    out += " body=" + std::to_string(req.body.size());
    out += " remote=" + req.remote_address;
    HttpResponse res{200, "text/plain", out, {{"X-Reply", "yes"}}};
    co_return res;
  }

  void start(HttpServer::Handler handler, HttpServerOptions options = {}) {
    options.host = kHost;
    options.port = 0;
    server_ = std::make_unique<HttpServer>(ioc_.get_executor(), options, std::move(handler));
    auto port = server_->listen();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    asio::co_spawn(ioc_, server_->run(), [this](std::exception_ptr e) {
      run_failed_ = static_cast<bool>(e);
      run_done_ = true;
    });
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    if (server_) {
      EXPECT_TRUE(run_done_.load());
      EXPECT_FALSE(run_failed_.load());
    }
  }

  asio::io_context ioc_;
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> run_done_{false};
  std::atomic<bool> run_failed_{false};
  std::atomic<int> calls_{0};
};

TEST_F(HttpServerTest, ServesRequestAndMapsItsParts) {
  start(echo);
  const auto res =
      http_request(kHost, port_, "POST", "/hello/world?y=a%20b+c&z", "12345", {{"X-Test", "v1"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "POST /hello/world q=y=a%20b+c&z y=a b c x-test=v1 body=5 remote=127.0.0.1");
  EXPECT_EQ(res.headers.at("content-type"), "text/plain");
  EXPECT_EQ(res.headers.at("x-reply"), "yes");
  EXPECT_EQ(res.headers.at("content-length"), std::to_string(res.body.size()));
  EXPECT_TRUE(res.headers.contains("date"));
}

TEST_F(HttpServerTest, RepeatedHeaderFieldsAreJoined) {
  start(echo);
  const auto res = http_request(kHost, port_, "GET", "/", "", {{"X-Test", "a"}, {"x-test", "b"}});
  EXPECT_NE(res.body.find("x-test=a, b"), std::string::npos) << res.body;
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start(echo);
  TestConnection conn(kHost, port_);
  const auto first = conn.request("GET", "/one");
  const auto second = conn.request("GET", "/two");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("/two"), std::string::npos);
  EXPECT_EQ(server_->active_connections(), 1U);
  EXPECT_FALSE(conn.connection_closed(200ms));
}

TEST_F(HttpServerTest, ClosesWhenTheClientAsksTo) {
  start(echo);
  TestConnection conn(kHost, port_);
  const auto res = conn.request("GET", "/", "", {{"Connection", "close"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.headers.at("connection"), "close");
  EXPECT_TRUE(conn.connection_closed());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionTimesOut) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  start(echo, options);
  TestConnection conn(kHost, port_);
  EXPECT_EQ(conn.request("GET", "/").status, 200);
  EXPECT_TRUE(conn.connection_closed());
}

TEST_F(HttpServerTest, OversizedBodyGets413WithoutReachingTheHandler) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  start(
      [this](const HttpRequest& req) {
        ++calls_;
        return echo(req);
      },
      options);
  const auto res = http_request(kHost, port_, "POST", "/upload", std::string(64 * 1024, 'x'));
  EXPECT_EQ(res.status, 413);
  EXPECT_NE(res.body.find(R"("error":"payload_too_large")"), std::string::npos) << res.body;
  EXPECT_EQ(res.headers.at("content-type"), "application/json");
  EXPECT_EQ(calls_.load(), 0);
  // A body of exactly the limit is fine.
  EXPECT_EQ(http_request(kHost, port_, "POST", "/upload", std::string(1024, 'x')).status, 200);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(HttpServerTest, APathMayTakeLargerBodiesThanTheRest) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  options.body_limit_for = [](std::string_view path) -> std::size_t {
    return path.starts_with("/_matrix/app/") ? 64 * 1024 : 0;
  };
  start(echo, options);
  const std::string big(32 * 1024, 'x');
  EXPECT_EQ(http_request(kHost, port_, "PUT", "/_matrix/app/v1/transactions/1?x=1", big).status,
            200);
  EXPECT_EQ(http_request(kHost, port_, "POST", "/api/v1/bridges", big).status, 413);
  const auto over = http_request(kHost, port_, "PUT", "/_matrix/app/v1/transactions/2",
                                 std::string(64 * 1024 + 1, 'x'));
  EXPECT_EQ(over.status, 413);
  EXPECT_NE(over.body.find("65536"), std::string::npos) << over.body;
}

TEST_F(HttpServerTest, OversizedContentLengthIsRefusedBeforeTheBodyIsSent) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  start(echo, options);
  // The client waits for 100 (Continue); the server must answer 413 from the head alone.
  const auto reply = raw_exchange(kHost, port_,
                                  "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n"
                                  "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0U) << reply;
  EXPECT_EQ(reply.find("100 Continue"), std::string::npos) << reply;
}

TEST_F(HttpServerTest, ExpectContinueIsHonoured) {
  start(echo);
  const auto reply = raw_exchange(kHost, port_,
                                  "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                                  "Expect: 100-continue\r\nConnection: close\r\n\r\nabc");
  EXPECT_EQ(reply.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0), 0U) << reply;
  EXPECT_NE(reply.find("body=3"), std::string::npos) << reply;
}

TEST_F(HttpServerTest, OversizedChunkedBodyGets413) {
  HttpServerOptions options;
  options.max_body_bytes = 16;
  start(echo, options);
  const auto reply =
      raw_exchange(kHost, port_,
                   "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0U) << reply;
}

TEST_F(HttpServerTest, GarbageGets400AndClose) {
  start(echo);
  const auto reply = raw_exchange(kHost, port_, std::string("\x01\x02 garbage\x7f\r\n\r\n"));
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0U) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  EXPECT_NE(reply.find(R"("error":"bad_request")"), std::string::npos) << reply;
}

TEST_F(HttpServerTest, BadContentLengthGets400) {
  start(echo);
  const auto reply =
      raw_exchange(kHost, port_, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0U) << reply;
}

TEST_F(HttpServerTest, OversizedHeadGets431) {
  HttpServerOptions options;
  options.header_limit = 1024;
  start(echo, options);
  const auto res = http_request(kHost, port_, "GET", "/", "", {{"X-Big", std::string(4096, 'a')}});
  EXPECT_EQ(res.status, 431);
}

TEST_F(HttpServerTest, HandlerExceptionGives500AndServerKeepsServing) {
  start([](const HttpRequest& req) -> asio::awaitable<HttpResponse> {
    if (req.path == "/boom") throw std::runtime_error("kaboom");
    co_return HttpResponse{200, "text/plain", "fine", {}};
  });
  const auto res = http_request(kHost, port_, "GET", "/boom");
  EXPECT_EQ(res.status, 500);
  EXPECT_NE(res.body.find(R"("error":"internal")"), std::string::npos);
  EXPECT_EQ(res.body.find("kaboom"), std::string::npos) << "internal details leaked";
  EXPECT_EQ(http_request(kHost, port_, "GET", "/ok").body, "fine");
}

TEST_F(HttpServerTest, HeadResponseHasNoBody) {
  start(echo);
  const auto res = http_request(kHost, port_, "HEAD", "/");
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.body.empty());
}

TEST_F(HttpServerTest, NoContentResponseDropsBody) {
  start([](const HttpRequest&) -> asio::awaitable<HttpResponse> {
    co_return HttpResponse{204, "", "ignored", {{"Content-Length", "99"}, {"X-Bad", "a\r\nb"}}};
  });
  TestConnection conn(kHost, port_);
  const auto res = conn.request("DELETE", "/thing");
  EXPECT_EQ(res.status, 204);
  EXPECT_TRUE(res.body.empty());
  EXPECT_FALSE(res.headers.contains("x-bad"));
  EXPECT_EQ(conn.request("GET", "/").status, 204);  // framing still intact
}

TEST_F(HttpServerTest, StopLetsInFlightRequestFinish) {
  std::promise<void> entered;
  start([&entered](const HttpRequest&) -> asio::awaitable<HttpResponse> {
    entered.set_value();
    asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
    co_await timer.async_wait(asio::use_awaitable);
    co_return HttpResponse{200, "text/plain", "done", {}};
  });
  TestConnection idle(kHost, port_);  // a keep-alive connection with nothing in flight
  auto pending = std::async(std::launch::async, [this] {
    TestConnection conn(kHost, port_);
    return conn.request("GET", "/slow");
  });
  entered.get_future().wait();
  server_->stop();
  const auto res = pending.get();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "done");
  EXPECT_EQ(res.headers.at("connection"), "close");
  EXPECT_TRUE(idle.connection_closed());
  thread_.join();  // run() completes once the in-flight request is done
  EXPECT_TRUE(run_done_.load());
  EXPECT_EQ(server_->active_connections(), 0U);
  EXPECT_THROW(http_request(kHost, port_, "GET", "/"), std::runtime_error);
}

TEST_F(HttpServerTest, TooManyConnectionsGet503) {
  HttpServerOptions options;
  options.max_connections = 1;
  start(echo, options);
  TestConnection first(kHost, port_);
  EXPECT_EQ(first.request("GET", "/").status, 200);
  const auto res = http_request(kHost, port_, "GET", "/");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.headers.at("retry-after"), "1");
}

TEST(HttpServerListenTest, ReportsBindErrors) {
  asio::io_context ioc;
  const auto handler = [](const HttpRequest&) -> asio::awaitable<HttpResponse> {
    co_return HttpResponse{};
  };
  HttpServer first(ioc.get_executor(), {.host = kHost}, handler);
  auto port = first.listen();
  ASSERT_TRUE(port.ok());
  HttpServer second(ioc.get_executor(), {.host = kHost, .port = *port}, handler);
  auto clash = second.listen();
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(clash.error().message.find(std::to_string(*port)), std::string::npos);

  HttpServer bad_host(ioc.get_executor(), {.host = "not-an-ip"}, handler);
  auto bad = bad_host.listen();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidArgument);
}

TEST(HttpTypesTest, QueryParsingAndHeaderLookup) {
  HttpRequest req;
  req.target = "/p/a%2Fb?a=1&a=2&b=%41%zz&c&=x&d=e+f";
  split_target(req);
  EXPECT_EQ(req.path, "/p/a%2Fb");
  EXPECT_EQ(req.query.at("a"), "1");
  EXPECT_EQ(req.query.at("b"), "A%zz");
  EXPECT_EQ(req.query.at("c"), "");
  EXPECT_EQ(req.query.at("d"), "e f");
  req.headers.emplace("Content-Type", "text/plain");
  EXPECT_EQ(req.header("content-TYPE"), "text/plain");
  EXPECT_FALSE(req.header("accept").has_value());
  HttpResponse res{200, "", "", {{"Allow", "GET"}}};
  EXPECT_EQ(res.header("allow"), "GET");
}

}  // namespace
}  // namespace coibridge::core
