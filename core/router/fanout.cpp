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

}  // namespace coibridge::core
