#pragma once
// PortalLinks on the bridge store and the connector registry, and the notices a connector
// gets when one of its conversations is linked or unlinked (Connector::linked / unlinked),
// from PortalLinks and from the REST API alike.

#include <boost/asio/any_io_executor.hpp>
#include <functional>

#include "core/connector/connector.hpp"
#include "core/connector/registry.hpp"
#include "core/store/bridge_store.hpp"

namespace coibridge::core {

class PortalLinker final : public PortalLinks {
 public:
  using Backfill =
      std::function<boost::asio::awaitable<Result<int>>(std::int64_t bridge_id, int messages)>;
  // `executor` runs the notices announce_* starts without waiting for them; `backfill` queues
  // history (Router::backfill; unset: none offered).
  PortalLinker(BridgeStore& bridges, ConnectorRegistry& registry,
               boost::asio::any_io_executor executor, Backfill backfill = {})
      : bridges_(bridges),
        registry_(registry),
        executor_(std::move(executor)),
        backfill_(std::move(backfill)) {}

  boost::asio::awaitable<Result<std::int64_t>> link(ConversationRef a, ConversationRef b,
                                                    std::string actor) override;
  boost::asio::awaitable<Result<std::vector<ConversationRef>>> unlink(ConversationRef conversation,
                                                                      std::string actor) override;
  boost::asio::awaitable<Result<int>> backfill(std::int64_t bridge_id, int messages) override;

  // For the REST API: tells the link's connector in the background, so a slow or failing
  // network never delays or fails the request that changed the link (failures are logged).
  void announce_linked(const Link& link);
  void announce_unlinked(const Link& link);

  // The name of a bridge PortalLinks makes for a and b: at most 200 bytes (the schema's
  // limit), cut at a UTF-8 character boundary.
  static std::string bridge_name(const ConversationRef& a, const ConversationRef& b);

 private:
  boost::asio::awaitable<void> tell(Link link, bool linked);

  BridgeStore& bridges_;
  ConnectorRegistry& registry_;
  boost::asio::any_io_executor executor_;
  Backfill backfill_;
};

}  // namespace coibridge::core
