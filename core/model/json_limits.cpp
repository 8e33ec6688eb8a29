#include "core/model/json_limits.hpp"

#include <string>

namespace coibridge::core {
namespace {

// Thrown from the parser callback: it ends parsing at once, before the deeper levels exist.
struct TooDeep {};

}  // namespace

Result<nlohmann::json> parse_json_limited(std::string_view text, int max_depth) {
  using nlohmann::json;
  std::string top_member;
  // `depth` counts the containers around the event: the outermost one starts at depth 0.
  const json::parser_callback_t limit = [&](int depth, json::parse_event_t event,
                                            json& parsed) -> bool {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      top_member = parsed.get<std::string>();
    } else if ((event == json::parse_event_t::object_start ||
                event == json::parse_event_t::array_start) &&
               depth >= max_depth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    auto value = json::parse(text.begin(), text.end(), limit, /*allow_exceptions=*/false);
    if (value.is_discarded()) return Error::invalid("", "not valid JSON (RFC 8259)");
    return value;
  } catch (const TooDeep&) {
    return Error::invalid(top_member,
                          "JSON nested deeper than " + std::to_string(max_depth) + " levels")
        .with_code("too_deep");
  }
}

}  // namespace coibridge::core
