#include "core/net/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <ctime>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace coibridge::core {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// After an error response we read (and drop) what the client still sends before closing:
// closing a socket with unread input makes the kernel send RST, and the client could then
// lose our response (RFC 9112 §9.6 "tear-down").
constexpr auto kLingerTime = 1s;
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;

// IMF-fixdate (RFC 9110 §5.6.7), independent of the C locale.
std::string http_date() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  return HttpResponse::json(status,
                            fmt::format(R"({{"error":"{}","message":"{}"}})", code, message));
}

// Fields the server owns: a handler setting them could break message framing.
bool reserved_field(std::string_view name) {
  return beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
         beast::iequals(name, "connection") || beast::iequals(name, "date");
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

http::response<http::string_body> to_beast(HttpResponse&& in, unsigned version, bool keep_alive) {
  http::response<http::string_body> res;
  res.version(version);
  res.result(in.status >= 100 && in.status <= 999 ? static_cast<unsigned>(in.status) : 500U);
  res.set(http::field::date, http_date());
  if (!in.content_type.empty() && !has_crlf(in.content_type)) {
    res.set(http::field::content_type, in.content_type);
  }
  for (const auto& [name, value] : in.headers) {
    if (reserved_field(name) || has_crlf(name) || has_crlf(value) || name.empty()) {
      spdlog::warn("http: dropping response header '{}' set by handler", name);
      continue;
    }
    res.insert(name, value);
  }
  // 1xx, 204 and 304 responses have no content (RFC 9110 §6.4.1).
  const unsigned status = res.result_int();
  if (status < 200 || status == 204 || status == 304) {
    in.body.clear();
  }
  res.body() = std::move(in.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Origin-form path from the request target; absolute-form ("http://host/p", which RFC 9112
// §3.2.2 obliges servers to accept) is reduced to its path.
std::string origin_form(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && beast::iequals(target.substr(0, scheme.size()), scheme)) {
      const auto slash = target.find('/', scheme.size());
      return slash == std::string_view::npos ? "/" : std::string(target.substr(slash));
    }
  }
  return std::string(target);
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

struct ServerState : std::enable_shared_from_this<ServerState> {
  struct Connection {
    Connection(std::shared_ptr<ServerState> s, tcp::socket socket, std::uint64_t connection_id)
        : server(std::move(s)), stream(std::move(socket)), id(connection_id) {}

    // Runs on the connection's strand.
    void request_stop(bool force) {
      stop_requested = true;
      if (force || !busy) stream.cancel();
    }

    std::shared_ptr<ServerState> server;
    beast::tcp_stream stream;
    std::uint64_t id;
    std::string remote;
    bool busy = false;            // handling a request or writing its response
    bool stop_requested = false;  // strand-only, like busy
  };

  ServerState(asio::any_io_executor ex, HttpServerOptions opts, HttpServer::Handler h)
      : executor(std::move(ex)),
        strand(asio::make_strand(executor)),
        options(std::move(opts)),
        handler(std::move(h)),
        acceptor(strand),
        timer(strand) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> drain();
  void start_connection(tcp::socket socket);
  void on_connection_end(std::uint64_t id);
  void close_connections(bool force);
  void request_stop();

  asio::any_io_executor executor;
  asio::strand<asio::any_io_executor> strand;  // acceptor, timer and shutdown run here
  HttpServerOptions options;
  HttpServer::Handler handler;
  tcp::acceptor acceptor;
  asio::steady_timer timer;  // accept error backoff, then the drain wait
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> active{0};
  std::mutex mu;  // guards connections and next_id (touched from every connection strand)
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;
  std::uint64_t next_id = 0;
};

using Connection = ServerState::Connection;

asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTime);
  std::array<char, 4096> scratch{};
  std::size_t total = 0;
  while (total < kLingerMaxBytes) {
    auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kAwait);
    if (read_ec) break;
    total += n;
  }
  stream.close();
}

// Writes a server-generated error and closes the connection.
asio::awaitable<void> fail_connection(beast::tcp_stream& stream, HttpResponse response,
                                      std::chrono::milliseconds timeout) {
  auto res = to_beast(std::move(response), 11, false);
  stream.expires_after(timeout);
  auto [ec, n] = co_await http::async_write(stream, res, kAwait);
  if (ec) {
    stream.close();
    co_return;
  }
  co_await linger_close(stream);
}

HttpRequest to_request(http::request<http::string_body>&& msg, const std::string& remote) {
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = origin_form(msg.target());
  for (const auto& field : msg) {
    auto [it, inserted] =
        req.headers.try_emplace(std::string(field.name_string()), std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += field.value();
    }
  }
  req.body = std::move(msg.body());
  req.remote_address = remote;
  split_target(req);
  return req;
}

