#include "core/net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <map>
#include <mutex>
#include <vector>

#include "core/net/resolve.hpp"
#include "core/net/tls_client.hpp"
#include "core/text/ascii.hpp"

namespace coibridge::core {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

}  // namespace

Result<ParsedUrl> parse_http_url(std::string_view url) {
  ParsedUrl out;
  std::string_view rest;
  if (ascii::iequals(url.substr(0, 8), "https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (ascii::iequals(url.substr(0, 7), "http://")) {
    rest = url.substr(7);
  } else {
    return Error::invalid("url", "not an http(s) URL: " + std::string(url.substr(0, 80)));
  }
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.target.front() == '?') out.target.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return Error::invalid("url",
                          "URL needs a host and no user info: " + std::string(url.substr(0, 80)));
  }
  if (authority.front() == '[') {  // RFC 3986 §3.2.2: an IPv6 literal
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Error::invalid("url", "unterminated IPv6 literal");
    out.host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':')
      return Error::invalid("url", "junk after IPv6 literal");
    if (!authority.empty()) out.port = std::string(authority.substr(1));
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty()) return Error::invalid("url", "URL needs a host");
  if (out.port.empty()) out.port = out.tls ? "443" : "80";
  for (char c : out.port) {
    if (c < '0' || c > '9' || out.port.size() > 5) return Error::invalid("url", "bad port in URL");
  }
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return Error::invalid("url", "URL contains spaces or controls");
  }
  return out;
}

struct HttpClient::Impl {
  // One connection; exactly one of the two streams is set.
  struct Conn {
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    beast::tcp_stream& lowest() { return plain ? *plain : secure->next_layer(); }
  };

  Impl(asio::any_io_executor ex, HttpClientOptions opts)
      : executor(std::move(ex)), options(std::move(opts)), ssl_ctx(ssl::context::tls_client) {
    // A bad CA file fails the first https request, not the construction: plain http still works.
    tls_setup = configure_tls_client(
        ssl_ctx,
        {.ca_file = options.ca_file, .verify_peer = options.verify_peer, .label = "http client"});
  }

  static std::string origin_of(const ParsedUrl& u) {
    return (u.tls ? "https://" : "http://") + u.host + ":" + u.port;
  }

  std::unique_ptr<Conn> take_idle(const std::string& origin) {
    std::lock_guard lock(mu);
    auto it = idle.find(origin);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto conn = std::move(it->second.back());
    it->second.pop_back();
    return conn;
  }

  void give_back(const std::string& origin, std::unique_ptr<Conn> conn) {
    std::lock_guard lock(mu);
    auto& list = idle[origin];
    if (list.size() < options.max_idle_per_origin) list.push_back(std::move(conn));
  }

  asio::awaitable<Result<std::unique_ptr<Conn>>> connect(const ParsedUrl& u) {
    if (u.tls && !tls_setup) co_return tls_setup.error();
    auto endpoints = co_await resolve_with_timeout(executor, u.host, u.port, options.timeout);
    if (!endpoints) {
      Error down = endpoints.error();
      down.unreachable = down.kind == ErrorKind::kUnavailable;
      co_return down;
    }
    auto conn = std::make_unique<Conn>();
    if (u.tls) {
      conn->secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(executor, ssl_ctx);
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(executor);
    }
    auto& tcp_stream = conn->lowest();
    tcp_stream.expires_after(options.timeout);
    auto [cec, ep] = co_await tcp_stream.async_connect(*endpoints, kAwait);
    if (cec) {
      co_return Error::unreachable_peer("cannot connect to " + origin_of(u) + ": " + cec.message());
    }
    if (u.tls) {
      auto& s = *conn->secure;
      // RFC 9110 §4.3.4: the certificate must name the host of the URL.
      if (auto p = prepare_tls_client(s.native_handle(), u.host, options.verify_peer); !p) {
        co_return p.error();
      }
      auto [hec] = co_await s.async_handshake(ssl::stream_base::client, kAwait);
      if (hec) {
        if (options.verify_peer) {
          if (auto why = certificate_refusal(s.native_handle(), u.host); !why.empty()) {
            co_return Error::permanent("TLS certificate of " + u.host + " not accepted: " + why);
          }
        }
        co_return Error::unreachable_peer("TLS handshake with " + origin_of(u) +
                                          " failed: " + hec.message());
      }
    }
    co_return conn;
  }

