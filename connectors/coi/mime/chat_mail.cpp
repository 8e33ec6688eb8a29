#include "connectors/coi/mime/chat_mail.hpp"

#include "core/model/enum_names.hpp"

namespace coibridge::connectors::coi::mime {

const char* to_string(ChatKind kind) {
  static constexpr std::array<const char*, 10> kNames = {
      "not-chat",     "message",      "edit",           "delete",        "reaction",
      "read-receipt", "member-added", "member-removed", "group-renamed", "protocol-noise"};
  return core::enum_name<ChatKind::kProtocolNoise>(kind, kNames, "unknown");
}

}  // namespace coibridge::connectors::coi::mime
