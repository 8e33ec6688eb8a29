#include "core/admin/routes.hpp"

namespace coibridge::core {
namespace {

// Splits off the next '/'-separated segment. Paths start with '/', so the first call skips it.
std::string_view next_segment(std::string_view& rest) {
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  const auto slash = rest.find('/');
  const std::string_view segment = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  return segment;
}

bool is_placeholder(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::optional<std::string_view> PathParams::get(std::string_view name) const {
  for (const auto& [key, value] : values) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

bool match_path(std::string_view pattern, std::string_view path, PathParams& params) {
  params.values.clear();
  if (path.empty() || path.front() != '/') return false;
  while (!pattern.empty() || !path.empty()) {
    // One side ran out of segments before the other: "/a" never matches "/a/" or "/a/b".
    if (pattern.empty() || path.empty()) return false;
    const std::string_view want = next_segment(pattern);
    const std::string_view got = next_segment(path);
    if (is_placeholder(want)) {
      if (got.empty()) return false;
      params.values.emplace_back(std::string(want.substr(1, want.size() - 2)), std::string(got));
    } else if (want != got) {
      return false;
    }
  }
  return true;
}

std::string fill_pattern(std::string_view pattern,
                         const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  while (!pattern.empty()) {
    const std::string_view segment = next_segment(pattern);
    out += '/';
    if (is_placeholder(segment)) {
      const std::string_view name = segment.substr(1, segment.size() - 2);
      for (const auto& [key, value] : values) {
        if (key == name) {
          out += value;
          break;
        }
      }
    } else {
      out += segment;
    }
  }
  return out;
}

}  // namespace coibridge::core
