#include "core/router/direct_chats.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace coibridge::core {

boost::asio::awaitable<Result<ConversationRef>> DirectChatLinker::link(ConversationRef here,
                                                                       ActorRef requester,
                                                                       std::string target_connector,
                                                                       std::string target_person) {
  Connector* target = registry_.find(target_connector);
  if (target == nullptr) co_return Error::not_found("no connector named " + target_connector);
  auto conversation = co_await target->open_direct_chat(target_person, requester);
  if (!conversation) co_return conversation.error();
  const ConversationRef there{target_connector, *conversation};

  // Bridge names are unique; the pair of conversations is too.
  const std::string actor = "direct-chat:" + here.connector;
  auto bridge =
      co_await bridges_.create_bridge("direct " + here.connector + ":" + here.remote_id + " <> " +
                                          there.connector + ":" + there.remote_id,
                                      actor);
  if (!bridge) co_return bridge.error();
  for (const ConversationRef* side : {&std::as_const(here), &there}) {
    auto added = co_await bridges_.add_link(bridge->id, side->connector, side->remote_id,
                                            nlohmann::json::object(), actor);
    if (!added) {
      // One side belongs to another bridge already: undo, so no half-linked bridge remains.
      (void)co_await bridges_.delete_bridge(bridge->id, actor);
      co_return added.error();
    }
  }
  spdlog::info("direct chat: {}:{} <> {}:{} (bridge {}, opened by {})", here.connector,
               here.remote_id, there.connector, there.remote_id, bridge->id, requester.remote_id);
  co_return there;
}

}  // namespace coibridge::core
