#pragma once
// The media type of a picture by its first bytes, for pictures that arrive without one (an
// avatar in a header, a file named by a path).

#include <string>
#include <string_view>

namespace coibridge::core {

// "image/png", "image/jpeg", "image/gif" or "image/webp"; "application/octet-stream" for
// anything else.
inline std::string sniff_image_type(std::string_view bytes) {
  if (bytes.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
  if (bytes.starts_with("\xff\xd8\xff")) return "image/jpeg";
  if (bytes.starts_with("GIF87a") || bytes.starts_with("GIF89a")) return "image/gif";
  if (bytes.size() >= 12 && bytes.starts_with("RIFF") && bytes.substr(8, 4) == "WEBP")
    return "image/webp";
  return "application/octet-stream";
}

}  // namespace coibridge::core
