#include "connectors/coi/group_state.hpp"

#include <algorithm>

namespace coibridge::connectors::coi {
namespace {

constexpr std::string_view kAdhoc = "adhoc:";
constexpr std::size_t kMaxMembers = 1000;  // a mail can name many; a group state stays bounded

void add_member(GroupState& state, std::string_view address) {
  if (address.empty() || address.find('@') == std::string_view::npos) return;
  auto lower = lower_ascii(address);
  if (std::find(state.members.begin(), state.members.end(), lower) != state.members.end()) return;
  if (state.members.size() < kMaxMembers) state.members.push_back(std::move(lower));
}

void remove_member(GroupState& state, std::string_view address) {
  const auto lower = lower_ascii(address);
  state.members.erase(std::remove(state.members.begin(), state.members.end(), lower),
                      state.members.end());
}

}  // namespace

nlohmann::json to_json(const GroupState& state) {
  return {{"name", state.name},
          {"members", state.members},
          {"root", state.root},
          {"last_message_id", state.last_message_id}};
}

GroupState group_state_from_json(const nlohmann::json& json) {
  GroupState s;
  if (!json.is_object()) return s;
  const auto text = [&](const char* key) -> std::string {
    auto it = json.find(key);
    return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  s.name = text("name");
  s.root = text("root");
  s.last_message_id = text("last_message_id");
  if (auto it = json.find("members"); it != json.end() && it->is_array()) {
    for (const auto& m : *it) {
      if (m.is_string()) add_member(s, m.get<std::string>());
    }
  }
  return s;
}

std::string adhoc_conversation(std::string_view root_message_id) {
  return std::string(kAdhoc) + std::string(root_message_id);
}

std::optional<std::string> adhoc_root_of(std::string_view conversation) {
  if (!conversation.starts_with(kAdhoc) || conversation.size() == kAdhoc.size())
    return std::nullopt;
  return std::string(conversation.substr(kAdhoc.size()));
}

bool is_group_conversation(std::string_view conversation) {
  return group_id_of(conversation).has_value() || adhoc_root_of(conversation).has_value();
}

std::optional<std::string> group_conversation_of(const mime::ParsedMail& mail) {
  if (mail.group_id && !mail.group_id->empty()) return group_conversation(*mail.group_id);
  // Delta Chat's unencrypted groups: Chat-Group-Name, no id; References begins with the
  // group's first message (which references itself).
  if (mail.is_chat && mail.group_name && !mail.group_name->empty()) {
    const std::string& root = mail.references.empty() ? mail.message_id : mail.references.front();
    if (!root.empty()) return adhoc_conversation(root);
  }
  return std::nullopt;
}

std::vector<std::string> observe_group_mail(GroupState& state, const mime::ParsedMail& mail) {
  const bool known = !state.members.empty();
  const std::size_t before = state.members.size();
  add_member(state, mail.from.address);
  for (const auto* list : {&mail.to, &mail.cc}) {
    for (const auto& box : *list) add_member(state, box.address);
  }
  std::vector<std::string> added;
  if (known) {
    for (std::size_t i = before; i < state.members.size(); ++i) {
      if (!mail.member_added || state.members[i] != lower_ascii(mail.member_added->address))
        added.push_back(state.members[i]);
    }
  }
  if (mail.member_added) add_member(state, mail.member_added->address);
  if (mail.member_removed) remove_member(state, mail.member_removed->address);
  if (mail.group_name && !mail.group_name->empty()) state.name = *mail.group_name;
  if (!mail.message_id.empty()) state.last_message_id = mail.message_id;
  return added;
}

void merge_group_state(GroupState& into, const GroupState& from) {
  for (const auto& member : from.members) add_member(into, member);
  if (into.name.empty()) into.name = from.name;
  if (into.root.empty()) into.root = from.root;
  if (into.last_message_id.empty()) into.last_message_id = from.last_message_id;
}

}  // namespace coibridge::connectors::coi
