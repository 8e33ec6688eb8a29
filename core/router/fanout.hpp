#pragma once
// Which conversations of a bridge receive an event. Pure, so it can run inside the publish
// transaction and be tested without a database.

#include <vector>

#include "core/model/event.hpp"
#include "core/store/bridge_store.hpp"

namespace coibridge::core {

// A link's `direction` option: "both" (default), "inbound" (the conversation feeds the
// bridge but receives nothing) or "outbound" (it receives but its own events are not relayed).
enum class LinkDirection { kBoth, kInbound, kOutbound };
LinkDirection link_direction(const Link& link);

// Every other link of the bridge that may receive, in link order. Nothing when the source
// conversation is outbound-only or not among the links.
std::vector<ConversationRef> plan_fanout(const Event& event, const std::vector<Link>& links);

}  // namespace coibridge::core
