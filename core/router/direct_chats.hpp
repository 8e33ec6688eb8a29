#pragma once
// DirectChats on the bridge store and the connector registry: the other side of a direct chat
// comes from the target connector, the link between the two is a bridge of its own.

#include "core/connector/connector.hpp"
#include "core/connector/registry.hpp"
#include "core/store/bridge_store.hpp"

namespace coibridge::core {

class DirectChatLinker final : public DirectChats {
 public:
  DirectChatLinker(BridgeStore& bridges, ConnectorRegistry& registry)
      : bridges_(bridges), registry_(registry) {}
  boost::asio::awaitable<Result<ConversationRef>> link(ConversationRef here, ActorRef requester,
                                                       std::string target_connector,
                                                       std::string target_person) override;

 private:
  BridgeStore& bridges_;
  ConnectorRegistry& registry_;
};

}  // namespace coibridge::core
