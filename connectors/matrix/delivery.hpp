#pragma once
// Deliveries into Matrix rooms: each core event as the ghost of its author, through the
// client-server API. Idempotent on the event id: every request that posts carries a
// transaction id derived from (event id, room, part), so a retried delivery is answered with
// the first answer instead of posting twice (client-server API, "Transaction identifiers").
// Holds no state of its own.

#include <boost/asio/awaitable.hpp>
#include <string>

#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/ghost_directory.hpp"
#include "connectors/matrix/matrix_event_mapping.hpp"
#include "connectors/matrix/runtime.hpp"
#include "core/connector/connector.hpp"
#include "core/store/blob_store.hpp"

namespace coibridge::connectors::matrix {

class RoomDelivery {
 public:
  RoomDelivery(const MappingContext& mapping, ClientApi& api, GhostDirectory& ghosts,
               core::BlobStore& blobs, const Runtime& runtime)
      : mapping_(mapping), api_(api), ghosts_(ghosts), blobs_(blobs), runtime_(runtime) {}

  // Connector::deliver: the event id of the first event the delivery posted ("" for none).
  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> deliver(
      const core::Delivery& delivery);

 private:
  // Member changes and renames of the other side: ghosts join and leave, the room is renamed.
  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> manage_room(
      const core::Event& event, const std::string& room, const std::string& ghost);
  // Attachments held in the blob store go to the media repository; locations become mxc://.
  boost::asio::awaitable<core::Status> upload_attachments(core::Event& event,
                                                          const std::string& ghost);
  // A withdrawn reaction targets the Matrix event that carried it here; false: never shown
  // here, nothing to withdraw.
  boost::asio::awaitable<core::Result<bool>> find_reaction_event(core::Event& event);

  const MappingContext& mapping_;
  ClientApi& api_;
  GhostDirectory& ghosts_;
  core::BlobStore& blobs_;
  const Runtime& runtime_;
};

}  // namespace coibridge::connectors::matrix
