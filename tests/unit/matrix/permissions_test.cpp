#include "connectors/matrix/permissions.hpp"

#include <gtest/gtest.h>

namespace coibridge::connectors::matrix {
namespace {

using Table = std::optional<std::map<std::string, std::string>>;

TEST(PermissionsTest, WithoutATableUsersOfTheOwnServerAreUsersAndNobodyIsAdmin) {
  const Table none;
  EXPECT_EQ(permission_of("@alice:example.org", none, "example.org"), PermissionLevel::kUser);
  EXPECT_EQ(permission_of("@mallory:evil.example", none, "example.org"), PermissionLevel::kNone);
  // A server that merely ends like ours, or carries a port, is another server.
  EXPECT_EQ(permission_of("@bob:notexample.org", none, "example.org"), PermissionLevel::kNone);
  EXPECT_EQ(permission_of("@bob:example.org:8448", none, "example.org"), PermissionLevel::kNone);
  EXPECT_EQ(permission_of("not-a-user-id", none, "example.org"), PermissionLevel::kNone);
}

TEST(PermissionsTest, TheMostSpecificEntryWins) {
  const Table table = std::map<std::string, std::string>{{"*", "user"},
                                                         {"example.org", "admin"},
                                                         {"@eve:example.org", "user"},
                                                         {"@root:other.example", "admin"}};
  EXPECT_EQ(permission_of("@eve:example.org", table, "example.org"),
            PermissionLevel::kUser);  // user id
  EXPECT_EQ(permission_of("@alice:example.org", table, "example.org"),
            PermissionLevel::kAdmin);  // server
  EXPECT_EQ(permission_of("@root:other.example", table, "example.org"), PermissionLevel::kAdmin);
  EXPECT_EQ(permission_of("@bob:other.example", table, "example.org"),
            PermissionLevel::kUser);  // *
  // A malformed id is nobody's user id and on no server; only * can reach it.
  EXPECT_EQ(permission_of("alice", table, "example.org"), PermissionLevel::kUser);
}

TEST(PermissionsTest, ATableReplacesTheDefault) {
  // With a table, the own server has no level of its own unless an entry gives it one.
  const Table admins_only = std::map<std::string, std::string>{{"@admin:example.org", "admin"}};
  EXPECT_EQ(permission_of("@admin:example.org", admins_only, "example.org"),
            PermissionLevel::kAdmin);
  EXPECT_EQ(permission_of("@alice:example.org", admins_only, "example.org"),
            PermissionLevel::kNone);
  const Table empty = std::map<std::string, std::string>{};
  EXPECT_EQ(permission_of("@alice:example.org", empty, "example.org"), PermissionLevel::kNone);
}

TEST(PermissionsTest, ServerNamesWithPortsMatchExactly) {
  const Table table = std::map<std::string, std::string>{{"example.org:8448", "admin"}};
  EXPECT_EQ(permission_of("@a:example.org:8448", table, "x"), PermissionLevel::kAdmin);
  EXPECT_EQ(permission_of("@a:example.org", table, "x"), PermissionLevel::kNone);
}

TEST(PermissionsTest, LevelsParseAndPrint) {
  EXPECT_EQ(parse_permission_level("user"), PermissionLevel::kUser);
  EXPECT_EQ(parse_permission_level("admin"), PermissionLevel::kAdmin);
  EXPECT_EQ(parse_permission_level("Admin"), std::nullopt);
  EXPECT_EQ(to_string(PermissionLevel::kNone), "none");
  EXPECT_EQ(to_string(PermissionLevel::kAdmin), "admin");
  EXPECT_TRUE(PermissionLevel::kAdmin > PermissionLevel::kUser);
}

}  // namespace
}  // namespace coibridge::connectors::matrix
