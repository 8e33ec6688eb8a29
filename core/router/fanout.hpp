#pragma once
// Which conversations of a bridge receive an event. Pure, so it can run inside the publish
// transaction and be tested without a database.

#include <functional>
#include <optional>
#include <string_view>
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

// What a target must be able to show for this payload to be worth a delivery: typing into mail
// or a deletion into a network without deletions is not queued at all. nullopt: every target
// takes it (a message; an edit, which a network without edits shows as a new message).
std::optional<Capability> capability_needed(const Payload& payload);

// plan_fanout, less the targets whose connector (as `capabilities_of` knows it) cannot show
// the payload. A connector `capabilities_of` does not know keeps its target: it may run later.
std::vector<ConversationRef> plan_capable_fanout(
    const Event& event, const std::vector<Link>& links,
    const std::function<std::optional<Capabilities>(std::string_view connector)>& capabilities_of);

// The event as a target with these capabilities can show it, decided here once for every
// network: an edit where there are no edits becomes a new message marked as a correction
// ("* " before the text, the fallback convention of Matrix edits, m.replace) that replies to
// the corrected message where the target has replies; a reply where there are no replies
// loses its reference. Anything else is returned as it is.
Event adapt_to_capabilities(Event event, Capabilities target);

}  // namespace coibridge::core
