#pragma once
// The file-spool connector: a conversation is a name, events come in as JSON files dropped in
// inbox_dir and deliveries go out as JSON files in outbox_dir. It serves scripting ("post
// this into the bridge"), diagnostics, and tests of the delivery machinery: a delivery fails
// (and is retried) while outbox_dir is missing or not writable.
//
// Inbox file: the canonical event JSON (core/model/event_json.hpp) in which `id` and `at` may
// be left out and `where.connector`/`origin.connector` are set to this connector's name;
// `who` (with its `connector`, the network the person is on) is required. A file is removed
// only after the router committed it (or rejected it as a dead letter).
// Outbox file: <event id>--<16 hex digits of the target conversation>.json, written once; a
// repeated delivery of the same event finds it and succeeds without writing (idempotent).
// That file name is the spool's id of the delivered message: a reply from the spool names it
// in `reply_to`. deliveries.log gets one line per deliver() call.
//
// Attachments: in an inbox file, an attachment whose location is "file:<name>" names a file
// beside it in inbox_dir (a plain name, no directories); its bytes go to the blob store before
// the event is published. A delivered attachment is written to outbox_dir/files/<sha256>, and
// the outbox file lists it under "files" (location and path).

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "connectors/spool/spool_config.hpp"
#include "core/connector/connector.hpp"
#include "core/store/blob_store.hpp"

namespace coibridge::connectors::spool {

class SpoolConnector final : public core::Connector {
 public:
  SpoolConnector(SpoolConnectorConfig config, core::BlobStore& blobs,
                 std::chrono::milliseconds poll_interval = std::chrono::milliseconds(200));

  std::string_view name() const override { return config_.name; }
  core::Capabilities capabilities() const override { return core::Capabilities::all(); }
  boost::asio::awaitable<void> run(core::ConnectorContext& ctx) override;
  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> deliver(
      const core::Delivery& delivery) override;

 private:
  boost::asio::awaitable<void> take_inbox_file(core::ConnectorContext& ctx,
                                               const std::filesystem::path& file);

  // Reads "file:<name>" attachments into the blob store; an error text when one cannot be.
  // Moves the inbox files an event names ("file:<name>": attachments, the sender's avatar)
  // into the blob store and points the event at them. kInvalidArgument: a bad name or file.
  boost::asio::awaitable<core::Status> store_files(core::Event& event);
  // One inbox file into the blob store (an empty media type is sniffed from the bytes).
  struct StoredFile {
    std::string location;
    std::size_t size = 0;
  };
  boost::asio::awaitable<core::Result<StoredFile>> store_file(std::string_view location,
                                                              std::string content_type);
  // Writes the event's attachments to outbox_dir/files; the JSON list of what was written.
  boost::asio::awaitable<core::Result<nlohmann::json>> export_attachments(const core::Event& event);

  SpoolConnectorConfig config_;
  core::BlobStore& blobs_;
  std::chrono::milliseconds poll_interval_;
};

}  // namespace coibridge::connectors::spool
