#pragma once
// Addresses and conversation ids on the mail side.
//
// Puppets: a person of another network appears as a plus-address of the bridge account,
// <local>+<connector>.<escaped id>@<domain> (RFC 5233 subaddressing, which Dovecot, Postfix
// and most providers support). The id is escaped so that any remote id survives the
// case-insensitive, character-restricted local part: [a-z0-9] stay, every other byte becomes
// "=" and two lower-case hex digits.
//
// Conversations: "dm:<address>" is the 1:1 chat between the bridge account and that address;
// "dm:<address>|<puppet address>" the 1:1 chat between that address and one puppet, that is
// with one person of another network (a puppet address never contains "|", so the last one
// separates); "group:<id>" a chat group by its Chat-Group-ID.

#include <optional>
#include <string>
#include <string_view>

namespace coibridge::connectors::coi {

std::string escape_puppet_id(std::string_view id);
std::optional<std::string> unescape_puppet_id(std::string_view escaped);

struct PuppetRef {
  std::string connector;
  std::string remote_id;
};

class AddressBook {
 public:
  explicit AddressBook(std::string bridge_address);  // must contain '@'

  const std::string& bridge_address() const { return bridge_; }
  std::string puppet_address(std::string_view connector, std::string_view remote_id) const;
  // The person a puppet address stands for; nullopt for any other address.
  std::optional<PuppetRef> parse_puppet(std::string_view address) const;
  // The bridge address itself or one of its puppets (case-insensitive).
  bool is_ours(std::string_view address) const;

 private:
  std::string bridge_;
  std::string local_;   // lower-case
  std::string domain_;  // lower-case
};

std::string lower_ascii(std::string_view text);

std::string dm_conversation(std::string_view peer_address, std::string_view puppet_address = {});
std::string group_conversation(std::string_view group_id);
// The peer of a "dm:" conversation or the id of a "group:" one.
std::optional<std::string> dm_peer(std::string_view conversation);
// The puppet of a "dm:<address>|<puppet>" conversation; nullopt for any other.
std::optional<std::string> dm_puppet(std::string_view conversation);
std::optional<std::string> group_id_of(std::string_view conversation);

}  // namespace coibridge::connectors::coi
