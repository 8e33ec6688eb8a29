#pragma once
// A small HTTP/1.1 server (Beast underneath, kept out of this header) for the admin API and
// connectors' inbound webhooks. One coroutine per connection, each on its own strand.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/model/result.hpp"
#include "core/net/http_types.hpp"

namespace coibridge::core {

struct HttpServerOptions {
  std::string host = "127.0.0.1";            // an IP address literal (no name resolution)
  std::uint16_t port = 0;                    // 0: any free port; listen() returns the one chosen
  std::size_t max_body_bytes = 1024 * 1024;  // larger bodies get 413 (RFC 9110 §15.5.14)
  // A different limit for some requests, by their path (a homeserver's transactions are
  // larger than admin calls); 0 or unset: max_body_bytes.
  std::function<std::size_t(std::string_view path)> body_limit_for = {};
  std::size_t header_limit = 16 * 1024;  // larger request heads get 431 (RFC 6585 §5)
  // Budget for reading one request (head and body) and for writing one response. An idle
  // keep-alive connection is closed when it elapses.
  std::chrono::milliseconds read_timeout{30000};
  std::size_t max_connections = 1024;  // beyond: 503 and close
  // How long run() waits, after stop(), for in-flight requests before closing them anyway.
  std::chrono::milliseconds shutdown_grace{10000};
};

class HttpServer {
 public:
  // Called once per request on the connection's strand. May throw: the client then gets a
  // 500 and the error is logged. The handler (and what it captures) must outlive run().
  using Handler = std::function<boost::asio::awaitable<HttpResponse>(const HttpRequest&)>;

  HttpServer(boost::asio::any_io_executor executor, HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Opens and binds the listening socket. Returns the bound port (the chosen one when
  // options.port is 0), or an error (kInvalidArgument for a bad host, kUnavailable when the
  // address cannot be bound) whose message names the address.
  Result<std::uint16_t> listen();

  // The accept loop. Completes after stop(): once every in-flight request finished, or
  // shutdown_grace elapsed. Call listen() first.
  boost::asio::awaitable<void> run();

  // Thread-safe and idempotent. Closes the listening socket and idle keep-alive connections;
  // requests being handled finish and their responses carry "Connection: close".
  void stop();

  std::size_t active_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with connection coroutines that may outlive *this
};

}  // namespace coibridge::core
