#pragma once
// connectors.coi[]: a chat-over-email account the bridge owns (COI and Delta Chat peers reach
// it by mail), with its IMAP and SMTP servers and how remote people appear on the mail side.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/config/config_section.hpp"
#include "core/config/connector_config.hpp"

namespace coibridge::connectors::coi {

// How a mail server connection is secured (the words in the config file, in this order:
// implicit, starttls, none). None is for loopback testing only.
enum class MailTls { kImplicit, kStartTls, kNone };
// How remote people appear on the mail side (puppet, relay): see CoiConnectorConfig::identity.
enum class MailIdentity { kPuppet, kRelay };

// One mail server a COI connector talks to.
struct MailServerConfig {
  std::string host;
  std::uint16_t port = 0;
  MailTls tls = MailTls::kImplicit;
  std::string ca_file;  // empty: the system's CA store
  bool verify_certificate = true;
  std::string username;
  std::string password;  // or password_file
};

struct CoiConnectorConfig : core::ConnectorConfig {
  std::string address;  // the bridge account's address, e.g. bridge@example.org
  std::string display_name = "coi-bridge";
  MailServerConfig imap;
  MailServerConfig smtp;
  // How remote people appear on the mail side: "puppet" gives each a plus-address of the
  // bridge account (bridge+<connector>.<id>@domain); "relay" sends from the bridge address
  // with the person's name and a Sender header.
  MailIdentity identity = MailIdentity::kPuppet;
  std::size_t max_message_bytes = 25 * 1024 * 1024;
  // One attachment, either way. A larger one is left out of the relayed message, which says
  // so in its text, rather than failing the whole message.
  std::size_t max_attachment_bytes = 16 * 1024 * 1024;
  // How far into the future a mail's Date may be rather than wait for its second
  // (mail_date_clock.hpp). 0, the default, keeps the order certain in Delta Chat.
  std::chrono::seconds date_lead{0};
};

std::shared_ptr<core::ConnectorConfig> parse_coi_config(core::ConfigSection& section);

}  // namespace coibridge::connectors::coi
