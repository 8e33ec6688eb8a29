#include "core/connector/registry.hpp"

#include <algorithm>

namespace coibridge::core {

Status ConnectorRegistry::add(ConnectorPtr connector) {
  std::string name(connector->name());
  if (name.empty()) return Error::invalid("connectors", "a connector instance has an empty name");
  if (by_name_.count(name) != 0) {
    return Error::invalid("connectors", "two connector instances are named '" + name + "'");
  }
  by_name_.emplace(std::move(name), std::move(connector));
  return {};
}

Connector* ConnectorRegistry::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.get();
}

std::vector<ConnectorPtr> ConnectorRegistry::all() const {
  std::vector<ConnectorPtr> out;
  for (const auto& [_, c] : by_name_) out.push_back(c);
  return out;
}

bool ConnectorRegistry::is_own_actor(const ActorRef& actor) const {
  for (const auto& [_, c] : by_name_) {
    if (c->is_own_actor(actor)) return true;
  }
  return false;
}

ConnectorPtr ConnectorRegistry::http_handler(const HttpRequest& request) const {
  ConnectorPtr best;
  HttpClaim best_claim = HttpClaim::kNone;
  for (const auto& [_, c] : by_name_) {
    const HttpClaim claim = c->claims_http(request);
    if (claim > best_claim) {
      best = c;
      best_claim = claim;
    }
  }
  return best;
}

std::size_t ConnectorRegistry::http_body_limit(std::string_view path) const {
  // Decided from the path alone: the body limit applies before the request's credentials
  // are looked at, so the largest limit among the instances serving the path counts.
  HttpRequest head;
  head.path = std::string(path);
  std::size_t limit = 0;
  for (const auto& [_, c] : by_name_) {
    if (c->claims_http(head) != HttpClaim::kNone) limit = std::max(limit, c->http_body_limit());
  }
  return limit;
}

}  // namespace coibridge::core
