#include "connectors/matrix/matrix_ids.hpp"

#include "core/text/hex.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::matrix {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// user_id_char of the v1.8 grammar.
bool is_compliant_localpart_char(char c) {
  return is_digit(c) || is_lower(c) || c == '-' || c == '.' || c == '=' || c == '_' || c == '/' ||
         c == '+';
}

// What "Mapping from other character sets" keeps as it is: the allowed set minus the two
// characters it uses for escaping, and minus '+' (added to the grammar only in v1.8, so
// older homeservers would refuse it).
bool stays_literal(unsigned char c) {
  return is_digit(static_cast<char>(c)) || is_lower(static_cast<char>(c)) || c == '-' || c == '.' ||
         c == '/';
}

bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// dns-name covers IPv4address too: the grammar's IPv4 form uses only dns-chars.
bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    if (!is_digit(c) && !is_lower(c) && !is_upper(c) && c != '-' && c != '.') return false;
  }
  return true;
}

bool is_ipv6_literal(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  for (char c : s) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  return true;
}

// The checks every sigilled id shares: sigil, length, well-formed UTF-8 without NUL.
bool has_id_shape(std::string_view id, char sigil) {
  if (id.size() < 2 || id.size() > kMaxIdBytes || id[0] != sigil) return false;
  if (id.find('\0') != std::string_view::npos) return false;
  return core::is_valid_utf8(id);
}

// "&localpart:domain" with a valid domain; the localpart is what comes before the first ':'.
std::optional<std::string_view> localpart_before_server(std::string_view id) {
  const auto colon = id.find(':');
  if (colon == std::string_view::npos || !is_valid_server_name(id.substr(colon + 1))) {
    return std::nullopt;
  }
  return id.substr(1, colon - 1);
}

std::optional<std::string_view> prefixed_local_name(std::string_view id, char sigil,
                                                    const GhostNaming& naming) {
  const auto parts = split_id(id);
  if (!parts || id[0] != sigil || parts->server_name != naming.server_name) return std::nullopt;
  const std::string_view local = id.substr(1, parts->localpart.size());
  if (naming.prefix.empty() || !local.starts_with(naming.prefix)) return std::nullopt;
  return local.substr(naming.prefix.size());
}

// <sigil><prefix><escaped>:<server>, within the length limit.
core::Result<std::string> prefixed_escaped(char sigil, std::string_view escaped,
                                           const GhostNaming& naming, const char* field) {
  std::string id(1, sigil);
  id += naming.prefix;
  id += escaped;
  id += ':';
  id += naming.server_name;
  if (id.size() > kMaxIdBytes) {
    return core::Error::invalid(field, "is too long for a Matrix id of at most 255 bytes");
  }
  return id;
}

core::Result<std::string> prefixed_id(char sigil, std::string_view name, const GhostNaming& naming,
                                      const char* field) {
  if (name.empty()) return core::Error::invalid(field, "is empty");
  return prefixed_escaped(sigil, escape_localpart(name), naming, field);
}

}  // namespace

bool is_valid_server_name(std::string_view name) {
  std::string_view host = name;
  std::string_view port;
  bool has_port = false;
  if (!name.empty() && name[0] == '[') {
    const auto close = name.find(']');
    if (close == std::string_view::npos || !is_ipv6_literal(name.substr(1, close - 1)))
      return false;
    host = name.substr(0, close + 1);
    const std::string_view rest = name.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = name.find(':');
    if (colon != std::string_view::npos) {
      host = name.substr(0, colon);
      port = name.substr(colon + 1);
      has_port = true;
    }
    if (!is_dns_name(host)) return false;
  }
  return !has_port || is_port(port);
}

bool is_valid_user_id(std::string_view id) {
  return has_id_shape(id, '@') && localpart_before_server(id).has_value();
}

bool is_compliant_user_id(std::string_view id) {
  if (!is_valid_user_id(id)) return false;
  const std::string_view local = *localpart_before_server(id);
  if (local.empty()) return false;
  for (char c : local) {
    if (!is_compliant_localpart_char(c)) return false;
  }
  return true;
}

bool is_valid_room_id(std::string_view id) {
  if (!has_id_shape(id, '!')) return false;
  // Room version 12 (MSC4291): the id is "!" and the create event's hash, with no server
  // name. Older versions have "!opaque:server".
  if (id.find(':') == std::string_view::npos) return id.size() > 1;
  const auto local = localpart_before_server(id);
  return local && !local->empty();
}

bool is_valid_room_alias(std::string_view alias) {
  if (!has_id_shape(alias, '#')) return false;
  const auto local = localpart_before_server(alias);
  return local && !local->empty();
}

bool is_valid_event_id(std::string_view id) {
  if (!has_id_shape(id, '$')) return false;
  if (id.find(':') == std::string_view::npos) return true;  // room version 3 and later
  const auto local = localpart_before_server(id);
  return local && !local->empty();
}

