#include "core/model/publish.hpp"

namespace coibridge::core {

const char* to_string(PublishStatus status) {
  switch (status) {
    case PublishStatus::kAccepted:
      return "accepted";
    case PublishStatus::kDuplicate:
      return "duplicate";
    case PublishStatus::kEcho:
      return "echo";
    case PublishStatus::kUnlinked:
      return "unlinked";
  }
  return "unknown";
}

}  // namespace coibridge::core
