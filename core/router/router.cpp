#include "core/router/router.hpp"

#include <spdlog/spdlog.h>

#include "core/router/fanout.hpp"

namespace coibridge::core {

// Inbound excerpts kept with a rejected item: enough to diagnose, bounded in size.
constexpr std::size_t kMaxRejectedExcerpt = 64 * 1024;

Router::Router(EventStore& store, const ConnectorRegistry& registry, MetricsRegistry& metrics,
               std::function<void()> on_committed)
    : store_(store), registry_(registry), metrics_(metrics), on_committed_(std::move(on_committed)) {}

Counter& Router::published(const std::string& connector, PublishStatus status) {
  return metrics_.counter("coibridge_events_published_total",
                          "Inbound events by source connector and outcome",
                          {{"connector", connector}, {"status", to_string(status)}});
}

boost::asio::awaitable<Result<PublishOutcome>> Router::publish(Event event) {
  if (event.origin.remote_id.empty() || event.where.remote_id.empty()) {
    co_return Error::invalid("origin", "an event needs its conversation and origin id");
  }
  if (registry_.is_own_actor(event.who)) {
    published(event.where.connector, PublishStatus::kEcho).inc();
    co_return PublishOutcome{PublishStatus::kEcho, {}, 0};
  }
  if (event.id.empty()) event.id = new_event_id();
  if (event.at == Timestamp{}) event.at = std::chrono::system_clock::now();
  // The stored form keeps milliseconds; deliveries must see what was stored.
  event.at = std::chrono::floor<std::chrono::milliseconds>(event.at);

  auto outcome = co_await store_.publish(event, plan_fanout);
  if (!outcome) {
    spdlog::warn("publish from {} failed: {}", event.where.connector, outcome.error().message);
    co_return outcome;
  }
  published(event.where.connector, outcome->status).inc();
  if (outcome->status == PublishStatus::kAccepted && outcome->targets > 0 && on_committed_) {
    on_committed_();
  }
  co_return outcome;
}

boost::asio::awaitable<Status> Router::reject(std::string connector, std::string reason,
                                              std::string raw) {
  if (raw.size() > kMaxRejectedExcerpt) raw.resize(kMaxRejectedExcerpt);
  spdlog::warn("rejected inbound item from {}: {}", connector, reason);
  metrics_.counter("coibridge_inbound_rejected_total", "Inbound items that could not be mapped",
                   {{"connector", connector}})
      .inc();
  co_return co_await store_.dead_letter_inbound(std::move(connector), std::move(reason), std::move(raw));
}

}  // namespace coibridge::core
