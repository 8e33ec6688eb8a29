#pragma once
// The REST admin API: health and readiness probes, Prometheus metrics, and management of
// bridges, links and dead letters under /api/v1, and the directory of conversations seen. Plugged
// into HttpServer as its handler.

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/admin/auth.hpp"
#include "core/admin/routes.hpp"
#include "core/config/config.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/http_types.hpp"
#include "core/store/bridge_store.hpp"
#include "core/store/event_store.hpp"

namespace coibridge::core {

struct AdminDeps {
  BridgeStore& bridges;
  EventStore& events;
  MetricsRegistry& metrics;
  std::vector<AdminToken> tokens;
  // True when the database is reachable and migrations are applied. Unset counts as ready.
  std::function<boost::asio::awaitable<bool>()> ready;
  // Called after a dead letter was put back in the outbox (wakes the delivery scheduler).
  std::function<void()> on_replayed;
  // Called after a link was added or removed (also for each link of a deleted bridge), so the
  // conversation's connector can tell its network. Must not block; the request's answer does
  // not depend on it.
  std::function<void(const Link&)> on_linked;
  std::function<void(const Link&)> on_unlinked;
  // Whether this process has a connector of that name: a link to any other is refused (400).
  // Unset: every name is taken.
  std::function<bool(std::string_view)> connector_known;
  // Queues a bridge's history kept while unlinked (Router::backfill): a link request's
  // "backfill". Unset: such a request is refused (400).
  std::function<boost::asio::awaitable<Result<int>>(std::int64_t bridge_id, int messages)> backfill;
};

class AdminApi {
 public:
  explicit AdminApi(AdminDeps deps);

  // The HttpServer handler. Never throws: failures become JSON error responses. Every call is
  // counted in coibridge_http_requests_total{route, method, status}. Safe to call
  // concurrently; the stores and the registry it uses must outlive it.
  boost::asio::awaitable<HttpResponse> handle(const HttpRequest& request);

  // The route table handle() dispatches from, in matching order.
  static const std::vector<RouteInfo>& routes();

 private:
  struct Call;
  using Endpoint = boost::asio::awaitable<HttpResponse> (AdminApi::*)(const Call&);
  struct Route {
    RouteInfo info;
    Endpoint endpoint;
  };
  static const std::vector<Route>& table();

  boost::asio::awaitable<HttpResponse> dispatch(const HttpRequest& request, std::string& label);

  boost::asio::awaitable<HttpResponse> health(const Call& call);
  boost::asio::awaitable<HttpResponse> ready(const Call& call);
  boost::asio::awaitable<HttpResponse> metrics(const Call& call);
  boost::asio::awaitable<HttpResponse> list_bridges(const Call& call);
  boost::asio::awaitable<HttpResponse> create_bridge(const Call& call);
  boost::asio::awaitable<HttpResponse> get_bridge(const Call& call);
  boost::asio::awaitable<HttpResponse> rename_bridge(const Call& call);
  boost::asio::awaitable<HttpResponse> delete_bridge(const Call& call);
  boost::asio::awaitable<HttpResponse> list_links(const Call& call);
  boost::asio::awaitable<HttpResponse> add_link(const Call& call);
  boost::asio::awaitable<HttpResponse> remove_link(const Call& call);
  boost::asio::awaitable<HttpResponse> list_conversations(const Call& call);
  // Conversations whose events crossed nowhere because nothing links them: "why did my
  // message not cross?"
  boost::asio::awaitable<HttpResponse> list_unlinked(const Call& call);
  boost::asio::awaitable<HttpResponse> discard_dead_letter(const Call& call);
  boost::asio::awaitable<HttpResponse> list_dead_letters(const Call& call);
  boost::asio::awaitable<HttpResponse> replay_dead_letter(const Call& call);

  AdminDeps deps_;
  TokenAuthenticator auth_;
};

}  // namespace coibridge::core
