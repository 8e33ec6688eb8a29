// The example configuration shipped in config/ loads with the connector types coi-bridge is
// built with, so it cannot rot.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/connector_types.hpp"
#include "core/config/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace coibridge::core {
namespace {

using namespace config_test;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(ExampleConfig, LoadsCleanly) {
  const std::string path = std::string(COIBRIDGE_SOURCE_DIR) + "/config/coi-bridge.example.yaml";
  const auto result =
      load_config_file(path, no_env(), config_parsers(connectors::builtin_connector_types()));
  for (const auto& error : result.errors) ADD_FAILURE() << format_config_error(path, error);
  ASSERT_TRUE(result.config.has_value());
  const Config& config = *result.config;
  EXPECT_EQ(config.database.url, "");
  EXPECT_EQ(config.database.data_dir, "data/postgres");
  EXPECT_EQ(config.http.host, "127.0.0.1");
  EXPECT_EQ(config.http.port, 8480);
  ASSERT_THAT(config.admin.tokens, SizeIs(1));
  EXPECT_EQ(config.admin.tokens[0].name, "admin");
  EXPECT_EQ(config.admin.tokens[0].token.size(), 64u);
  EXPECT_TRUE(config.admin.tokens[0].can_write);
  EXPECT_THAT(config.connectors, IsEmpty());
}

}  // namespace
}  // namespace coibridge::core
