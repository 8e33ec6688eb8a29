// connectors.spool[] as its type reads it.

#include "connectors/spool/spool_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/config/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace coibridge::connectors::spool {
namespace {

using namespace core::config_test;
using core::ConfigLoad;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

ConfigLoad load_with_admin(const std::string& yaml, const core::EnvLookup& env = no_env()) {
  return core::load_config_text(admin_section() + yaml, env, {{"spool", parse_spool_config}});
}

TEST(SpoolConfig, FieldsAreRequiredAndDistinct) {
  const auto result = load_with_admin(R"(connectors:
  spool:
    - name: s1
    - name: s2
      inbox_dir: same
      outbox_dir: same
    - name: s3
      inbox_dir: [x]
      outbox_dir: ""
)");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.spool[0].inbox_dir", 8, "required"),
                          error_is("connectors.spool[0].outbox_dir", 8, "required"),
                          error_is("connectors.spool[1].outbox_dir", 11, "must differ"),
                          error_is("connectors.spool[2].inbox_dir", 13, "expected a string"),
                          error_is("connectors.spool[2].outbox_dir", 14, "must not be empty")));
}

}  // namespace
}  // namespace coibridge::connectors::spool
