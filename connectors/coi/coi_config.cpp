#include "connectors/coi/coi_config.hpp"

#include <array>
#include <string_view>

namespace coibridge::connectors::coi {
namespace {

using Need = core::ConfigSection::Need;

// In the order of MailTls and MailIdentity.
constexpr std::array<std::string_view, 3> kTlsModes = {"implicit", "starttls", "none"};
constexpr std::array<std::string_view, 2> kIdentityModes = {"puppet", "relay"};

bool plausible_address(const std::string& address) {
  const auto at = address.find('@');
  return at != std::string::npos && at > 0 && at + 1 < address.size() &&
         address.find('@', at + 1) == std::string::npos &&
         address.find_first_of(" \t\r\n<>\",;") == std::string::npos;
}

// Whether every required key was there and valid.
bool parse_server(core::ConfigSection& section, MailServerConfig& server) {
  bool ok = true;
  if (auto host = section.nonempty_text("host")) {
    server.host = std::move(*host);
  } else {
    ok = false;
  }
  if (auto port = section.integer("port", 1, 65535, Need::kRequired)) {
    server.port = static_cast<std::uint16_t>(*port);
  } else {
    ok = false;
  }
  if (auto tls = section.choice<MailTls>("tls", kTlsModes)) server.tls = *tls;
  if (auto ca = section.text("ca_file")) server.ca_file = std::move(*ca);
  if (auto verify = section.boolean("verify_certificate")) server.verify_certificate = *verify;
  if (auto user = section.text("username", Need::kRequired)) {
    server.username = std::move(*user);
  } else {
    ok = false;
  }
  if (auto password = section.secret("password", Need::kRequired)) {
    server.password = std::move(*password);
  } else {
    ok = false;
  }
  return ok;
}

}  // namespace

std::shared_ptr<core::ConnectorConfig> parse_coi_config(core::ConfigSection& section) {
  auto coi = std::make_shared<CoiConnectorConfig>();
  bool ok = true;
  if (auto address = section.text("address", Need::kRequired); !address) {
    ok = false;
  } else if (!plausible_address(*address)) {
    section.error("address", "expected a mail address");
    ok = false;
  } else {
    coi->address = std::move(*address);
  }
  if (auto name = section.text("display_name")) coi->display_name = std::move(*name);
  if (auto identity = section.choice<MailIdentity>("identity", kIdentityModes)) {
    coi->identity = *identity;
  }
  constexpr std::int64_t kMaxBytes = std::int64_t{1} << 30;
  if (auto n = section.integer("max_message_bytes", 1024, kMaxBytes)) {
    coi->max_message_bytes = static_cast<std::size_t>(*n);
  }
  if (auto n = section.integer("max_attachment_bytes", 1024, kMaxBytes)) {
    coi->max_attachment_bytes = static_cast<std::size_t>(*n);
  }
  if (auto n = section.integer("date_lead_seconds", 0, 300))
    coi->date_lead = std::chrono::seconds(*n);
  for (auto [key, server] : {std::pair{"imap", &coi->imap}, std::pair{"smtp", &coi->smtp}}) {
    auto nested = section.section(key, Need::kRequired);
    if (!nested || !parse_server(*nested, *server)) ok = false;
  }
  if (!ok) return nullptr;
  return coi;
}

}  // namespace coibridge::connectors::coi
