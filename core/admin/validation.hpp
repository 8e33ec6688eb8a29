#pragma once
// Checks of admin API input: path ids, paging parameters, request bodies. Every failure is an
// Error::invalid naming the offending field, for a 400 invalid_field response.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/result.hpp"
#include "core/net/http_types.hpp"

namespace coibridge::core {

inline constexpr int kDefaultPageLimit = 50;
inline constexpr int kMaxPageLimit = 200;
inline constexpr std::size_t kMaxNameChars = 200;
inline constexpr std::size_t kMaxConnectorBytes = 64;
inline constexpr std::size_t kMaxRemoteIdBytes = 1024;

// A decimal id from a path segment: digits only, fitting in int64.
Result<std::int64_t> parse_id(std::optional<std::string_view> text, const std::string& field);
// Query parameter `after`: a non-negative id, 0 when absent.
Result<std::int64_t> parse_after(const HttpRequest& request);
// Query parameter `limit`: 1..kMaxPageLimit, kDefaultPageLimit when absent.
Result<int> parse_limit(const HttpRequest& request);

// The body as a JSON object. Errors: kInvalidArgument with code "too_deep" and the field that
// holds the deep value when it is nested beyond kMaxJsonDepth; with no code when it is not
// JSON or not an object.
Result<nlohmann::json> parse_json_object(std::string_view body);
// body[field] as a string; an error when absent or of another type.
// A link's options: `direction` is "both", "inbound" or "outbound" when given
// (core/router/fanout.hpp); a misspelt one would silently mean "both".
Status check_link_options(const nlohmann::json& options);
Result<std::string> string_field(const nlohmann::json& body, const std::string& field);

Status check_name(const std::string& name);            // 1..200 characters, no control characters
Status check_connector(const std::string& connector);  // [a-z0-9_.-]{1,64}
Status check_remote_id(const std::string& remote_id);  // 1..1024 bytes, no control characters

}  // namespace coibridge::core