  template <class Stream>
  asio::awaitable<Result<HttpClientResponse>> exchange(Stream& stream, Conn& conn,
                                                       const http::request<http::string_body>& req,
                                                       bool& reusable, bool& sent_nothing) {
    conn.lowest().expires_after(options.timeout);
    auto [wec, written] = co_await http::async_write(stream, req, kAwait);
    if (wec) co_return Error::unavailable("HTTP write failed: " + wec.message());
    sent_nothing = false;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    parser.header_limit(64 * 1024);
    auto [rec, read] = co_await http::async_read(stream, conn.buffer, parser, kAwait);
    if (rec == http::error::body_limit) {
      co_return Error::invalid(
          "response", "HTTP response larger than " + std::to_string(options.max_response_bytes));
    }
    if (rec) {
      // A kept-alive connection the server had closed: the request never reached it.
      if (read == 0 && (rec == http::error::end_of_stream || rec == asio::error::connection_reset))
        sent_nothing = true;
      co_return Error::unavailable("HTTP read failed: " + rec.message());
    }
    auto res = parser.release();
    HttpClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      auto name = std::string(field.name_string());
      auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    out.body = std::move(res.body());
    reusable = res.keep_alive();
    co_return out;
  }

  asio::awaitable<Result<HttpClientResponse>> request(const HttpClientRequest& in) {
    auto url = parse_http_url(in.url);
    if (!url) co_return url.error();
    http::request<http::string_body> req;
    const auto verb = http::string_to_verb(in.method);
    if (verb == http::verb::unknown)
      co_return Error::invalid("method", "unknown HTTP method " + in.method);
    req.method(verb);
    req.target(url->target);
    req.version(11);
    const bool default_port = url->port == (url->tls ? "443" : "80");
    req.set(http::field::host, default_port ? url->host : url->host + ":" + url->port);
    req.set(http::field::user_agent, options.user_agent);
    for (const auto& [name, value] : in.headers) req.set(name, value);
    if (!in.body.empty() || verb == http::verb::post || verb == http::verb::put) {
      req.body() = in.body;
      req.prepare_payload();
    }
    const std::string origin = origin_of(*url);

    // A pooled connection may have been closed by the server meanwhile; then (and only when
    // nothing reached the server) the request goes once more on a fresh connection.
    for (int round = 0; round < 2; ++round) {
      std::unique_ptr<Conn> conn = round == 0 ? take_idle(origin) : nullptr;
      const bool pooled = conn != nullptr;
      if (!conn) {
        auto fresh = co_await connect(*url);
        if (!fresh) co_return fresh.error();
        conn = std::move(*fresh);
      }
      bool reusable = false;
      bool sent_nothing = true;
      Result<HttpClientResponse> res;
      if (conn->plain) {
        res = co_await exchange(*conn->plain, *conn, req, reusable, sent_nothing);
      } else {
        res = co_await exchange(*conn->secure, *conn, req, reusable, sent_nothing);
      }
      if (res) {
        if (reusable) give_back(origin, std::move(conn));
        co_return res;
      }
      if (!(pooled && sent_nothing)) co_return res;
    }
    co_return Error::unavailable("HTTP request to " + origin + " failed");
  }

  asio::any_io_executor executor;
  HttpClientOptions options;
  ssl::context ssl_ctx;
  Status tls_setup;
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
};

HttpClient::HttpClient(asio::any_io_executor executor, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}
HttpClient::~HttpClient() = default;

asio::awaitable<Result<HttpClientResponse>> HttpClient::request(const HttpClientRequest& request) {
  auto impl = impl_;  // alive across the suspension even if *this goes
  co_return co_await impl->request(request);
}

}  // namespace coibridge::core