asio::awaitable<HttpResponse> call_handler(const HttpServer::Handler& handler,
                                           const HttpRequest& req) {
  try {
    co_return co_await handler(req);
  } catch (const std::exception& e) {
    spdlog::error("http: handler failed for {} {}: {}", req.method, req.path, e.what());
  } catch (...) {
    spdlog::error("http: handler failed for {} {}: unknown exception", req.method, req.path);
  }
  co_return error_response(500, "internal", "internal error");
}

asio::awaitable<void> session(std::shared_ptr<Connection> c) {
  const HttpServerOptions& opt = c->server->options;
  beast::flat_buffer buffer;
  for (;;) {
    if (c->stop_requested || c->server->stopping.load()) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(opt.header_limit, std::numeric_limits<std::uint32_t>::max())));
    // The limit depends on the path, known once the head is read: until then none, and then
    // the path's limit, checked against Content-Length at once so that an oversized body is
    // refused before any of it is read.
    parser.body_limit(boost::none);
    std::size_t body_limit = opt.max_body_bytes;

    c->stream.expires_after(opt.read_timeout);
    auto [ec, n] = co_await http::async_read_header(c->stream, buffer, parser, kAwait);
    if (!ec) {
      const auto& head = parser.get();
      if (opt.body_limit_for) {
        const std::string_view target = head.target();
        const std::size_t for_path = opt.body_limit_for(target.substr(0, target.find('?')));
        if (for_path > 0) body_limit = for_path;
      }
      parser.body_limit(static_cast<std::uint64_t>(body_limit));
      if (const auto length = parser.content_length(); length && *length > body_limit) {
        ec = http::error::body_limit;
      }
    }
    if (!ec) {
      const auto& head = parser.get();
      // RFC 9110 §10.1.1: a client waiting for 100 (Continue) sends the body only then.
      if (head.version() == 11 && beast::iequals(head[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        std::tie(ec, n) = co_await http::async_write(c->stream, cont, kAwait);
      }
    }
    if (!ec) std::tie(ec, n) = co_await http::async_read(c->stream, buffer, parser, kAwait);
    if (ec) {
      if (ec == http::error::body_limit) {
        co_await fail_connection(
            c->stream,
            error_response(413, "payload_too_large",
                           fmt::format("request body exceeds {} bytes", body_limit)),
            opt.read_timeout);
      } else if (ec == http::error::header_limit) {
        co_await fail_connection(
            c->stream, error_response(431, "headers_too_large", "request header fields too large"),
            opt.read_timeout);
      } else if (is_http_error(ec) && ec != http::error::end_of_stream &&
                 ec != http::error::partial_message) {
        spdlog::debug("http: malformed request from {}: {}", c->remote, ec.message());
        co_await fail_connection(c->stream,
                                 error_response(400, "bad_request", "malformed HTTP request"),
                                 opt.read_timeout);
      }
      // Otherwise: EOF between requests, timeout, reset or stop(); nothing to answer.
      break;
    }

    auto msg = parser.release();
    const unsigned version = msg.version();
    const bool is_head = msg.method() == http::verb::head;
    const bool client_keep_alive = msg.keep_alive();
    const HttpRequest req = to_request(std::move(msg), c->remote);

    c->busy = true;
    HttpResponse response = co_await call_handler(c->server->handler, req);
    const bool keep_alive = client_keep_alive && !c->stop_requested && !c->server->stopping.load();
    auto res = to_beast(std::move(response), version, keep_alive);
    c->stream.expires_after(opt.read_timeout);
    if (is_head) {
      http::response_serializer<http::string_body> serializer{res};
      std::tie(ec, n) = co_await http::async_write_header(c->stream, serializer, kAwait);
    } else {
      std::tie(ec, n) = co_await http::async_write(c->stream, res, kAwait);
    }
    c->busy = false;
    if (ec || !keep_alive) break;
  }
  beast::error_code ignored;
  c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  c->stream.close();
}

asio::awaitable<void> reject_overloaded(tcp::socket socket, std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(std::move(socket));
  auto response = error_response(503, "unavailable", "too many connections");
  response.headers.emplace_back("Retry-After", "1");
  co_await fail_connection(stream, std::move(response),
                           std::min<std::chrono::milliseconds>(timeout, 5s));
}

