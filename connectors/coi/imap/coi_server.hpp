#pragma once
// COI server awareness (coi-protocol.md §2.2-2.4; coi-specs coi-server-spec.md): a server
// with the COI capability and COI enabled may deliver chat mail straight into
// <mailbox-root><separator>Chats ("message-filter active"), where an IDLE on INBOX never
// sees it. The connector then watches that folder as well.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "connectors/coi/imap/imap_session.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::coi::imap {

inline constexpr const char* kCoiConfig = "/private/vendor/vendor.dovecot/coi/config";

// The Chats folder to watch besides INBOX, or nullopt: no COI capability, COI not enabled
// ("enabled" must be exactly "yes"), or the folder does not exist. The root comes from the
// "mailbox-root" entry (default "COI"), joined with the hierarchy separator LIST reports for
// it (Dovecot builds "INBOX.COI.Chats" on a server whose separator is ".").
boost::asio::awaitable<core::Result<std::optional<std::string>>> coi_chats_folder(
    ImapSession& session);

}  // namespace coibridge::connectors::coi::imap
