#include "connectors/coi/group_threads.hpp"

#include <algorithm>
#include <cstdio>

#include "connectors/coi/coi_addresses.hpp"

namespace coibridge::connectors::coi {

std::vector<std::string> named_messages(const mime::ParsedMail& mail) {
  std::vector<std::string> out;
  const auto add = [&](const std::string& id) {
    if (id.empty() || id == mail.message_id) return;
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  };
  for (const auto& id : mail.in_reply_to) add(id);
  for (auto it = mail.references.rbegin(); it != mail.references.rend(); ++it) add(*it);
  return out;
}

std::set<std::string> addressed_members(const mime::ParsedMail& mail) {
  std::set<std::string> out;
  const auto add = [&](const std::string& address) {
    if (address.find('@') != std::string::npos) out.insert(lower_ascii(address));
  };
  add(mail.from.address);
  for (const auto* list : {&mail.to, &mail.cc}) {
    for (const auto& box : *list) add(box.address);
  }
  return out;
}

std::string group_match_key(std::string_view name, const std::set<std::string>& members) {
  // FNV-1a, 64 bits, over the name and the members with separators no address or name has.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto mix = [&](std::string_view text) {
    for (unsigned char c : text) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
    h ^= 0x1f;
    h *= 0x100000001b3ULL;
  };
  mix(name);
  for (const auto& m : members) mix(m);
  char out[24];
  std::snprintf(out, sizeof out, "adhoc:%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string group_match_key(const GroupState& state) {
  return group_match_key(state.name,
                         std::set<std::string>(state.members.begin(), state.members.end()));
}

bool same_group(const GroupState& state, const mime::ParsedMail& mail) {
  if (!mail.group_name || *mail.group_name != state.name) return false;
  return addressed_members(mail) ==
         std::set<std::string>(state.members.begin(), state.members.end());
}

std::string fallback_conversation(const mime::ParsedMail& mail) {
  if (!mail.references.empty() && !mail.references.front().empty())
    return adhoc_conversation(mail.references.front());
  const auto named = named_messages(mail);
  return adhoc_conversation(named.empty() ? mail.message_id : named.back());
}

}  // namespace coibridge::connectors::coi
