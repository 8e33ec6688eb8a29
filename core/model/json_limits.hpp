#pragma once
// Parsing JSON that came from outside the process. RFC 8259 §9 lets a parser limit the depth
// of nesting; without a limit a few kilobytes of brackets become a structure that the
// recursive serialiser and visitors walk until the stack runs out.

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/model/result.hpp"

namespace coibridge::core {

// Far beyond what any peer or operator sends, far below what a thread's stack can walk.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as one JSON value nested at most `max_depth` arrays/objects deep. Errors are
// kInvalidArgument; for input nested too deep, `field` names the top-level member it was in
// (empty when the top level is not an object) and `code` is "too_deep".
Result<nlohmann::json> parse_json_limited(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace coibridge::core