bool is_valid_mxc_uri(std::string_view uri) {
  constexpr std::string_view kScheme = "mxc://";
  if (!uri.starts_with(kScheme) || uri.size() > 2048) return false;
  const std::string_view rest = uri.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || !is_valid_server_name(rest.substr(0, slash))) return false;
  const std::string_view media = rest.substr(slash + 1);
  if (media.empty()) return false;
  for (char c : media) {
    if (!is_digit(c) && !is_lower(c) && !is_upper(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<IdParts> split_id(std::string_view id) {
  if (id.empty()) return std::nullopt;
  bool valid = false;
  switch (id[0]) {
    case '@':
      valid = is_valid_user_id(id);
      break;
    case '!':
      valid = is_valid_room_id(id);
      break;
    case '#':
      valid = is_valid_room_alias(id);
      break;
    case '$':
      valid = is_valid_event_id(id);
      break;
    default:
      break;
  }
  const auto colon = id.find(':');
  if (!valid || colon == std::string_view::npos) return std::nullopt;
  return IdParts{std::string(id.substr(1, colon - 1)), std::string(id.substr(colon + 1))};
}

std::string escape_localpart(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (stays_literal(c)) {
      out += static_cast<char>(c);
    } else if (c == '_') {
      out += "__";
    } else if (is_upper(static_cast<char>(c))) {
      out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += '=';
      core::append_hex(out, c);
    }
  }
  return out;
}

std::optional<std::string> unescape_localpart(std::string_view escaped) {
  std::string out;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (stays_literal(static_cast<unsigned char>(c))) {
      out += c;
    } else if (c == '_') {
      if (i + 1 >= escaped.size()) return std::nullopt;
      const char next = escaped[++i];
      if (next == '_') {
        out += '_';
      } else if (is_lower(next)) {
        out += static_cast<char>(next - 'a' + 'A');
      } else {
        return std::nullopt;
      }
    } else if (c == '=') {
      if (i + 2 >= escaped.size()) return std::nullopt;
      const int hi = core::lower_hex_digit_value(escaped[i + 1]);
      const int lo = core::lower_hex_digit_value(escaped[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const auto byte = static_cast<unsigned char>(hi * 16 + lo);
      // A byte that escape_localpart writes another way is not a canonical escape.
      if (stays_literal(byte) || byte == '_' || is_upper(static_cast<char>(byte)))
        return std::nullopt;
      out += static_cast<char>(byte);
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  if (!core::is_valid_utf8(out)) return std::nullopt;
  return out;
}

core::Status check_ghost_naming(const GhostNaming& naming) {
  if (!is_valid_server_name(naming.server_name)) {
    return core::Error::invalid("server_name",
                                "'" + naming.server_name + "' is not a Matrix server name");
  }
  if (naming.prefix.empty()) return core::Error::invalid("ghost_prefix", "is empty");
  for (char c : naming.prefix) {
    if (!is_compliant_localpart_char(c)) {
      return core::Error::invalid("ghost_prefix", "may contain only a-z 0-9 . _ = - / +");
    }
  }
  return {};
}

namespace {

// Never written by escape_localpart, which puts only '_' or a-z after a '_'.
constexpr std::string_view kPartSeparator = "_-";

// Where "_-" starts in escaped text, reading it escape by escape; npos when it has none.
std::size_t part_separator(std::string_view escaped) {
  std::size_t i = 0;
  while (i < escaped.size()) {
    if (escaped[i] == '_') {
      if (i + 1 < escaped.size() && escaped[i + 1] == '-') return i;
      i += 2;
    } else if (escaped[i] == '=') {
      i += 3;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

core::Result<std::string> ghost_user_id(std::string_view connector, std::string_view remote_id,
                                        const GhostNaming& naming) {
  if (connector == naming.short_form_connector) {
    return prefixed_id('@', remote_id, naming, "remote_id");
  }
  if (remote_id.empty()) return core::Error::invalid("remote_id", "is empty");
  if (connector.empty()) return core::Error::invalid("connector", "is empty");
  return prefixed_escaped(
      '@', escape_localpart(connector) + std::string(kPartSeparator) + escape_localpart(remote_id),
      naming, "remote_id");
}

std::optional<GhostPerson> person_of_ghost(std::string_view user_id, const GhostNaming& naming) {
  const auto escaped = prefixed_local_name(user_id, '@', naming);
  if (!escaped || escaped->empty()) return std::nullopt;
  const std::size_t separator = part_separator(*escaped);
  if (separator == std::string_view::npos) {
    if (naming.short_form_connector.empty()) return std::nullopt;
    auto remote_id = unescape_localpart(*escaped);
    if (!remote_id) return std::nullopt;
    return GhostPerson{naming.short_form_connector, std::move(*remote_id)};
  }
  auto connector = unescape_localpart(std::string_view(*escaped).substr(0, separator));
  auto remote_id =
      unescape_localpart(std::string_view(*escaped).substr(separator + kPartSeparator.size()));
  if (!connector || connector->empty() || !remote_id || remote_id->empty()) return std::nullopt;
  return GhostPerson{std::move(*connector), std::move(*remote_id)};
}

bool in_ghost_namespace(std::string_view user_id, const GhostNaming& naming) {
  return prefixed_local_name(user_id, '@', naming).has_value();
}

core::Result<std::string> portal_alias(std::string_view group_id, const GhostNaming& naming) {
  return prefixed_id('#', group_id, naming, "group_id");
}

std::optional<std::string> group_id_of_portal_alias(std::string_view alias,
                                                    const GhostNaming& naming) {
  const auto escaped = prefixed_local_name(alias, '#', naming);
  if (!escaped || escaped->empty()) return std::nullopt;
  return unescape_localpart(*escaped);
}

}  // namespace coibridge::connectors::matrix
