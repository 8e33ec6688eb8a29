#include "core/router/router.hpp"

#include <spdlog/spdlog.h>

#include "core/model/sanitize.hpp"
#include "core/router/fanout.hpp"

namespace coibridge::core {

// Inbound excerpts kept with a rejected item: enough to diagnose, bounded in size.
constexpr std::size_t kMaxRejectedExcerpt = 64 * 1024;

Router::Router(EventStore& store, const ConnectorRegistry& registry, MetricsRegistry& metrics,
               std::function<void()> on_committed)
    : store_(store),
      registry_(registry),
      metrics_(metrics),
      on_committed_(std::move(on_committed)) {}

Counter& Router::published(const std::string& connector, PublishStatus status) {
  return metrics_.counter("coibridge_events_published_total",
                          "Inbound events by source connector and outcome",
                          {{"connector", connector}, {"status", to_string(status)}});
}

Status Router::prepare(Event& event) const {
  if (remove_nul(event)) {
    spdlog::debug("event from {}: NUL characters removed", event.where.connector);
  }
  if (event.origin.remote_id.empty() || event.where.remote_id.empty()) {
    return Error::invalid("origin", "an event needs its conversation and origin id");
  }
  if (event.id.empty()) event.id = new_event_id();
  // The store keys events by UUID: another id would fail the transaction on every retry.
  if (!is_uuid(event.id.value)) {
    return Error::invalid("id", "event id \"" + event.id.value.substr(0, 64) + "\" is not a UUID");
  }
  if (event.at == Timestamp{}) event.at = std::chrono::system_clock::now();
  // The stored form keeps milliseconds; deliveries must see what was stored.
  event.at = std::chrono::floor<std::chrono::milliseconds>(event.at);
  return Status{};
}

boost::asio::awaitable<Result<PublishOutcome>> Router::publish(Event event) {
  const BatchEvent one{std::move(event), false};
  const std::span<const BatchEvent> batch(&one, 1);  // named: g++ 12 and co_await
  auto outcomes = co_await publish_batch(batch);
  if (!outcomes) co_return outcomes.error();
  co_return std::move(outcomes->front());
}

boost::asio::awaitable<Result<std::vector<Result<PublishOutcome>>>> Router::publish_batch(
    std::span<const BatchEvent> events) {
  std::vector<Result<PublishOutcome>> outcomes(events.size(), PublishOutcome{});
  // What goes to the store, and where each of its outcomes belongs in `outcomes`.
  std::vector<BatchEvent> stored;
  std::vector<std::size_t> slot;
  for (std::size_t i = 0; i < events.size(); ++i) {
    BatchEvent item = events[i];
    if (auto st = prepare(item.event); !st) {
      outcomes[i] = st.error();
    } else if (registry_.is_own_actor(item.event.who)) {
      published(item.event.where.connector, PublishStatus::kEcho).inc();
      outcomes[i] = PublishOutcome{PublishStatus::kEcho, {}, 0};
    } else {
      slot.push_back(i);
      stored.push_back(std::move(item));
    }
  }
  if (stored.empty()) co_return outcomes;
  const FanoutPlanner planner = fanout_planner();
  Result<std::vector<Result<PublishOutcome>>> written = Error::internal("not stored");
  if (auto all = co_await store_.publish_batch(stored, planner); all) {
    written = std::vector<Result<PublishOutcome>>(all->begin(), all->end());
  } else if (all.error().kind == ErrorKind::kUnavailable) {
    written = all.error();
  } else if (stored.size() == 1) {
    written = std::vector<Result<PublishOutcome>>{all.error()};
  } else {
    // A failure that is not transient comes back on every retry: the batch is committed one
    // event at a time so that only the event causing it fails, and its publisher can park it
    // as a dead letter instead of holding back everything after it.
    written = co_await publish_one_by_one(stored, planner);
  }
  if (!written) {
    spdlog::warn("publish from {} failed: {}", stored.front().event.where.connector,
                 written.error().message);
    co_return written.error();
  }
  bool wake = false;
  for (std::size_t k = 0; k < written->size(); ++k) {
    const auto& outcome = (*written)[k];
    outcomes[slot[k]] = outcome;
    if (!outcome) continue;
    published(stored[k].event.where.connector, outcome->status).inc();
    wake = wake || (outcome->status == PublishStatus::kAccepted && outcome->targets > 0);
  }
  // The store stopped early: what it did not reach is not part of the answer.
  if (!written->empty() && written->size() < stored.size()) {
    outcomes.erase(outcomes.begin() + static_cast<std::ptrdiff_t>(slot[written->size() - 1] + 1),
                   outcomes.end());
  }
  if (wake && on_committed_) on_committed_();
  co_return outcomes;
}

FanoutPlanner Router::fanout_planner() const {
  // Runs inside the store's transaction, on a database thread: the registry is read-only once
  // connectors run.
  return [this](const Event& event, const std::vector<Link>& links) {
    return plan_capable_fanout(event, links,
                               [this](std::string_view name) -> std::optional<Capabilities> {
                                 const auto* connector = registry_.find(name);
                                 if (connector == nullptr) return std::nullopt;
                                 return connector->capabilities();
                               });
  };
}

boost::asio::awaitable<Result<int>> Router::backfill(std::int64_t bridge_id, int messages) {
  const FanoutPlanner planner = fanout_planner();
  auto queued = co_await store_.backfill(bridge_id, messages, planner);
  if (queued && *queued > 0 && on_committed_) on_committed_();
  co_return queued;
}

boost::asio::awaitable<Result<std::vector<Result<PublishOutcome>>>> Router::publish_one_by_one(
    const std::vector<BatchEvent>& stored, const FanoutPlanner& planner) {
  std::vector<Result<PublishOutcome>> written;
  for (const auto& item : stored) {
    const std::vector<BatchEvent> one{item};
    auto outcome = co_await store_.publish_batch(one, planner);
    if (!outcome && outcome.error().kind == ErrorKind::kUnavailable) {
      // What was committed is the answer; the rest is published again later.
      if (written.empty()) co_return outcome.error();
      break;
    }
    if (!outcome) {
      spdlog::warn("event from {} not stored: {}", item.event.where.connector,
                   outcome.error().message);
      written.emplace_back(outcome.error());
      continue;
    }
    if (outcome->empty()) break;
    written.emplace_back(outcome->front());
    if (item.stop_if_unlinked && outcome->front().status == PublishStatus::kUnlinked) break;
  }
  co_return written;
}

boost::asio::awaitable<Status> Router::reject(std::string connector, std::string reason,
                                              std::string raw) {
  if (raw.size() > kMaxRejectedExcerpt) raw.resize(kMaxRejectedExcerpt);
  spdlog::warn("rejected inbound item from {}: {}", connector, reason);
  metrics_
      .counter("coibridge_inbound_rejected_total", "Inbound items that could not be mapped",
               {{"connector", connector}})
      .inc();
  co_return co_await store_.dead_letter_inbound(std::move(connector), std::move(reason),
                                                std::move(raw));
}

}  // namespace coibridge::core
