#pragma once
// Matrix identifiers (Matrix spec v1.13, appendices, "Identifier Grammar") and the names the
// bridge gives its own users and rooms on the homeserver.
//
// The validators are for untrusted input (appservice transactions): they say whether an id
// has the right sigil, a valid server name where one is required, allowed characters and at
// most 255 bytes. They accept what the spec tells clients to accept, including historical
// user ids, not only what a server may create today.
//
// Ghosts: a person of another network, (connector, remote id), appears as
// @<prefix><escaped connector>_-<escaped remote id>:<server>, each part escaped with the
// "Mapping from other character sets" algorithm (same appendix):
//   a-z 0-9 - . /  stay;  _ -> __;  A-Z -> _ and the lower-case letter;
//   every other byte of the UTF-8 text, and =, -> = and two lower-case hex digits.
// The escape never writes '_' before '-', so "_-" separates the two parts unambiguously:
// bob@example.org of the connector "xmpp" is @_coi_xmpp_-bob=40example.org:matrix.test.
// The people of one connector, the one direct chats go to (dm_connector), keep the short
// ids of earlier versions, @<prefix><escaped remote id>:<server>, so the ghosts rooms already
// hold stay theirs: a ghost id without "_-" is that connector's person. Group portals get the
// alias #<prefix><escaped group id>:<server> the same way. The prefix must match the
// exclusive namespaces of the registration (bridges.md §2.1).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/result.hpp"

namespace coibridge::connectors::matrix {

// Appendices, "Common Identifier Format": user ids, room ids, aliases and event ids.
inline constexpr std::size_t kMaxIdBytes = 255;
inline constexpr std::string_view kDefaultGhostPrefix = "_coi_";

bool is_valid_server_name(std::string_view name);
// Historical localparts accepted: any well-formed UTF-8 except ':' and NUL.
bool is_valid_user_id(std::string_view id);
// Only the localpart characters a server may create today (a-z 0-9 . _ = - / +).
bool is_compliant_user_id(std::string_view id);
// Room versions up to 11 have "!opaque:server", version 12 "!" and a hash.
bool is_valid_room_id(std::string_view id);
bool is_valid_room_alias(std::string_view alias);
// Room versions 1 and 2 have "$opaque:server", later ones "$" and a base64 hash.
bool is_valid_event_id(std::string_view id);
// mxc://<server-name>/<media-id>, with the character rules of the client-server API,
// content repository, "Security considerations".
bool is_valid_mxc_uri(std::string_view uri);

struct IdParts {
  std::string localpart;
  std::string server_name;
  bool operator==(const IdParts&) const = default;
};

// The parts of a valid user id, room id, room alias or event id with a server name, split at
// the first ':' (server names may contain ':' themselves); nullopt for anything else,
// including the room and event ids of recent room versions, which have no server name.
std::optional<IdParts> split_id(std::string_view id);

// The "Mapping from other character sets" escaping, and its exact inverse: unescape accepts
// only what escape produces, so two different localparts never map to the same text.
std::string escape_localpart(std::string_view text);
std::optional<std::string> unescape_localpart(std::string_view escaped);

// How the bridge names its users and rooms on one homeserver (from configuration).
struct GhostNaming {
  std::string server_name;                                // the homeserver's name, e.g. matrix.test
  std::string prefix = std::string(kDefaultGhostPrefix);  // of ghost localparts and portal aliases
  // The connector whose people have short ghost ids (dm_connector); empty: none has.
  std::string short_form_connector = {};
};

// A usable naming: a valid server name and a non-empty prefix of compliant localpart
// characters (error fields "server_name" and "ghost_prefix").
core::Status check_ghost_naming(const GhostNaming& naming);

// The ghost of a remote person: of `connector`, with `remote_id` (for mail: their address,
// lower-cased by the caller). Fails with kInvalidArgument when the id would exceed 255 bytes.
core::Result<std::string> ghost_user_id(std::string_view connector, std::string_view remote_id,
                                        const GhostNaming& naming);
// The person a ghost stands for; nullopt for any other user id or a malformed escape.
struct GhostPerson {
  std::string connector;
  std::string remote_id;
  bool operator==(const GhostPerson&) const = default;
};
std::optional<GhostPerson> person_of_ghost(std::string_view user_id, const GhostNaming& naming);
// In our exclusive namespace: on our server with a localpart that starts with the prefix,
// whether or not the rest is a well-formed escape.
bool in_ghost_namespace(std::string_view user_id, const GhostNaming& naming);

// The alias of the portal room of a group, and its inverse.
core::Result<std::string> portal_alias(std::string_view group_id, const GhostNaming& naming);
std::optional<std::string> group_id_of_portal_alias(std::string_view alias,
                                                    const GhostNaming& naming);

}  // namespace coibridge::connectors::matrix
