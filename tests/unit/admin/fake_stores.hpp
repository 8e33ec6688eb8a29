#pragma once
// In-memory BridgeStore and EventStore for admin API tests, with error injection.

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/store/bridge_store.hpp"
#include "core/store/event_store.hpp"

namespace coibridge::core::fakes {

inline Timestamp fixed_time() {
  return Timestamp{} + std::chrono::seconds(1700000000) + std::chrono::milliseconds(123);
}

class FakeBridgeStore : public BridgeStore {
 public:
  // The next store call fails with this error (or throws, when throw_next is set).
  std::optional<Error> fail_next;
  bool throw_next = false;
  std::string last_actor;
  int last_limit = 0;
  int calls = 0;

  boost::asio::awaitable<Result<Bridge>> create_bridge(std::string name,
                                                       std::string actor) override {
    if (auto e = injected()) co_return *e;
    for (const auto& [id, b] : bridges_) {
      if (b.name == name) co_return Error::conflict("a bridge named '" + name + "' exists");
    }
    last_actor = std::move(actor);
    Bridge b{next_bridge_++, std::move(name), fixed_time(), fixed_time()};
    bridges_[b.id] = b;
    co_return b;
  }

  boost::asio::awaitable<Result<BridgePage>> list_bridges(std::int64_t after, int limit) override {
    if (auto e = injected()) co_return *e;
    last_limit = limit;
    BridgePage page;
    for (auto it = bridges_.upper_bound(after); it != bridges_.end(); ++it) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_after = page.items.back().id;
        break;
      }
      page.items.push_back(it->second);
    }
    co_return page;
  }

  boost::asio::awaitable<Result<Bridge>> get_bridge(std::int64_t id) override {
    if (auto e = injected()) co_return *e;
    auto it = bridges_.find(id);
    if (it == bridges_.end()) co_return Error::not_found("no bridge " + std::to_string(id));
    co_return it->second;
  }

  boost::asio::awaitable<Result<Bridge>> rename_bridge(std::int64_t id, std::string name,
                                                       std::string actor) override {
    if (auto e = injected()) co_return *e;
    auto it = bridges_.find(id);
    if (it == bridges_.end()) co_return Error::not_found("no bridge " + std::to_string(id));
    last_actor = std::move(actor);
    it->second.name = std::move(name);
    co_return it->second;
  }

  boost::asio::awaitable<Status> delete_bridge(std::int64_t id, std::string actor) override {
    if (auto e = injected()) co_return *e;
    if (bridges_.erase(id) == 0) co_return Error::not_found("no bridge " + std::to_string(id));
    std::erase_if(links_, [id](const Link& l) { return l.bridge_id == id; });
    last_actor = std::move(actor);
    co_return Status{};
  }

  boost::asio::awaitable<Result<Link>> add_link(std::int64_t bridge_id, std::string connector,
                                                std::string remote_id, nlohmann::json options,
                                                std::string actor) override {
    if (auto e = injected()) co_return *e;
    if (!bridges_.contains(bridge_id)) co_return Error::not_found("no bridge");
    for (const auto& l : links_) {
      if (l.connector == connector && l.remote_id == remote_id) co_return Error::conflict("linked");
    }
    last_actor = std::move(actor);
    Link link{next_link_++,         bridge_id,          std::move(connector),
              std::move(remote_id), std::move(options), fixed_time()};
    links_.push_back(link);
    co_return link;
  }

  boost::asio::awaitable<Result<std::vector<Link>>> list_links(std::int64_t bridge_id) override {
    if (auto e = injected()) co_return *e;
    if (!bridges_.contains(bridge_id)) co_return Error::not_found("no bridge");
    std::vector<Link> out;
    for (const auto& l : links_) {
      if (l.bridge_id == bridge_id) out.push_back(l);
    }
    co_return out;
  }

  boost::asio::awaitable<Result<std::optional<std::int64_t>>> bridge_of(
      std::string connector, std::string remote_id) override {
    if (auto e = injected()) co_return *e;
    for (const auto& l : links_) {
      if (l.connector == connector && l.remote_id == remote_id)
        co_return std::optional<std::int64_t>(l.bridge_id);
    }
    co_return std::optional<std::int64_t>{};
  }

  boost::asio::awaitable<Status> remove_link(std::int64_t bridge_id, std::int64_t link_id,
                                             std::string actor) override {
    if (auto e = injected()) co_return *e;
    const auto removed = std::erase_if(
        links_, [&](const Link& l) { return l.id == link_id && l.bridge_id == bridge_id; });
    if (removed == 0) co_return Error::not_found("no link");
    last_actor = std::move(actor);
    co_return Status{};
  }

  // The directory list_conversations filters; the last filter it was given.
  std::vector<ConversationSummary> conversations;
  ConversationFilter last_filter;
  boost::asio::awaitable<Result<ConversationPage>> list_conversations(
      ConversationFilter filter) override {
    if (auto e = injected()) co_return *e;
    last_filter = filter;
    ConversationPage page;
    for (const auto& c : conversations) {
      if (c.id <= filter.after) continue;
      if (!filter.connector.empty() && c.connector != filter.connector) continue;
      if (filter.linked && c.bridge_id.has_value() != *filter.linked) continue;
      if (filter.with_unlinked_events && c.unlinked_events == 0) continue;
      if (static_cast<int>(page.items.size()) == filter.limit) {
        page.next_after = page.items.back().id;
        break;
      }
      page.items.push_back(c);
    }
    co_return page;
  }

  std::size_t bridge_count() const { return bridges_.size(); }
  std::size_t link_count() const { return links_.size(); }

 private:
  std::optional<Error> injected() {
    ++calls;
    if (throw_next) {
      throw_next = false;
      throw std::runtime_error("store exploded");
    }
    auto e = std::move(fail_next);
    fail_next.reset();
    return e;
  }

  std::map<std::int64_t, Bridge> bridges_;
  std::vector<Link> links_;
  std::int64_t next_bridge_ = 1;
  std::int64_t next_link_ = 1;
};

