#pragma once
// The set of connector instances of this process, by name. Filled by main before start;
// read-only afterwards, so lookups need no lock.

#include <map>
#include <string>
#include <vector>

#include "core/connector/connector.hpp"

namespace coibridge::core {

class ConnectorRegistry {
 public:
  Status add(ConnectorPtr connector);
  Connector* find(std::string_view name) const;
  std::vector<ConnectorPtr> all() const;
  bool is_own_actor(const ActorRef& actor) const;
  // The connector with the strongest claim on an HTTP request (Connector::claims_http), or
  // null when none claims it.
  ConnectorPtr http_handler(const HttpRequest& request) const;
  // The largest body a connector that claims `path` takes (Connector::http_body_limit); 0
  // when none claims it or none says.
  std::size_t http_body_limit(std::string_view path) const;

 private:
  std::map<std::string, ConnectorPtr, std::less<>> by_name_;
};

}  // namespace coibridge::core
