#pragma once
// Drains the outbox: one ordered queue per target conversation, one delivery in flight per
// queue, capped exponential backoff with jitter between failed attempts, and a dead letter
// after max_attempts or at once on a permanent error. A target that cannot be reached at all
// costs no attempt: its queue waits, with the same backoff, until it answers again. A queue's head
// blocks the queue, so a conversation never sees its messages out of order.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "core/connector/registry.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/backoff.hpp"
#include "core/store/event_store.hpp"

namespace coibridge::core {

struct DeliveryPolicy {
  int max_attempts = 10;
  BackoffPolicy backoff{std::chrono::milliseconds(500), std::chrono::milliseconds(300000)};
  // How often queues are looked for without a wake-up (rows written by other instances,
  // retries whose time came).
  std::chrono::milliseconds poll_interval{2000};
};

class DeliveryScheduler {
 public:
  // random: a source of uniform numbers in [0, 1) for backoff jitter (injectable for tests).
  DeliveryScheduler(boost::asio::any_io_executor executor, EventStore& store,
                    const ConnectorRegistry& registry, MetricsRegistry& metrics,
                    DeliveryPolicy policy, std::function<double()> random = {});

  // New outbox rows may exist. Thread-safe; cheap.
  void notify();
  // Runs until stop() and until every worker has finished its delivery in flight.
  boost::asio::awaitable<void> run();
  // No new deliveries start; those in flight complete and are recorded. Thread-safe.
  void stop();

 private:
  boost::asio::awaitable<void> worker(ConversationRef target);
  // Delivers one row; true when it left the queue (delivered or dead-lettered).
  boost::asio::awaitable<bool> deliver_one(const OutboxItem& item);
  boost::asio::awaitable<void> translate_refs(Event& event, const std::string& target_connector);
  // A posted reply: what it answers (Delivery::quoted), looked up in its own network's terms.
  boost::asio::awaitable<void> find_quoted(Delivery& delivery);
  boost::asio::awaitable<void> sleep(std::shared_ptr<boost::asio::steady_timer> timer,
                                     std::chrono::steady_clock::duration d);
  Counter& deliveries(const std::string& connector, const char* result);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  EventStore& store_;
  const ConnectorRegistry& registry_;
  MetricsRegistry& metrics_;
  DeliveryPolicy policy_;
  std::function<double()> random_;

  // Touched only on strand_.
  bool stopping_ = false;
  std::uint64_t generation_ = 0;  // bumped by every notify(), to close the lost-wake-up race
  boost::asio::steady_timer wake_;
  std::map<ConversationRef, std::shared_ptr<boost::asio::steady_timer>> workers_;
  // Failures in a row of a queue's head whose target was unreachable (Error::unreachable):
  // they pace the waiting, as attempts pace retries.
  std::map<ConversationRef, int> unreachable_streak_;
};

}  // namespace coibridge::core
