#pragma once
// How far a pull-based source (an IMAP mailbox) has been read. A connector advances its
// checkpoint only after the router committed what it read, so a crash re-reads rather than
// loses; the router's dedupe makes the re-read harmless.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "core/model/result.hpp"

namespace coibridge::core {

struct Checkpoint {
  std::uint64_t uidvalidity = 0;
  std::uint64_t last_uid = 0;
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // connector: the instance name; source: e.g. the mailbox name.
  virtual boost::asio::awaitable<Result<std::optional<Checkpoint>>> load(std::string connector,
                                                                         std::string source) = 0;
  // Never moves last_uid backwards within one uidvalidity; a new uidvalidity replaces the row.
  virtual boost::asio::awaitable<Status> save(std::string connector, std::string source,
                                              Checkpoint checkpoint) = 0;
};

}  // namespace coibridge::core
