// connectors.coi[] as its type reads it.

#include "connectors/coi/coi_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/config/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace coibridge::connectors::coi {
namespace {

using namespace core::config_test;
using core::ConfigLoad;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

ConfigLoad load_with_admin(const std::string& yaml, const core::EnvLookup& env = no_env()) {
  return core::load_config_text(admin_section() + yaml, env, {{"coi", parse_coi_config}});
}

const char* const kCoiSection = R"(connectors:
  coi:
    - name: mail
      address: bridge@example.org
      identity: relay
      imap: {host: imap.example.org, port: 993, username: bridge, password: "imap-secret"}
      smtp:
        host: smtp.example.org
        port: 587
        tls: starttls
        ca_file: /etc/ssl/ca.pem
        verify_certificate: false
        username: bridge
        password: "smtp-secret"
)";

TEST(CoiConfig, FullEntryIsRead) {
  auto r = load_with_admin(kCoiSection);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].path << ": " << r.errors[0].message;
  const auto& c = only_instance<CoiConnectorConfig>(r);
  EXPECT_EQ(c.name, "mail");
  EXPECT_EQ(c.address, "bridge@example.org");
  EXPECT_EQ(c.identity, MailIdentity::kRelay);
  EXPECT_EQ(c.imap.host, "imap.example.org");
  EXPECT_EQ(c.imap.port, 993);
  EXPECT_EQ(c.imap.tls, MailTls::kImplicit);  // the default: RFC 8314 prefers implicit TLS
  EXPECT_TRUE(c.imap.verify_certificate);
  EXPECT_EQ(c.smtp.tls, MailTls::kStartTls);
  EXPECT_FALSE(c.smtp.verify_certificate);
  EXPECT_EQ(c.smtp.ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(c.smtp.password, "smtp-secret");
  EXPECT_EQ(c.date_lead, std::chrono::seconds(0));  // order first: no Date ahead of the clock
}

TEST(CoiConfig, DateLeadIsBounded) {
  auto r = load_with_admin(std::string(kCoiSection) + "      date_lead_seconds: 5\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].path << ": " << r.errors[0].message;
  EXPECT_EQ(only_instance<CoiConnectorConfig>(r).date_lead, std::chrono::seconds(5));
  for (const char* bad : {"-1", "301", "soon"}) {
    auto e = load_with_admin(std::string(kCoiSection) + "      date_lead_seconds: " + bad + "\n");
    ASSERT_EQ(e.errors.size(), 1u) << bad;
    EXPECT_EQ(e.errors[0].path, "connectors.coi[0].date_lead_seconds");
  }
}

TEST(CoiConfig, ErrorsNameTheKeyAndNeverTheSecret) {
  const std::string yaml = R"(connectors:
  coi:
    - name: mail
      address: not-an-address
      identity: ghost
      imap: {host: h, port: 99999, tls: sometimes, username: u, password: "p4ss-w0rd-secret", color: blue}
      smtp: {host: h, port: 25, username: u}
)";
  auto r = load_with_admin(yaml);
  ASSERT_FALSE(r.config.has_value());
  std::set<std::string> paths;
  for (const auto& e : r.errors) {
    paths.insert(e.path);
    EXPECT_EQ(e.message.find("p4ss-w0rd-secret"), std::string::npos);
  }
  for (const char* p : {"connectors.coi[0].address", "connectors.coi[0].identity",
                        "connectors.coi[0].imap.port", "connectors.coi[0].imap.tls",
                        "connectors.coi[0].imap.color", "connectors.coi[0].smtp.password"}) {
    EXPECT_TRUE(paths.contains(p)) << p;
  }
}

TEST(CoiConfig, MailPasswordsComeFromTheEnvironment) {
  const std::string yaml = R"(connectors:
  coi:
    - name: mail
      address: bridge@example.org
      imap: {host: imap.example.org, port: 993, username: bridge}
      smtp: {host: smtp.example.org, port: 465, username: bridge, password: in-file}
)";
  // Without the environment the IMAP password is missing.
  EXPECT_THAT(load_with_admin(yaml).errors,
              ElementsAre(error_is("connectors.coi[0].imap.password", 10, "required")));
  auto r =
      load_with_admin(yaml, env_of({{"COIBRIDGE_CONNECTORS_COI_0_SMTP_PASSWORD", "env-smtp"},
                                    {"COIBRIDGE_CONNECTORS_COI_0_IMAP_PASSWORD", "env-imap"}}));
  ASSERT_THAT(r.errors, IsEmpty());
  const auto& c = only_instance<CoiConnectorConfig>(r);
  EXPECT_EQ(c.imap.password, "env-imap");
  EXPECT_EQ(c.smtp.password, "env-smtp");
}

}  // namespace
}  // namespace coibridge::connectors::coi
