// HttpClient against our own HttpServer on loopback: request mapping, connection reuse,
// limits and transport errors.

#include "core/net/http_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <memory>
#include <string>
#include <thread>

#include "core/net/http_server.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::core {
namespace {

namespace asio = boost::asio;
using testing::run_awaitable;

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<HttpServer>(
        ioc_.get_executor(), HttpServerOptions{"127.0.0.1", 0, 1024 * 1024},
        [this](const HttpRequest& req) -> asio::awaitable<HttpResponse> {
          ++calls_;
          max_connections_ = std::max(max_connections_.load(), server_->active_connections());
          if (req.path == "/big")
            co_return HttpResponse{200, "text/plain", std::string(5000, 'x'), {}};
          std::string out = req.method + " " + req.target +
                            " auth=" + req.header("authorization").value_or("-") +
                            " body=" + req.body;
          co_return HttpResponse{201, "text/plain", out, {{"X-Reply", "yes"}}};
        });
    auto port = server_->listen();
    ASSERT_TRUE(port.ok());
    port_ = *port;
    asio::co_spawn(ioc_, server_->run(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  asio::io_context ioc_;
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<int> calls_{0};
  std::atomic<std::size_t> max_connections_{0};
};

TEST_F(HttpClientTest, SendsMethodTargetHeadersAndBodyAndReturnsTheResponse) {
  auto res = run_awaitable([&]() -> asio::awaitable<Result<HttpClientResponse>> {
    HttpClientOptions
        options;  // named: g++ 12 destroys a braced temporary in a co_await expression twice
    HttpClient client(co_await asio::this_coro::executor, options);
    HttpClientRequest req{
        "PUT", base() + "/a/b%21?x=1&y=%40", {{"Authorization", "Bearer t"}}, "{\"k\":1}"};
    co_return co_await client.request(req);
  }());
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "PUT /a/b%21?x=1&y=%40 auth=Bearer t body={\"k\":1}");
  EXPECT_EQ(res->headers.at("x-reply"), "yes");
}

TEST_F(HttpClientTest, ReusesOneConnectionForRequestsInARow) {
  auto ok = run_awaitable([&]() -> asio::awaitable<bool> {
    HttpClientOptions
        options;  // named: g++ 12 destroys a braced temporary in a co_await expression twice
    HttpClient client(co_await asio::this_coro::executor, options);
    for (int i = 0; i < 5; ++i) {
      HttpClientRequest req{"GET", base() + "/n", {}, {}};
      auto r = co_await client.request(req);
      if (!r || r->status != 201) co_return false;
    }
    co_return true;
  }());
  EXPECT_TRUE(ok);
  EXPECT_EQ(calls_.load(), 5);
  EXPECT_EQ(max_connections_.load(), 1u);  // every request on the one pooled connection
}

TEST_F(HttpClientTest, OversizedResponseIsAnErrorNotATruncation) {
  auto res = run_awaitable([&]() -> asio::awaitable<Result<HttpClientResponse>> {
    HttpClientOptions options;
    options.max_response_bytes = 1000;
    HttpClient client(co_await asio::this_coro::executor, options);
    HttpClientRequest req{"GET", base() + "/big", {}, {}};
    co_return co_await client.request(req);
  }());
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kInvalidArgument);
}

TEST(HttpClientErrors, RefusedConnectionIsUnavailable) {
  // A port that was just free: nothing listens there.
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = probe.local_endpoint().port();
  probe.close();
  auto res = run_awaitable([&]() -> asio::awaitable<Result<HttpClientResponse>> {
    HttpClientOptions
        options;  // named: g++ 12 destroys a braced temporary in a co_await expression twice
    HttpClient client(co_await asio::this_coro::executor, options);
    HttpClientRequest req{"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, {}};
    co_return co_await client.request(req);
  }());
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kUnavailable);
}

TEST(HttpClientErrors, SilentServerTimesOut) {
  asio::io_context io;
  asio::ip::tcp::acceptor quiet(
      io, {asio::ip::make_address("127.0.0.1"), 0});  // accepts via backlog, never answers
  const auto port = quiet.local_endpoint().port();
  auto res = run_awaitable([&]() -> asio::awaitable<Result<HttpClientResponse>> {
    HttpClientOptions options;
    options.timeout = std::chrono::milliseconds(200);
    HttpClient client(co_await asio::this_coro::executor, options);
    HttpClientRequest req{"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, {}};
    co_return co_await client.request(req);
  }());
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kUnavailable);
}

TEST(HttpUrl, ParsesAndRejects) {
  auto u = parse_http_url("https://Matrix.Example.org:8448/_matrix/x?y=1");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "Matrix.Example.org");
  EXPECT_EQ(u->port, "8448");
  EXPECT_EQ(u->target, "/_matrix/x?y=1");
  auto v = parse_http_url("http://[::1]?a");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->host, "::1");
  EXPECT_EQ(v->port, "80");
  EXPECT_EQ(v->target, "/?a");
  for (const char* bad : {"ftp://x/", "http://", "http://user@host/", "http://h:99999999/",
                          "http://h/a b", "http://[::1/", "//host/"}) {
    EXPECT_FALSE(parse_http_url(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace coibridge::core
