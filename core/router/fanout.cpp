#include "core/router/fanout.hpp"

namespace coibridge::core {

LinkDirection link_direction(const Link& link) {
  auto it = link.options.find("direction");
  if (it == link.options.end() || !it->is_string()) return LinkDirection::kBoth;
  const auto& d = it->get_ref<const std::string&>();
  if (d == "inbound") return LinkDirection::kInbound;
  if (d == "outbound") return LinkDirection::kOutbound;
  return LinkDirection::kBoth;
}

std::vector<ConversationRef> plan_fanout(const Event& event, const std::vector<Link>& links) {
  std::vector<ConversationRef> out;
  const Link* source = nullptr;
  for (const auto& l : links) {
    if (l.connector == event.where.connector && l.remote_id == event.where.remote_id) source = &l;
  }
  if (source == nullptr || link_direction(*source) == LinkDirection::kOutbound) return out;
  for (const auto& l : links) {
    if (&l == source || link_direction(l) == LinkDirection::kInbound) continue;
    out.push_back({l.connector, l.remote_id});
  }
  return out;
}

std::optional<Capability> capability_needed(const Payload& payload) {
  return std::visit(
      [](const auto& p) -> std::optional<Capability> {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, MessageDeleted>) return Capability::kDelete;
        if constexpr (std::is_same_v<T, ReactionChanged>) return Capability::kReaction;
        if constexpr (std::is_same_v<T, ReadUpTo>) return Capability::kReadReceipt;
        if constexpr (std::is_same_v<T, Typing>) return Capability::kTyping;
        if constexpr (std::is_same_v<T, MemberJoined> || std::is_same_v<T, MemberLeft>)
          return Capability::kMembership;
        if constexpr (std::is_same_v<T, ConversationRenamed>) return Capability::kRename;
        return std::nullopt;
      },
      payload);
}

std::vector<ConversationRef> plan_capable_fanout(
    const Event& event, const std::vector<Link>& links,
    const std::function<std::optional<Capabilities>(std::string_view connector)>& capabilities_of) {
  auto out = plan_fanout(event, links);
  const auto needed = capability_needed(event.payload);
  if (!needed) return out;
  std::erase_if(out, [&](const ConversationRef& target) {
    const auto caps = capabilities_of(target.connector);
    return caps && !caps->has(*needed);
  });
  return out;
}

Event adapt_to_capabilities(Event event, Capabilities target) {
  if (auto* edit = std::get_if<MessageEdited>(&event.payload);
      edit != nullptr && !target.has(Capability::kEdit)) {
    MessagePosted correction;
    correction.body = std::move(edit->body);
    correction.body.text = "* " + correction.body.text;
    if (correction.body.html) correction.body.html = "* " + *correction.body.html;
    correction.body.reply_to = edit->target;
    event.payload = std::move(correction);
  }
  if (!target.has(Capability::kReply)) {
    if (auto* posted = std::get_if<MessagePosted>(&event.payload)) posted->body.reply_to.reset();
  }
  return event;
}

}  // namespace coibridge::core
