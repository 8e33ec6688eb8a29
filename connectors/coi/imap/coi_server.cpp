#include "connectors/coi/imap/coi_server.hpp"

namespace coibridge::connectors::coi::imap {

boost::asio::awaitable<core::Result<std::optional<std::string>>> coi_chats_folder(
    ImapSession& session) {
  using Out = std::optional<std::string>;
  if (!session.has_capability("COI")) co_return Out{};
  auto enabled = co_await session.get_metadata("", std::string(kCoiConfig) + "/enabled");
  if (!enabled) co_return enabled.error();
  if (!*enabled || **enabled != "yes") co_return Out{};
  auto root_entry = co_await session.get_metadata("", std::string(kCoiConfig) + "/mailbox-root");
  if (!root_entry) co_return root_entry.error();
  const std::string root =
      *root_entry && !(*root_entry)->empty() ? **root_entry : std::string("COI");
  auto roots = co_await session.list("", root);
  if (!roots) co_return roots.error();
  if (roots->empty()) co_return Out{};
  const char separator = roots->front().delimiter;
  if (separator == '\0') co_return Out{};  // a flat namespace has no Chats below the root
  const std::string chats = roots->front().name + separator + "Chats";
  auto found = co_await session.list("", chats);
  if (!found) co_return found.error();
  if (found->empty()) co_return Out{};
  co_return Out(found->front().name);
}

}  // namespace coibridge::connectors::coi::imap
