// connectors.matrix[] as its type reads it.

#include "connectors/matrix/matrix_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/config/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace coibridge::connectors::matrix {
namespace {

using namespace core::config_test;
using core::ConfigLoad;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

ConfigLoad load_with_admin(const std::string& yaml, const core::EnvLookup& env = no_env()) {
  return core::load_config_text(admin_section() + yaml, env, {{"matrix", parse_matrix_config}});
}

TEST(MatrixConfig, NeedsItsKeysAndValidValues) {
  const auto missing = load_with_admin("connectors:\n  matrix:\n    - name: m\n");
  EXPECT_THAT(missing.errors,
              UnorderedElementsAre(error_is("connectors.matrix[0].homeserver_url", 8, "required"),
                                   error_is("connectors.matrix[0].server_name", 8, "required"),
                                   error_is("connectors.matrix[0].registration", 8, "required"),
                                   error_is("connectors.matrix[0].url", 8, "required")));
  const auto bad = load_with_admin(R"(connectors:
  matrix:
    - name: m
      homeserver_url: ftp://x
      server_name: "a b"
      registration: r.yaml
      url: http://127.0.0.1:8480
      verify_certificate: maybe
)");
  EXPECT_THAT(
      bad.errors,
      ElementsAre(
          error_is("connectors.matrix[0].homeserver_url", 9, "expected an http:// or https:// URL"),
          error_is("connectors.matrix[0].server_name", 10, "expected a server name"),
          error_is("connectors.matrix[0].verify_certificate", 13, "expected true or false")));
  const auto good = load_with_admin(R"(connectors:
  matrix:
    - name: m
      homeserver_url: https://matrix.example.org
      server_name: example.org
      registration: /etc/coi-bridge/registration.yaml
      url: http://10.0.0.2:8480
      dm_connector: mail
)");
  ASSERT_TRUE(good.errors.empty());
  const auto& m = only_instance<MatrixConnectorConfig>(good);
  EXPECT_EQ(m.server_name, "example.org");
  EXPECT_EQ(m.ghost_prefix, "_coi_");
  EXPECT_EQ(m.bot_localpart, "coibridge");
  EXPECT_TRUE(m.verify_certificate);
  EXPECT_EQ(m.max_transaction_bytes, 32u * 1024 * 1024);  // Synapse's transactions fit
}

TEST(MatrixConfig, PermissionsMapSubjectsToLevels) {
  const std::string head = R"(connectors:
  matrix:
    - name: m
      homeserver_url: https://matrix.example.org
      server_name: example.org
      registration: r.yaml
      url: http://10.0.0.2:8480
)";
  const auto absent = load_with_admin(head);
  ASSERT_TRUE(absent.errors.empty());
  EXPECT_FALSE(only_instance<MatrixConnectorConfig>(absent).permissions.has_value());
  EXPECT_FALSE(only_instance<MatrixConnectorConfig>(absent).public_portals);

  const auto good = load_with_admin(head + R"(      public_portals: true
      permissions:
        "*": user
        example.org: user
        "matrix.example.org:8448": user
        "@alice:example.org": admin
)");
  ASSERT_TRUE(good.errors.empty()) << good.errors[0].path << ": " << good.errors[0].message;
  const auto& m = only_instance<MatrixConnectorConfig>(good);
  EXPECT_TRUE(m.public_portals);
  ASSERT_TRUE(m.permissions.has_value());
  EXPECT_EQ(*m.permissions, (std::map<std::string, std::string>{{"*", "user"},
                                                                {"example.org", "user"},
                                                                {"matrix.example.org:8448", "user"},
                                                                {"@alice:example.org", "admin"}}));

  // An empty table is a table: nobody may give commands.
  const auto empty = load_with_admin(head + "      permissions:\n");
  ASSERT_TRUE(empty.errors.empty());
  EXPECT_EQ(only_instance<MatrixConnectorConfig>(empty).permissions,
            (std::map<std::string, std::string>{}));

  const auto bad = load_with_admin(head + R"(      permissions:
        "@alice:example.org": root
        "@bob": admin
        "a b": user
        "@carol:example.org": [admin]
      public_portals: yes
)");
  EXPECT_THAT(
      bad.errors,
      UnorderedElementsAre(
          error_is("connectors.matrix[0].permissions.@alice:example.org", 14,
                   "expected user or admin"),
          error_is("connectors.matrix[0].permissions.@bob", 15, "expected a Matrix user id"),
          error_is("connectors.matrix[0].permissions.a b", 16, "expected a Matrix user id"),
          error_is("connectors.matrix[0].permissions.@carol:example.org", 17, ""),
          error_is("connectors.matrix[0].public_portals", 18, "expected true or false")));
  const auto not_a_map = load_with_admin(head + "      permissions: admin\n");
  EXPECT_THAT(not_a_map.errors, ElementsAre(error_is("connectors.matrix[0].permissions", 13,
                                                     "expected a mapping from user id")));
}

}  // namespace
}  // namespace coibridge::connectors::matrix
