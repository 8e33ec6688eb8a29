#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

#include "core/config/config_internal.hpp"

namespace coibridge::core::config_internal {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_hostname_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '-' ||
         c == '_';
}

bool is_ipv6_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// Accepts "fe80::1" and a zone suffix such as "fe80::1%eth0"; the resolver does the real check.
bool is_ipv6_literal(std::string_view host) {
  const auto percent = host.find('%');
  const auto address = host.substr(0, percent);
  if (address.find(':') == std::string_view::npos) return false;
  for (char c : address) {
    if (!is_ipv6_char(c)) return false;
  }
  if (percent == std::string_view::npos) return true;
  const auto zone = host.substr(percent + 1);
  if (zone.empty()) return false;
  for (char c : zone) {
    if (!is_hostname_char(c)) return false;
  }
  return true;
}

std::optional<std::string> parse_port(std::string_view text, std::uint16_t& port) {
  std::int64_t value = 0;
  const bool digits_only = !text.empty() && text.size() <= 5 &&
                           text.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits_only || parse_integer(text, 0, 65535, value)) {
    return "port must be a number from 0 to 65535";
  }
  port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_integer(std::string_view text, std::int64_t min, std::int64_t max,
                                         std::int64_t& out) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  const bool whole = ptr == end && !text.empty();
  // from_chars consumes every digit before reporting overflow, so `whole` still tells a huge
  // number (a range problem) from text that is not a number at all (a type problem).
  if (!whole || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return "expected an integer";
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    return "must be between " + std::to_string(min) + " and " + std::to_string(max);
  }
  out = value;
  return std::nullopt;
}

std::optional<std::string> parse_listen(std::string_view text, std::string& host,
                                        std::uint16_t& port) {
  static constexpr std::string_view kShape =
      "expected host:port, e.g. 127.0.0.1:8480 or [::1]:8480";
  std::string_view host_part;
  std::string_view port_part;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::string(kShape);
    }
    host_part = text.substr(1, close - 1);
    port_part = text.substr(close + 2);
    if (!is_ipv6_literal(host_part)) return "host in brackets must be an IPv6 address";
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::string(kShape);
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
    if (host_part.find(':') != std::string_view::npos) {
      return "an IPv6 address must be in brackets, e.g. [::1]:8480";
    }
    if (host_part.empty()) return "host must not be empty; use 0.0.0.0 for all interfaces";
    for (char c : host_part) {
      if (!is_hostname_char(c)) return "host is not a valid hostname or IP address";
    }
  }
  std::uint16_t parsed_port = 0;
  if (auto error = parse_port(port_part, parsed_port)) return error;
  // The server binds an address and looks up no names, so a name would pass here and fail at
  // start-up: refuse it now.
  in_addr v4{};
  if (text.front() != '[' && ::inet_pton(AF_INET, std::string(host_part).c_str(), &v4) != 1) {
    return "host must be an IP address (no names are looked up), e.g. 127.0.0.1 or [::1]";
  }
  host = std::string(host_part);
  port = parsed_port;
  return std::nullopt;
}

std::optional<std::string> parse_one_of(std::string_view text,
                                        std::span<const std::string_view> words) {
  std::string choices;
  for (const auto word : words) {
    if (word == text) return std::nullopt;
    if (!choices.empty()) choices += ", ";
    choices += word;
  }
  return "expected one of: " + choices;
}

}  // namespace coibridge::core::config_internal
