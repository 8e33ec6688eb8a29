#pragma once
// What the bridge knows of a mail group. Mail has no server-side groups: every group mail
// names the members in its From, To and Cc, and Delta Chat's unencrypted ("ad-hoc") groups
// have no group id at all, only a name and a thread (References starts with the first
// message of the group). So the connector remembers, per group conversation, the members
// and name it last saw and the thread to answer in.
//
// Conversations: "group:<Chat-Group-ID>" and "adhoc:<Message-ID of the group's first
// message>".

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/coi/coi_addresses.hpp"
#include "connectors/coi/mime/chat_mail.hpp"

namespace coibridge::connectors::coi {

struct GroupState {
  std::string name;
  std::vector<std::string> members;  // lower-cased addresses, ours included, in first-seen order
  std::string root;                  // the thread root Message-ID (ad-hoc groups)
  std::string last_message_id;       // the newest group mail seen, to answer to
  bool operator==(const GroupState&) const = default;
};

nlohmann::json to_json(const GroupState& state);
// Tolerant: missing or mistyped fields are left empty (the state is our own, but a database
// edited by hand must not crash the connector).
GroupState group_state_from_json(const nlohmann::json& json);

std::string adhoc_conversation(std::string_view root_message_id);
std::optional<std::string> adhoc_root_of(std::string_view conversation);
bool is_group_conversation(std::string_view conversation);

// The conversation of a group mail: its Chat-Group-ID, else (an ad-hoc group: a chat mail
// with Chat-Group-Name but no id) the thread root. nullopt for a 1:1 mail.
std::optional<std::string> group_conversation_of(const mime::ParsedMail& mail);

// Updates the state with one group mail: the members are its From, To and Cc (Delta Chat and
// COI clients address every member), adjusted by Chat-Group-Member-Added/Removed; the name
// is Chat-Group-Name when present. Returns the members this mail added to a group already
// known; Delta Chat (2.65) announces no addition in unencrypted groups, the new member is
// just addressed from then on. The Chat-Group-Member-Added member is not among them: that
// mail is a member-joined event of its own.
std::vector<std::string> observe_group_mail(GroupState& state, const mime::ParsedMail& mail);

// Two states of one group (two conversations that turned out to be one): the members of both;
// name, root and newest mail of `into` where it has them.
void merge_group_state(GroupState& into, const GroupState& from);

}  // namespace coibridge::connectors::coi
