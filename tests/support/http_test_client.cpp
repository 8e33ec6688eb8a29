#include "tests/support/http_test_client.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <chrono>
#include <stdexcept>

namespace coibridge::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::seconds kTimeout{10};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Runs one asynchronous operation to completion on the private io_context. The operations
// are asynchronous only because beast::tcp_stream enforces its timeouts on those.
template <class Initiate>
beast::error_code run_op(asio::io_context& ioc, Initiate&& initiate) {
  beast::error_code result = asio::error::would_block;
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

[[noreturn]] void fail(const std::string& what, const beast::error_code& ec) {
  throw std::runtime_error("http_test_client: " + what + ": " + ec.message());
}

struct ClientConnection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string host_header;

  void connect(const std::string& host, std::uint16_t port) {
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) fail("resolve " + host, ec);
    stream.expires_after(kTimeout);
    ec = run_op(ioc, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) fail("connect to " + host + ":" + std::to_string(port), ec);
    host_header = host + ":" + std::to_string(port);
  }

  TestResponse exchange(const std::string& method, const std::string& target,
                        const std::string& body, const TestHeaders& headers, bool close) {
    http::request<http::string_body> req;
    req.version(11);
    req.method_string(method);
    req.target(target);
    bool has_host = false;
    bool has_framing = false;
    for (const auto& [name, value] : headers) {
      const std::string key = lower(name);
      has_host = has_host || key == "host";
      has_framing = has_framing || key == "content-length" || key == "transfer-encoding";
      req.insert(name, value);
    }
    if (!has_host) req.set(http::field::host, host_header);
    if (close) req.set(http::field::connection, "close");
    req.body() = body;
    if (!has_framing &&
        (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")) {
      req.prepare_payload();
    }

    stream.expires_after(kTimeout);
    const auto write_ec =
        run_op(ioc, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
    // A server refusing the request (413) may close before taking the whole body, so the
    // write can fail while its response is already waiting to be read.
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{64} * 1024 * 1024);
    if (method == "HEAD") parser.skip(true);
    stream.expires_after(kTimeout);
    const auto read_ec = run_op(
        ioc, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
    if (read_ec) fail(write_ec ? "write request" : "read response", write_ec ? write_ec : read_ec);

    auto res = parser.release();
    TestResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& field : res) {
      auto [it, inserted] = out.headers.try_emplace(lower(std::string(field.name_string())),
                                                    std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    return out;
  }
};

}  // namespace

struct TestConnection::Impl : ClientConnection {};

TestConnection::TestConnection(const std::string& host, std::uint16_t port)
    : impl_(std::make_unique<Impl>()) {
  impl_->connect(host, port);
}

TestConnection::~TestConnection() = default;

TestResponse TestConnection::request(const std::string& method, const std::string& target,
                                     const std::string& body, const TestHeaders& headers) {
  return impl_->exchange(method, target, body, headers, false);
}

bool TestConnection::connection_closed(std::chrono::milliseconds wait) {
  if (impl_->buffer.size() > 0) return false;
  std::array<char, 256> scratch{};
  impl_->stream.expires_after(wait);
  const auto ec = run_op(impl_->ioc, [&](auto handler) {
    impl_->stream.async_read_some(asio::buffer(scratch), std::move(handler));
  });
  return ec && ec != beast::error::timeout;
}

TestResponse http_request(const std::string& host, std::uint16_t port, const std::string& method,
                          const std::string& target, const std::string& body,
                          const TestHeaders& headers) {
  ClientConnection conn;
  conn.connect(host, port);
  return conn.exchange(method, target, body, headers, true);
}

std::string raw_exchange(const std::string& host, std::uint16_t port, const std::string& bytes) {
  ClientConnection conn;
  conn.connect(host, port);
  conn.stream.expires_after(kTimeout);
  const auto write_ec = run_op(conn.ioc, [&](auto handler) {
    asio::async_write(conn.stream, asio::buffer(bytes), std::move(handler));
  });
  std::string received;
  std::array<char, 4096> scratch{};
  for (;;) {
    std::size_t n = 0;
    const auto ec = run_op(conn.ioc, [&](auto handler) {
      conn.stream.async_read_some(
          asio::buffer(scratch),
          [&n, h = std::move(handler)](beast::error_code e, std::size_t got) mutable {
            n = got;
            h(e);
          });
    });
    received.append(scratch.data(), n);
    if (ec == beast::error::timeout) fail("raw exchange timed out", ec);
    if (ec) break;
  }
  if (received.empty() && write_ec) fail("raw write", write_ec);
  return received;
}

}  // namespace coibridge::test
