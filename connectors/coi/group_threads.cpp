#include "connectors/coi/group_threads.hpp"

#include <algorithm>

#include "connectors/coi/coi_addresses.hpp"
#include "core/text/fnv1a.hpp"

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
  // The name and the members, each ended by a separator no address or name has.
  std::string text(name);
  text += '\x1f';
  for (const auto& m : members) {
    text += m;
    text += '\x1f';
  }
  return "adhoc:" + core::hex64(core::fnv1a64(text));
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
