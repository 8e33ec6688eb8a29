#include "core/admin/validation.hpp"

#include <algorithm>
#include <charconv>

#include "core/model/json_limits.hpp"

namespace coibridge::core {
namespace {

bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Code points in a UTF-8 string (nlohmann's parser has already rejected ill-formed UTF-8):
// every byte that is not a continuation byte starts one.
std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

Result<std::int64_t> parse_decimal(std::string_view text, const std::string& field) {
  std::int64_t value = 0;
  const bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!digits_only) return Error::invalid(field, "must be a non-negative integer");
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Error::invalid(field, "is out of range");
  }
  return value;
}

}  // namespace

Result<std::int64_t> parse_id(std::optional<std::string_view> text, const std::string& field) {
  return parse_decimal(text.value_or(std::string_view{}), field);
}

Result<std::int64_t> parse_after(const HttpRequest& request) {
  const auto it = request.query.find("after");
  if (it == request.query.end()) return std::int64_t{0};
  return parse_decimal(it->second, "after");
}

Result<int> parse_limit(const HttpRequest& request) {
  const auto it = request.query.find("limit");
  if (it == request.query.end()) return kDefaultPageLimit;
  auto value = parse_decimal(it->second, "limit");
  const std::string message = "must be an integer from 1 to " + std::to_string(kMaxPageLimit);
  if (!value) return Error::invalid("limit", message);
  if (*value < 1 || *value > kMaxPageLimit) return Error::invalid("limit", message);
  return static_cast<int>(*value);
}

Result<nlohmann::json> parse_json_object(std::string_view body) {
  auto json = parse_json_limited(body);
  if (!json) return json.error();
  if (!json->is_object()) return Error::invalid("", "request body must be a JSON object");
  return json;
}

Result<std::string> string_field(const nlohmann::json& body, const std::string& field) {
  const auto it = body.find(field);
  if (it == body.end()) return Error::invalid(field, "is required");
  if (!it->is_string()) return Error::invalid(field, "must be a string");
  return it->get<std::string>();
}

Status check_name(const std::string& name) {
  const std::size_t length = utf8_length(name);
  if (length < 1 || length > kMaxNameChars) {
    return Error::invalid("name", "must be 1 to " + std::to_string(kMaxNameChars) + " characters");
  }
  // Names show up in logs and UIs; control characters there only ever do harm.
  if (std::any_of(name.begin(), name.end(), is_control)) {
    return Error::invalid("name", "must not contain control characters");
  }
  return {};
}

Status check_connector(const std::string& connector) {
  const bool ok =
      !connector.empty() && connector.size() <= kMaxConnectorBytes &&
      std::all_of(connector.begin(), connector.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
      });
  if (!ok) return Error::invalid("connector", "must match [a-z0-9_.-]{1,64}");
  return {};
}

Status check_link_options(const nlohmann::json& options) {
  const auto it = options.find("direction");
  if (it == options.end()) return {};
  if (!it->is_string() || (*it != "both" && *it != "inbound" && *it != "outbound")) {
    return Error::invalid("options.direction", "must be \"both\", \"inbound\" or \"outbound\"");
  }
  return {};
}

Status check_remote_id(const std::string& remote_id) {
  if (remote_id.empty() || remote_id.size() > kMaxRemoteIdBytes) {
    return Error::invalid("remote_id",
                          "must be 1 to " + std::to_string(kMaxRemoteIdBytes) + " bytes");
  }
  if (std::any_of(remote_id.begin(), remote_id.end(), is_control)) {
    return Error::invalid("remote_id", "must not contain control characters");
  }
  return {};
}

}  // namespace coibridge::core