void ServerState::start_connection(tcp::socket socket) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mu);
    conn = std::make_shared<Connection>(shared_from_this(), std::move(socket), next_id++);
    connections.emplace(conn->id, conn);
  }
  active.fetch_add(1);
  beast::error_code ec;
  conn->remote = conn->stream.socket().remote_endpoint(ec).address().to_string();
  const auto id = conn->id;
  const auto conn_executor = conn->stream.get_executor();
  asio::co_spawn(conn_executor, session(std::move(conn)),
                 [self = shared_from_this(), id](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("http: connection failed: {}", ex.what());
                     } catch (...) {
                       spdlog::error("http: connection failed: unknown exception");
                     }
                   }
                   self->on_connection_end(id);
                 });
}

void ServerState::on_connection_end(std::uint64_t id) {
  {
    std::lock_guard lock(mu);
    connections.erase(id);
  }
  // The drain wait checks `active` and starts waiting in one step on the strand, so this
  // posted wake-up cannot be lost.
  if (active.fetch_sub(1) == 1 && stopping.load()) {
    asio::post(strand, [self = shared_from_this()] { self->timer.cancel(); });
  }
}

void ServerState::close_connections(bool force) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mu);
    for (const auto& [id, weak] : connections) {
      if (auto conn = weak.lock()) live.push_back(std::move(conn));
    }
  }
  for (auto& conn : live) {
    asio::post(conn->stream.get_executor(), [conn, force] { conn->request_stop(force); });
  }
}

void ServerState::request_stop() {
  if (stopping.exchange(true)) return;
  asio::post(strand, [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor.close(ec);
    self->timer.cancel();
    self->close_connections(false);
  });
}

asio::awaitable<void> ServerState::accept_loop() {
  if (!acceptor.is_open()) {
    spdlog::error("http: run() called without a successful listen()");
    co_return;
  }
  while (!stopping.load()) {
    // Each connection gets its own strand, so handlers never run concurrently on one
    // connection even when the io_context has several threads.
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::any_io_executor(asio::make_strand(executor)), kAwait);
    if (ec) {
      if (stopping.load() || !acceptor.is_open() || ec == asio::error::operation_aborted) break;
      // EMFILE and the like: pause instead of spinning on the error.
      spdlog::warn("http: accept failed: {}", ec.message());
      timer.expires_after(100ms);
      co_await timer.async_wait(kAwait);
      continue;
    }
    if (stopping.load()) {
      // Accepted just before stop() closed the acceptor: it would miss the stop request.
      beast::error_code ignored;
      socket.close(ignored);
      break;
    }
    if (active.load() >= options.max_connections) {
      spdlog::warn("http: {} connections open, refusing one", active.load());
      const auto ex = socket.get_executor();
      asio::co_spawn(ex, reject_overloaded(std::move(socket), options.read_timeout),
                     asio::detached);
      continue;
    }
    start_connection(std::move(socket));
  }
  co_await drain();
}

asio::awaitable<void> ServerState::drain() {
  const auto deadline = std::chrono::steady_clock::now() + options.shutdown_grace;
  while (active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_at(deadline);
    co_await timer.async_wait(kAwait);
  }
  if (const auto left = active.load(); left > 0) {
    spdlog::warn("http: closing {} connection(s) still busy after the shutdown grace period", left);
    close_connections(true);
  }
}

}  // namespace

struct HttpServer::Impl : ServerState {
  using ServerState::ServerState;
};

HttpServer::HttpServer(asio::any_io_executor executor, HttpServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

Result<std::uint16_t> HttpServer::listen() {
  const auto& opt = impl_->options;
  const std::string where = fmt::format("{}:{}", opt.host, opt.port);
  beast::error_code ec;
  const auto address = asio::ip::make_address(opt.host, ec);
  if (ec) return Error::invalid("http.host", fmt::format("'{}' is not an IP address", opt.host));
  const tcp::endpoint endpoint(address, opt.port);
  auto& acceptor = impl_->acceptor;
  if (acceptor.is_open()) return Error::internal("http server: listen() called twice");
  const auto fail = [&](const char* step) -> Result<std::uint16_t> {
    beast::error_code ignored;
    acceptor.close(ignored);
    return Error::unavailable(
        fmt::format("cannot listen on {}: {}: {}", where, step, ec.message()));
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  // Lets a restarted process bind while old connections sit in TIME_WAIT.
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("setsockopt");
  acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  const auto local = acceptor.local_endpoint(ec);
  if (ec) return fail("getsockname");
  spdlog::info("http: listening on {}:{}", opt.host, local.port());
  return local.port();
}

asio::awaitable<void> HttpServer::run() {
  auto impl = impl_;  // the loop must not outlive the state it uses
  co_await asio::co_spawn(impl->strand, impl->accept_loop(), asio::use_awaitable);
}

void HttpServer::stop() { impl_->request_stop(); }

std::size_t HttpServer::active_connections() const { return impl_->active.load(); }

}  // namespace coibridge::core
