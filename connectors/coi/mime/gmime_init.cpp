#include "connectors/coi/mime/gmime_init.hpp"

#include <gmime/gmime.h>

#include <mutex>

namespace coibridge::connectors::coi::mime {

void ensure_gmime_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

}  // namespace coibridge::connectors::coi::mime