class FakeEventStore : public EventStore {
 public:
  Result<std::int64_t> depth = std::int64_t{0};
  std::vector<DeadLetter> letters;
  std::vector<std::pair<std::int64_t, std::string>> replayed;  // (id, actor)
  std::optional<Error> fail_next;
  std::int64_t last_after = -1;
  int last_limit = 0;

  boost::asio::awaitable<Result<std::vector<PublishOutcome>>> publish_batch(
      const std::vector<BatchEvent>&, const FanoutPlanner&) override {
    co_return unused();
  }
  boost::asio::awaitable<Result<std::vector<QueueHead>>> queue_heads() override {
    co_return unused();
  }
  boost::asio::awaitable<Result<std::vector<OutboxItem>>> queue_of(ConversationRef, int) override {
    co_return unused();
  }
  boost::asio::awaitable<Status> mark_delivered(std::int64_t, EventId, ConversationRef,
                                                RemoteMessageRef) override {
    co_return unused();
  }
  boost::asio::awaitable<Status> mark_failed(std::int64_t, std::string, Timestamp) override {
    co_return unused();
  }
  boost::asio::awaitable<Status> mark_waiting(std::int64_t, std::string, Timestamp) override {
    co_return unused();
  }
  boost::asio::awaitable<Status> dead_letter(std::int64_t, std::string) override {
    co_return unused();
  }
  boost::asio::awaitable<Status> dead_letter_inbound(std::string, std::string,
                                                     std::string) override {
    co_return unused();
  }
  boost::asio::awaitable<Result<std::optional<Event>>> event_of(RemoteMessageRef) override {
    co_return unused();
  }
  boost::asio::awaitable<Result<int>> backfill(std::int64_t, int, const FanoutPlanner&) override {
    co_return unused();
  }
  boost::asio::awaitable<Result<std::optional<Event>>> event_by_origin(RemoteMessageRef) override {
    co_return std::optional<Event>{};
  }
  boost::asio::awaitable<Result<std::optional<std::string>>> reaction_delivered(
      ConversationRef, std::string, RemoteMessageRef, std::string) override {
    co_return std::optional<std::string>{};
  }
  boost::asio::awaitable<Result<std::optional<ConversationRef>>> conversation_of(
      RemoteMessageRef) override {
    co_return std::optional<ConversationRef>{};
  }
  boost::asio::awaitable<Result<std::map<std::string, std::string>>> conversations_of(
      std::string, std::vector<std::string>) override {
    co_return std::map<std::string, std::string>{};
  }
  boost::asio::awaitable<Result<std::int64_t>> prune_unlinked(std::chrono::seconds) override {
    co_return std::int64_t{0};
  }
  boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> newest_of(
      std::vector<RemoteMessageRef>) override {
    co_return std::optional<RemoteMessageRef>{};
  }
  boost::asio::awaitable<Result<std::optional<RemoteMessageRef>>> translate(RemoteMessageRef,
                                                                            std::string) override {
    co_return unused();
  }

  boost::asio::awaitable<Status> replay_dead_letter(std::int64_t id, std::string actor) override {
    for (auto it = letters.begin(); it != letters.end(); ++it) {
      if (it->id == id) {
        if (it->reason == "inbound") co_return Error::conflict("inbound item");
        replayed.push_back({id, actor});
        letters.erase(it);
        co_return Status{};
      }
    }
    co_return Error::not_found("no dead letter");
  }
  std::vector<std::pair<std::int64_t, std::string>> discarded;  // id, actor
  boost::asio::awaitable<Status> discard_dead_letter(std::int64_t id, std::string actor) override {
    for (auto it = letters.begin(); it != letters.end(); ++it) {
      if (it->id == id) {
        discarded.push_back({id, actor});
        letters.erase(it);
        co_return Status{};
      }
    }
    co_return Error::not_found("no dead letter");
  }

  boost::asio::awaitable<Result<std::int64_t>> outbox_depth() override { co_return depth; }

  boost::asio::awaitable<Result<std::vector<DeadLetter>>> dead_letters(std::int64_t after,
                                                                       int limit) override {
    if (fail_next) {
      auto e = std::move(*fail_next);
      fail_next.reset();
      co_return e;
    }
    last_after = after;
    last_limit = limit;
    std::vector<DeadLetter> out;
    for (const auto& d : letters) {
      if (d.id > after && static_cast<int>(out.size()) < limit) out.push_back(d);
    }
    co_return out;
  }

 private:
  static Error unused() { return Error::internal("not used by the admin API"); }
};

}  // namespace coibridge::core::fakes
