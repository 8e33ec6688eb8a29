#pragma once
// Attachment bytes in transit. A connector that receives a file stores it here before it
// publishes the event, and names it in Attachment::location by the key put() returns; the
// connector that delivers the event reads it back by that key. So no connector ever needs to
// understand another network's media URLs (mxc://, Slack file URLs, MIME parts).

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/model/result.hpp"

namespace coibridge::core {

struct Blob {
  std::string content_type;
  std::string data;
};

// Locations this store hands out: "blob:sha256:<64 lower-case hex digits>".
inline constexpr std::string_view kBlobLocationPrefix = "blob:sha256:";
inline bool is_blob_location(std::string_view location) {
  if (!location.starts_with(kBlobLocationPrefix)) return false;
  const auto hex = location.substr(kBlobLocationPrefix.size());
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Returns the location. Content-addressed: storing the same bytes twice stores them once.
  virtual boost::asio::awaitable<Result<std::string>> put(std::string content_type,
                                                          std::string data) = 0;
  // kNotFound for an unknown or purged location, kInvalidArgument for one not of this store.
  virtual boost::asio::awaitable<Result<Blob>> get(std::string location) = 0;
  // Removes blobs older than `age` that no pending or dead-lettered delivery names; returns
  // how many.
  virtual boost::asio::awaitable<Result<std::int64_t>> purge(std::chrono::seconds age) = 0;
};

}  // namespace coibridge::core
