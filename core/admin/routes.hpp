#pragma once
// Route patterns of the admin API and matching of request paths against them.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coibridge::core {

// What a route requires of the caller's token. Write implies read.
enum class Scope { kNone, kRead, kWrite };

struct RouteInfo {
  std::string method;   // "GET", "POST", ...
  std::string pattern;  // "/api/v1/bridges/{id}/links/{link_id}": {name} matches one segment
  Scope scope = Scope::kNone;
};

// Values captured by {name} segments, in pattern order.
struct PathParams {
  std::vector<std::pair<std::string, std::string>> values;
  std::optional<std::string_view> get(std::string_view name) const;
};

// Whether path matches pattern segment by segment; a {name} segment matches any non-empty
// segment. On success the captures are stored in params (which is cleared first).
bool match_path(std::string_view pattern, std::string_view path, PathParams& params);

// The path with every {name} replaced by the given value (tests build requests from the
// route table with it).
std::string fill_pattern(std::string_view pattern,
                         const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace coibridge::core
