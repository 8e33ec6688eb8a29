#include "core/router/delivery_scheduler.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "core/router/fanout.hpp"

namespace coibridge::core {
namespace {

using boost::asio::awaitable;
using boost::asio::use_awaitable;
constexpr auto kTuple = boost::asio::as_tuple(use_awaitable);

// After a database error the worker waits this long before it looks at its queue again.
constexpr std::chrono::seconds kStoreRetry{1};
// Outbox rows a worker reads at once.
constexpr int kQueueRead = 16;

std::function<double()> default_random() {
  auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
}

}  // namespace

DeliveryScheduler::DeliveryScheduler(boost::asio::any_io_executor executor, EventStore& store,
                                     const ConnectorRegistry& registry, MetricsRegistry& metrics,
                                     DeliveryPolicy policy, std::function<double()> random)
    : strand_(boost::asio::make_strand(executor)),
      store_(store),
      registry_(registry),
      metrics_(metrics),
      policy_(policy),
      random_(random ? std::move(random) : default_random()),
      wake_(strand_) {}

Counter& DeliveryScheduler::deliveries(const std::string& connector, const char* result) {
  return metrics_.counter("coibridge_deliveries_total",
                          "Delivery attempts by target connector and result",
                          {{"connector", connector}, {"result", result}});
}

void DeliveryScheduler::notify() {
  boost::asio::post(strand_, [this] {
    ++generation_;
    wake_.cancel();
  });
}

void DeliveryScheduler::stop() {
  boost::asio::post(strand_, [this] {
    stopping_ = true;
    wake_.cancel();
    for (auto& [_, timer] : workers_) timer->cancel();
  });
}

awaitable<void> DeliveryScheduler::sleep(std::shared_ptr<boost::asio::steady_timer> timer,
                                         std::chrono::steady_clock::duration d) {
  timer->expires_after(d);
  co_await timer->async_wait(kTuple);  // cancelled by stop(): just return
}

awaitable<void> DeliveryScheduler::run() {
  co_await boost::asio::post(strand_, use_awaitable);  // everything below runs on the strand
  while (!stopping_) {
    const auto gen = generation_;
    auto heads = co_await store_.queue_heads();
    if (heads) {
      for (const auto& head : *heads) {
        if (stopping_ || workers_.count(head.target) != 0) continue;
        workers_[head.target] = std::make_shared<boost::asio::steady_timer>(strand_);
        boost::asio::co_spawn(strand_, worker(head.target), boost::asio::detached);
      }
    }
    if (stopping_) break;
    if (gen != generation_) continue;  // woken while querying: look again at once
    wake_.expires_after(heads ? policy_.poll_interval : std::chrono::milliseconds(kStoreRetry));
    co_await wake_.async_wait(kTuple);
  }
  // Graceful stop: wait for the deliveries in flight.
  boost::asio::steady_timer idle(strand_);
  while (!workers_.empty()) {
    idle.expires_after(std::chrono::milliseconds(20));
    co_await idle.async_wait(kTuple);
  }
}

awaitable<void> DeliveryScheduler::worker(ConversationRef target) {
  auto timer = workers_.at(target);
  while (!stopping_) {
    const auto gen = generation_;
    // The queue is read a few rows at a time: this worker is the only one taking from it,
    // and a backlog then costs one read per kQueueRead deliveries instead of one each.
    auto queue = co_await store_.queue_of(target, kQueueRead);
    if (!queue) {
      co_await sleep(timer, kStoreRetry);
      continue;
    }
    if (queue->empty()) {
      if (gen == generation_) break;  // queue empty and nothing published meanwhile
      continue;
    }
    for (const OutboxItem& item : *queue) {
      if (stopping_) break;
      const auto now = std::chrono::system_clock::now();
      if (item.next_attempt_at > now) {
        co_await sleep(timer, item.next_attempt_at - now);
        break;  // read the queue again: it may have changed meanwhile
      }
      // A retry scheduled or an outcome not recorded: the row is still the head.
      if (!(co_await deliver_one(item))) break;
    }
  }
  workers_.erase(target);
  unreachable_streak_.erase(target);
}

awaitable<void> DeliveryScheduler::translate_refs(Event& event,
                                                  const std::string& target_connector) {
  auto translate = [&](RemoteMessageRef& ref) -> awaitable<void> {
    if (ref.connector == target_connector) co_return;
    auto mapped = co_await store_.translate(ref, target_connector);
    if (mapped && *mapped) ref = **mapped;
  };
  if (auto* p = std::get_if<MessagePosted>(&event.payload)) {
    if (p->body.reply_to) co_await translate(*p->body.reply_to);
  } else if (auto* e = std::get_if<MessageEdited>(&event.payload)) {
    co_await translate(e->target);
    if (e->body.reply_to) co_await translate(*e->body.reply_to);
  } else if (auto* d = std::get_if<MessageDeleted>(&event.payload)) {
    co_await translate(d->target);
  } else if (auto* r = std::get_if<ReactionChanged>(&event.payload)) {
    co_await translate(r->target);
  } else if (auto* u = std::get_if<ReadUpTo>(&event.payload)) {
    co_await translate(u->target);
  }
}

awaitable<void> DeliveryScheduler::find_quoted(Delivery& delivery) {
  const auto* posted = std::get_if<MessagePosted>(&delivery.event.payload);
  if (posted == nullptr || !posted->body.reply_to) co_return;
  // A courtesy: when the answered message cannot be looked up, the reply goes without it.
  auto found = co_await store_.event_of(*posted->body.reply_to);
  if (!found || !*found) co_return;
  const auto* answered = std::get_if<MessagePosted>(&(*found)->payload);
  if (answered == nullptr) co_return;
  std::string text = answered->body.text;
  if (text.empty() && !answered->body.attachments.empty()) {
    text = answered->body.attachments.front().filename;
  }
  delivery.quoted = QuotedMessage{(*found)->who, std::move(text)};
}

awaitable<bool> DeliveryScheduler::deliver_one(const OutboxItem& item) {
  const auto& target = item.target;
  Delivery delivery{item.event.id, target, item.event, item.attempts + 1, std::nullopt};
  co_await find_quoted(delivery);
  co_await translate_refs(delivery.event, target.connector);

  Result<RemoteMessageRef> result =
      Error::unavailable("no connector named '" + target.connector + "' runs in this instance");
  if (Connector* connector = registry_.find(target.connector)) {
    delivery.event = adapt_to_capabilities(std::move(delivery.event), connector->capabilities());
    try {
      result = co_await connector->deliver(delivery);
    } catch (const std::exception& e) {
      // A connector bug must not kill the queue; treat it as a failed attempt.
      result = Error::unavailable(std::string("connector threw: ") + e.what());
    }
  }

  Status recorded;
  bool left_queue = true;
  const bool unreachable =
      !result && result.error().kind == ErrorKind::kUnavailable && result.error().unreachable;
  if (!unreachable) unreachable_streak_.erase(target);
  if (unreachable) {
    // The other side is down, not this item at fault: wait, with backoff over the outage,
    // and count no attempt, so that no outage however long parks a message.
    const int streak = ++unreachable_streak_[target];
    const auto delay = backoff_delay(policy_.backoff, streak, random_());
    if (streak == 1 || streak % 10 == 0) {
      spdlog::info("delivery to {}:{} waits for its peer ({} tries so far), next in {} ms: {}",
                   target.connector, target.remote_id, streak, delay.count(),
                   result.error().message);
    }
    recorded = co_await store_.mark_waiting(item.id, result.error().message,
                                            std::chrono::system_clock::now() + delay);
    deliveries(target.connector, "unreachable").inc();
    left_queue = false;
  } else if (result) {
    recorded = co_await store_.mark_delivered(item.id, item.event.id, target, *result);
    deliveries(target.connector, "ok").inc();
  } else if (result.error().kind == ErrorKind::kUnavailable &&
             delivery.attempt < policy_.max_attempts) {
    const auto delay = backoff_delay(policy_.backoff, delivery.attempt, random_());
    spdlog::info("delivery of {} to {}:{} failed (attempt {}), retrying in {} ms: {}",
                 item.event.id.value, target.connector, target.remote_id, delivery.attempt,
                 delay.count(), result.error().message);
    recorded = co_await store_.mark_failed(item.id, result.error().message,
                                           std::chrono::system_clock::now() + delay);
    left_queue = false;
    deliveries(target.connector, "failed").inc();
  } else {
    const std::string reason = result.error().message + " (after " +
                               std::to_string(delivery.attempt) +
                               (delivery.attempt == 1 ? " attempt)" : " attempts)");
    spdlog::warn("delivery of {} to {}:{} dead-lettered: {}", item.event.id.value, target.connector,
                 target.remote_id, reason);
    recorded = co_await store_.dead_letter(item.id, reason);
    deliveries(target.connector, "dead").inc();
  }
  if (!recorded) {
    // The outcome is not recorded; the row stays at the head and is retried, which is safe
    // because deliveries are idempotent on the event id.
    spdlog::warn("recording a delivery outcome failed: {}", recorded.error().message);
    auto timer = workers_.at(target);
    co_await sleep(timer, kStoreRetry);
    left_queue = false;
  }
  co_return left_queue;
}

}  // namespace coibridge::core
