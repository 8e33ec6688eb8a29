#pragma once
// The file-spool connector: a conversation is a name, events come in as JSON files dropped in
// inbox_dir and deliveries go out as JSON files in outbox_dir. It serves scripting ("post
// this into the bridge"), diagnostics, and tests of the delivery machinery: a delivery fails
// (and is retried) while outbox_dir is missing or not writable.
//
// Inbox file: the canonical event JSON (core/model/event_json.hpp) in which `id` and `at` may
// be left out and `where.connector`/`origin.connector` are set to this connector's name. A
// file is removed only after the router committed it (or rejected it as a dead letter).
// Outbox file: <event id>.json, written once; a repeated delivery of the same event finds it
// and succeeds without writing (idempotent). deliveries.log gets one line per deliver() call.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>

#include "core/config/config.hpp"
#include "core/connector/connector.hpp"

namespace coibridge::connectors::spool {

class SpoolConnector final : public core::Connector {
 public:
  explicit SpoolConnector(core::SpoolConnectorConfig config,
                          std::chrono::milliseconds poll_interval = std::chrono::milliseconds(200));

  std::string_view name() const override { return config_.name; }
  core::Capabilities capabilities() const override { return core::Capabilities::all(); }
  boost::asio::awaitable<void> run(core::ConnectorContext& ctx) override;
  boost::asio::awaitable<core::Result<core::RemoteMessageRef>> deliver(
      const core::Delivery& delivery) override;

 private:
  boost::asio::awaitable<void> take_inbox_file(core::ConnectorContext& ctx,
                                               const std::filesystem::path& file);

  core::SpoolConnectorConfig config_;
  std::chrono::milliseconds poll_interval_;
};

}  // namespace coibridge::connectors::spool
