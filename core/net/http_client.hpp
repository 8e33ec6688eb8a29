#pragma once
// A small HTTP/1.1 client (Beast underneath, kept out of this header) for connectors that
// call a network's web API: the Matrix client-server API, Slack's Web API. Keeps idle
// connections per origin for reuse, verifies TLS certificates and host names by default, and
// bounds every request in time and response size.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/model/result.hpp"
#include "core/net/http_types.hpp"

namespace coibridge::core {

struct HttpClientOptions {
  std::string ca_file;                        // empty: the system's CA certificates
  bool verify_peer = true;                    // false only for tests; logged loudly once
  std::chrono::milliseconds timeout{30000};   // connect + write + read of one request
  std::size_t max_response_bytes = 64 << 20;  // larger bodies fail the request
  std::size_t max_idle_per_origin = 8;        // kept-alive connections per scheme://host:port
  std::string user_agent = "coi-bridge";
};

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;  // http:// or https://, host and optional port, path and query
  HttpHeaders headers;
  std::string body;
};

struct HttpClientResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

// Components of an http(s) URL; kInvalidArgument for anything else.
struct ParsedUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, "/" at least
};
Result<ParsedUrl> parse_http_url(std::string_view url);

class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; errors are for transport trouble: kUnavailable for network
  // errors and timeouts, kPermanent for a refused TLS certificate, kInvalidArgument for a bad
  // URL or an oversized response.
  boost::asio::awaitable<Result<HttpClientResponse>> request(const HttpClientRequest& request);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace coibridge::core
