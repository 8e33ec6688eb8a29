#include "connectors/coi/coi_addresses.hpp"

#include <cassert>

#include "core/text/ascii.hpp"
#include "core/text/hex.hpp"

namespace coibridge::connectors::coi {
namespace {

constexpr std::string_view kDm = "dm:";
constexpr std::string_view kGroup = "group:";

}  // namespace

std::string lower_ascii(std::string_view text) { return core::ascii::lower(text); }

std::string escape_puppet_id(std::string_view id) {
  std::string out;
  for (unsigned char c : id) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      core::append_hex(out, c);
    }
  }
  return out;
}

std::optional<std::string> unescape_puppet_id(std::string_view escaped) {
  std::string out;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c == '=') {
      if (i + 2 >= escaped.size()) return std::nullopt;
      const int hi = core::lower_hex_digit_value(escaped[i + 1]);
      const int lo = core::lower_hex_digit_value(escaped[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += c;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

AddressBook::AddressBook(std::string bridge_address) : bridge_(std::move(bridge_address)) {
  const auto at = bridge_.rfind('@');
  assert(at != std::string::npos);
  local_ = lower_ascii(std::string_view(bridge_).substr(0, at));
  domain_ = lower_ascii(std::string_view(bridge_).substr(at + 1));
}

std::string AddressBook::puppet_address(std::string_view connector,
                                        std::string_view remote_id) const {
  return local_ + "+" + escape_puppet_id(connector) + "." + escape_puppet_id(remote_id) + "@" +
         domain_;
}

std::optional<PuppetRef> AddressBook::parse_puppet(std::string_view address) const {
  const std::string addr = lower_ascii(address);
  const auto at = addr.rfind('@');
  if (at == std::string::npos || addr.substr(at + 1) != domain_) return std::nullopt;
  const std::string_view local = std::string_view(addr).substr(0, at);
  const std::string prefix = local_ + "+";
  if (local.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view tag = local.substr(prefix.size());
  const auto dot = tag.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto connector = unescape_puppet_id(tag.substr(0, dot));
  auto remote = unescape_puppet_id(tag.substr(dot + 1));
  if (!connector || !remote || connector->empty() || remote->empty()) return std::nullopt;
  return PuppetRef{std::move(*connector), std::move(*remote)};
}

bool AddressBook::is_ours(std::string_view address) const {
  return lower_ascii(address) == lower_ascii(bridge_) || parse_puppet(address).has_value();
}

std::string dm_conversation(std::string_view peer_address, std::string_view puppet_address) {
  std::string id = std::string(kDm) + lower_ascii(peer_address);
  if (!puppet_address.empty()) id += "|" + lower_ascii(puppet_address);
  return id;
}
std::string group_conversation(std::string_view group_id) {
  return std::string(kGroup) + std::string(group_id);
}

std::optional<std::string> dm_peer(std::string_view conversation) {
  if (conversation.substr(0, kDm.size()) != kDm) return std::nullopt;
  std::string_view rest = conversation.substr(kDm.size());
  if (const auto bar = rest.rfind('|'); bar != std::string_view::npos) rest = rest.substr(0, bar);
  if (rest.empty()) return std::nullopt;
  return std::string(rest);
}

std::optional<std::string> dm_puppet(std::string_view conversation) {
  if (conversation.substr(0, kDm.size()) != kDm) return std::nullopt;
  const auto bar = conversation.rfind('|');
  if (bar == std::string_view::npos || bar + 1 == conversation.size()) return std::nullopt;
  return std::string(conversation.substr(bar + 1));
}

std::optional<std::string> group_id_of(std::string_view conversation) {
  if (conversation.substr(0, kGroup.size()) != kGroup || conversation.size() == kGroup.size()) {
    return std::nullopt;
  }
  return std::string(conversation.substr(kGroup.size()));
}

}  // namespace coibridge::connectors::coi
