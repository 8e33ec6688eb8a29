#include "core/model/publish.hpp"

#include "core/model/enum_names.hpp"

namespace coibridge::core {

const char* to_string(PublishStatus status) {
  static constexpr std::array<const char*, 4> kNames = {"accepted", "duplicate", "echo",
                                                        "unlinked"};
  return enum_name<PublishStatus::kUnlinked>(status, kNames, "unknown");
}

}  // namespace coibridge::core
