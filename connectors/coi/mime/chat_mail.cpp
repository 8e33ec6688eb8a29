#include "connectors/coi/mime/chat_mail.hpp"

namespace coibridge::connectors::coi::mime {

const char* to_string(ChatKind kind) {
  switch (kind) {
    case ChatKind::kNotChat:
      return "not-chat";
    case ChatKind::kMessage:
      return "message";
    case ChatKind::kEdit:
      return "edit";
    case ChatKind::kDelete:
      return "delete";
    case ChatKind::kReaction:
      return "reaction";
    case ChatKind::kReadReceipt:
      return "read-receipt";
    case ChatKind::kMemberAdded:
      return "member-added";
    case ChatKind::kMemberRemoved:
      return "member-removed";
    case ChatKind::kGroupRenamed:
      return "group-renamed";
    case ChatKind::kProtocolNoise:
      return "protocol-noise";
  }
  return "unknown";
}

}  // namespace coibridge::connectors::coi::mime
