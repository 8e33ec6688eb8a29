#pragma once
// How a mail of a Delta Chat ad-hoc group (unencrypted: no group id, only a name and a thread)
// finds its group, the way Delta Chat itself assigns it (chatmail core receive_imf.rs;
// coi-protocol.md §3.6, §4.4):
//   1. the group of a message it names: In-Reply-To, then References newest first (Delta
//      Chat keeps only the last three ids in References, so the group's first mail is soon
//      out of sight);
//   2. a mail that names nothing but itself starts a group;
//   3. otherwise the group with the same name and exactly the same members;
//   4. otherwise the mail waits a little for the messages it names (a burst reaches the
//      mailbox out of order) before it becomes a group of its own.
// Pure functions; the connector does the lookups (mailbox_reader.cpp).

#include <set>
#include <string>
#include <vector>

#include "connectors/coi/group_state.hpp"
#include "connectors/coi/mime/chat_mail.hpp"

namespace coibridge::connectors::coi {

// The Message-IDs a mail names, in the order they are tried: In-Reply-To, then References
// newest first; without repeats and without the mail's own id.
std::vector<std::string> named_messages(const mime::ParsedMail& mail);

// The people a group mail addresses: From, To and Cc, lower-cased (Delta Chat and COI
// clients address every member).
std::set<std::string> addressed_members(const mime::ParsedMail& mail);

// The key under which an ad-hoc group is found by name and member set (ConversationInfo::
// match_key): a digest of the name and the sorted members. Equal keys are checked against the
// state (same_group) before a mail is placed.
std::string group_match_key(std::string_view name, const std::set<std::string>& members);
std::string group_match_key(const GroupState& state);

// Whether the mail has the group's name and exactly its members (step 3 above).
bool same_group(const GroupState& state, const mime::ParsedMail& mail);

// The conversation of a mail whose chain is broken for good (step 4 gave up): named after the
// oldest message it names, as the group's first mail would name it, so that every mail of
// the same broken chain agrees.
std::string fallback_conversation(const mime::ParsedMail& mail);

}  // namespace coibridge::connectors::coi
