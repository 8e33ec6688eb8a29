#include "core/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <string>

namespace coibridge::core {

// Readable failure output for error lists.
void PrintTo(const ConfigError& error, std::ostream* os) {
  *os << "{" << error.path << " @" << error.line << ": " << error.message << "}";
}

namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";  // exactly 32 characters
constexpr const char* kOtherToken = "fedcba9876543210fedcba9876543210";

EnvLookup no_env() {
  return [](const std::string&) { return std::optional<std::string>(); };
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A valid admin section; tests append other sections after it (it is 5 lines long).
std::string admin_section() {
  return std::string("admin:\n  tokens:\n    - name: ops\n      token: ") + kToken +
         "\n      scopes: [read]\n";
}

ConfigLoad load(const std::string& yaml) { return load_config_text(yaml, no_env()); }
ConfigLoad load_with_admin(const std::string& yaml) { return load(admin_section() + yaml); }

auto error_is(const std::string& path, int line, const std::string& message_part) {
  return AllOf(Field(&ConfigError::path, path), Field(&ConfigError::line, line),
               Field(&ConfigError::message, HasSubstr(message_part)));
}

// One error expected: returns it for further checks.
ConfigError single_error(const ConfigLoad& result) {
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(result.errors, SizeIs(1));
  return result.errors.empty() ? ConfigError{} : result.errors.front();
}

TEST(ConfigTest, MinimalFileGivesDefaults) {
  const auto result = load(admin_section());
  ASSERT_THAT(result.errors, IsEmpty());
  ASSERT_TRUE(result.config.has_value());
  const Config& config = *result.config;
  EXPECT_EQ(config.database.url, "");
  EXPECT_EQ(config.database.data_dir, "data/postgres");
  EXPECT_EQ(config.database.pg_bin_dir, "");
  EXPECT_EQ(config.database.pool_size, 4);
  EXPECT_EQ(config.http.host, "127.0.0.1");
  EXPECT_EQ(config.http.port, 8480);
  EXPECT_EQ(config.http.max_body_bytes, 1024u * 1024u);
  EXPECT_EQ(config.logging.level, "info");
  EXPECT_EQ(config.logging.format, LogOutput::kText);
  EXPECT_EQ(config.delivery.max_attempts, 10);
  EXPECT_EQ(config.delivery.backoff_initial, std::chrono::milliseconds(500));
  EXPECT_EQ(config.delivery.backoff_max, std::chrono::milliseconds(300000));
  EXPECT_THAT(config.connectors.spool, IsEmpty());
  ASSERT_THAT(config.admin.tokens, SizeIs(1));
  EXPECT_EQ(config.admin.tokens[0].name, "ops");
  EXPECT_EQ(config.admin.tokens[0].token, kToken);
  EXPECT_TRUE(config.admin.tokens[0].can_read);
  EXPECT_FALSE(config.admin.tokens[0].can_write);
}

TEST(ConfigTest, FullFileSetsEveryKey) {
  const std::string yaml = std::string(R"(database:
  url: "postgresql://bridge@db.example.org/coibridge"
  data_dir: /var/lib/coi-bridge/pg
  pg_bin_dir: /usr/lib/postgresql/15/bin
  pool_size: 8
http:
  listen: "[::1]:0"
  max_body_bytes: 2048
admin:
  tokens:
    - name: ops
      token: )") + kToken + R"(
      scopes: [write]
    - name: monitor
      token: )" + kOtherToken +
                           R"(
      scopes: [read]
logging:
  level: debug
  format: json
delivery:
  max_attempts: 3
  backoff_initial_ms: 100
  backoff_max_ms: 2000
connectors:
  spool:
    - name: spool
      inbox_dir: data/spool/in
      outbox_dir: data/spool/out
    - name: spool-2.test_x
      inbox_dir: in2
      outbox_dir: out2
)";
  const auto result = load(yaml);
  ASSERT_THAT(result.errors, IsEmpty());
  const Config& config = *result.config;
  EXPECT_EQ(config.database.url, "postgresql://bridge@db.example.org/coibridge");
  EXPECT_EQ(config.database.data_dir, "/var/lib/coi-bridge/pg");
  EXPECT_EQ(config.database.pg_bin_dir, "/usr/lib/postgresql/15/bin");
  EXPECT_EQ(config.database.pool_size, 8);
  EXPECT_EQ(config.http.host, "::1");
  EXPECT_EQ(config.http.port, 0);
  EXPECT_EQ(config.http.max_body_bytes, 2048u);
  EXPECT_EQ(config.logging.level, "debug");
  EXPECT_EQ(config.logging.format, LogOutput::kJson);
  EXPECT_EQ(config.delivery.max_attempts, 3);
  EXPECT_EQ(config.delivery.backoff_initial, std::chrono::milliseconds(100));
  EXPECT_EQ(config.delivery.backoff_max, std::chrono::milliseconds(2000));
  ASSERT_THAT(config.admin.tokens, SizeIs(2));
  EXPECT_TRUE(config.admin.tokens[0].can_read);  // write implies read
  EXPECT_TRUE(config.admin.tokens[0].can_write);
  EXPECT_EQ(config.admin.tokens[1].name, "monitor");
  EXPECT_EQ(config.admin.tokens[1].token, kOtherToken);
  EXPECT_TRUE(config.admin.tokens[1].can_read);
  EXPECT_FALSE(config.admin.tokens[1].can_write);
  ASSERT_THAT(config.connectors.spool, SizeIs(2));
  EXPECT_EQ(config.connectors.spool[0].name, "spool");
  EXPECT_EQ(config.connectors.spool[0].inbox_dir, "data/spool/in");
  EXPECT_EQ(config.connectors.spool[0].outbox_dir, "data/spool/out");
  EXPECT_EQ(config.connectors.spool[1].name, "spool-2.test_x");
}

TEST(ConfigTest, EmptySectionsAndEmptyStringsAreAllowed) {
  const auto result = load_with_admin(
      "database:\n  url:\n  pg_bin_dir: ''\nhttp:\nconnectors:\n"
      "  spool:\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->database.url, "");
  EXPECT_EQ(result.config->http.port, 8480);
}

TEST(ConfigTest, UnknownKeysNameTheFullPathAndLine) {
  const auto result = load_with_admin(R"(http:
  lisen: 127.0.0.1:1
colour: blue
connectors:
  spool:
    - name: a
      inbox_dir: i
      outbox_dir: o
      mode: fast
)" + std::string("admin2: {}\n"));
  EXPECT_THAT(result.errors, ElementsAre(error_is("http.lisen", 7, "unknown key"),
                                         error_is("colour", 8, "unknown key"),
                                         error_is("connectors.spool[0].mode", 14, "unknown key"),
                                         error_is("admin2", 15, "unknown key")));
}

TEST(ConfigTest, UnknownKeyInsideTokenEntry) {
  const auto result = load(std::string("admin:\n  tokens:\n    - name: a\n      token: ") + kToken +
                           "\n      scopes: [read]\n      expires: never\n  other: 1\n");
  EXPECT_THAT(result.errors, ElementsAre(error_is("admin.tokens[0].expires", 6, "unknown key"),
                                         error_is("admin.other", 7, "unknown key")));
}

TEST(ConfigTest, DuplicateYamlKeysAreErrors) {
  const auto result = load_with_admin("logging:\n  level: info\n  level: debug\n");
  EXPECT_THAT(result.errors, ElementsAre(error_is("logging.level", 8, "duplicate key")));
}

TEST(ConfigTest, WrongTypesNameTheExpectedType) {
  const auto result = load_with_admin(R"(database:
  pool_size: four
  data_dir: [a, b]
http:
  listen: {host: x}
  max_body_bytes: 1.5
delivery: 7
connectors: [spool]
)");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("database.pool_size", 7, "expected an integer"),
                          error_is("database.data_dir", 8, "expected a string"),
                          error_is("http.listen", 10, "expected a string like 127.0.0.1:8480"),
                          error_is("http.max_body_bytes", 11, "expected an integer"),
                          error_is("delivery", 12, "expected a mapping"),
                          error_is("connectors", 13, "expected a mapping")));
}

TEST(ConfigTest, TopLevelMustBeAMapping) {
  const auto error = single_error(load("- a\n- b\n"));
  EXPECT_EQ(error.path, "");
  EXPECT_THAT(error.message, HasSubstr("expected a mapping"));
}

TEST(ConfigTest, OutOfRangeValuesAreErrors) {
  const auto result = load_with_admin(R"(database:
  pool_size: 0
  data_dir: ""
http:
  max_body_bytes: 0
delivery:
  max_attempts: 1001
  backoff_initial_ms: 0
)");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("database.pool_size", 7, "must be between 1 and 64"),
                          error_is("database.data_dir", 8, "must not be empty"),
                          error_is("http.max_body_bytes", 10, "must be between 1 and"),
                          error_is("delivery.max_attempts", 12, "must be between 1 and 1000"),
                          error_is("delivery.backoff_initial_ms", 13, "must be between 1 and")));
}

TEST(ConfigTest, UpperBoundsAndOverflowAreRangeErrors) {
  EXPECT_THAT(single_error(load_with_admin("database:\n  pool_size: 65\n")),
              error_is("database.pool_size", 7, "must be between 1 and 64"));
  EXPECT_THAT(single_error(load_with_admin("database:\n  pool_size: -3\n")),
              error_is("database.pool_size", 7, "must be between 1 and 64"));
  EXPECT_THAT(single_error(load_with_admin("database:\n  pool_size: 99999999999999999999999\n")),
              error_is("database.pool_size", 7, "must be between 1 and 64"));
  EXPECT_THAT(single_error(load_with_admin("delivery:\n  max_attempts: 0x10\n")),
              error_is("delivery.max_attempts", 7, "expected an integer"));
}

TEST(ConfigTest, BackoffMaxBelowInitialIsAnError) {
  EXPECT_THAT(
      single_error(load_with_admin("delivery:\n  backoff_initial_ms: 1000\n"
                                   "  backoff_max_ms: 999\n")),
      error_is("delivery.backoff_max_ms", 8, "must be at least delivery.backoff_initial_ms"));
  // Only the initial delay set, above the default maximum: the initial delay is to blame.
  EXPECT_THAT(single_error(load_with_admin("delivery:\n  backoff_initial_ms: 400000\n")),
              error_is("delivery.backoff_initial_ms", 7, "must not exceed"));
  EXPECT_THAT(load_with_admin("delivery:\n  backoff_initial_ms: 7\n  backoff_max_ms: 7\n").errors,
              IsEmpty());
}

TEST(ConfigTest, AdminTokensAreRequired) {
  EXPECT_THAT(load("").errors, ElementsAre(error_is("admin.tokens", 0, "required")));
  EXPECT_THAT(load("# just a comment\n").errors,
              ElementsAre(error_is("admin.tokens", 0, "required")));
  EXPECT_THAT(load("logging:\n  level: info\nadmin:\n").errors,
              ElementsAre(error_is("admin.tokens", 3, "required")));
  EXPECT_THAT(load("admin:\n  tokens: []\n").errors,
              ElementsAre(error_is("admin.tokens", 2, "at least one")));
  EXPECT_THAT(load("admin:\n  tokens:\n").errors,
              ElementsAre(error_is("admin.tokens", 2, "at least one")));
  EXPECT_THAT(load("admin: {}\n").errors, ElementsAre(error_is("admin.tokens", 1, "required")));
  EXPECT_THAT(load("admin:\n  tokens: abc\n").errors,
              ElementsAre(error_is("admin.tokens", 2, "expected a list")));
}

TEST(ConfigTest, TokenEntryFieldsAreRequired) {
  const auto result = load("admin:\n  tokens:\n    - scopes: [read]\n    - just-a-string\n");
  EXPECT_THAT(result.errors, ElementsAre(error_is("admin.tokens[0].name", 3, "required"),
                                         error_is("admin.tokens[0].token", 3, "required"),
                                         error_is("admin.tokens[1]", 4, "expected a mapping")));
}

TEST(ConfigTest, ShortTokenIsRejected) {
  const std::string short_token = "0123456789abcdef0123456789abcde";  // 31 characters
  const auto error =
      single_error(load("admin:\n  tokens:\n    - name: ops\n      token: " + short_token +
                        "\n      scopes: [read]\n"));
  EXPECT_THAT(error, error_is("admin.tokens[0].token", 4, "at least 32 characters"));
}

TEST(ConfigTest, TokenWithSpacesIsRejected) {
  const auto error =
      single_error(load(std::string("admin:\n  tokens:\n    - name: ops\n      token: \"") +
                        kToken + " x\"\n      scopes: [read]\n"));
  EXPECT_THAT(error, error_is("admin.tokens[0].token", 4, "without spaces"));
}

TEST(ConfigTest, BadScopesAreRejected) {
  const auto token = std::string(kToken);
  const auto result = load(
      "admin:\n  tokens:\n"
      "    - name: a\n      token: a" +
      token +
      "\n"
      "      scopes: [read, admin]\n"
      "    - name: b\n      token: b" +
      token +
      "\n      scopes: []\n"
      "    - name: c\n      token: c" +
      token +
      "\n      scopes: write\n"
      "    - name: d\n      token: d" +
      token + "\n");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("admin.tokens[0].scopes[1]", 5, "expected read or write"),
                          error_is("admin.tokens[1].scopes", 8, "at least one scope"),
                          error_is("admin.tokens[2].scopes", 11, "expected a list"),
                          error_is("admin.tokens[3].scopes", 12, "required")));
}

TEST(ConfigTest, DuplicateTokenNamesAndValuesAreRejected) {
  const auto token = std::string(kToken);
  const auto result = load(
      "admin:\n  tokens:\n"
      "    - {name: ops, token: " +
      token +
      ", scopes: [read]}\n"
      "    - {name: ops, token: x" +
      token +
      ", scopes: [read]}\n"
      "    - {name: other, token: " +
      token + ", scopes: [read]}\n");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("admin.tokens[1].name", 4, "duplicate token name \"ops\""),
                          error_is("admin.tokens[2].token", 5, "same token as admin.tokens[0]")));
}

TEST(ConfigTest, ValidListenForms) {
  struct Case {
    std::string listen;
    std::string host;
    std::uint16_t port;
  };
  for (const auto& [listen, host, port] :
       {Case{"127.0.0.1:8480", "127.0.0.1", 8480}, Case{"0.0.0.0:0", "0.0.0.0", 0},
        Case{"localhost:65535", "localhost", 65535}, Case{"[::1]:8480", "::1", 8480},
        Case{"[::]:1", "::", 1}, Case{"[fe80::1%eth0]:9", "fe80::1%eth0", 9}}) {
    SCOPED_TRACE(listen);
    const auto result = load_with_admin("http:\n  listen: \"" + listen + "\"\n");
    ASSERT_THAT(result.errors, IsEmpty());
    EXPECT_EQ(result.config->http.host, host);
    EXPECT_EQ(result.config->http.port, port);
  }
}

TEST(ConfigTest, BadListenForms) {
  const std::pair<std::string, std::string> cases[] = {
      {"127.0.0.1", "expected host:port"},
      {":8480", "host must not be empty"},
      {"::1:8480", "must be in brackets"},
      {"[::1]", "expected host:port"},
      {"[::1]8480", "expected host:port"},
      {"[]:80", "must be an IPv6 address"},
      {"[1.2.3.4]:80", "must be an IPv6 address"},
      {"host:99999", "port must be a number from 0 to 65535"},
      {"host:65536", "port must be a number from 0 to 65535"},
      {"host:http", "port must be a number from 0 to 65535"},
      {"host:", "port must be a number from 0 to 65535"},
      {"host:-1", "port must be a number from 0 to 65535"},
      {"ho st:80", "not a valid hostname"},
      {"", "expected host:port"},
  };
  for (const auto& [listen, message] : cases) {
    SCOPED_TRACE(listen);
    EXPECT_THAT(single_error(load_with_admin("http:\n  listen: \"" + listen + "\"\n")),
                error_is("http.listen", 7, message));
  }
}

TEST(ConfigTest, LoggingWordsAreChecked) {
  for (const auto* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_THAT(load_with_admin(std::string("logging:\n  level: ") + level + "\n").errors,
                IsEmpty());
  }
  const auto result = load_with_admin("logging:\n  level: warning\n  format: xml\n");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("logging.level", 7, "expected one of: trace, debug, info"),
                          error_is("logging.format", 8, "expected one of: text, json")));
}

TEST(ConfigTest, UnknownConnectorTypeIsAnError) {
  const auto result = load_with_admin("connectors:\n  telegram:\n    - name: m\n  spool: []\n");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.telegram", 8, "unknown connector type")));
}

TEST(ConfigTest, MatrixConnectorNeedsItsKeysAndValidValues) {
  const auto missing = load_with_admin("connectors:\n  matrix:\n    - name: m\n");
  EXPECT_THAT(missing.errors,
              ElementsAre(error_is("connectors.matrix[0].homeserver_url", 8, "required"),
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
  ASSERT_EQ(good.config->connectors.matrix.size(), 1u);
  const auto& m = good.config->connectors.matrix[0];
  EXPECT_EQ(m.server_name, "example.org");
  EXPECT_EQ(m.ghost_prefix, "_coi_");
  EXPECT_EQ(m.bot_localpart, "coibridge");
  EXPECT_TRUE(m.verify_certificate);
}

TEST(ConfigTest, MatrixPermissionsMapSubjectsToLevels) {
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
  EXPECT_FALSE(absent.config->connectors.matrix[0].permissions.has_value());
  EXPECT_FALSE(absent.config->connectors.matrix[0].public_portals);

  const auto good = load_with_admin(head + R"(      public_portals: true
      permissions:
        "*": user
        example.org: user
        "matrix.example.org:8448": user
        "@alice:example.org": admin
)");
  ASSERT_TRUE(good.errors.empty()) << good.errors[0].path << ": " << good.errors[0].message;
  const auto& m = good.config->connectors.matrix[0];
  EXPECT_TRUE(m.public_portals);
  ASSERT_TRUE(m.permissions.has_value());
  EXPECT_EQ(*m.permissions, (std::map<std::string, std::string>{{"*", "user"},
                                                                {"example.org", "user"},
                                                                {"matrix.example.org:8448", "user"},
                                                                {"@alice:example.org", "admin"}}));

  // An empty table is a table: nobody may give commands.
  const auto empty = load_with_admin(head + "      permissions:\n");
  ASSERT_TRUE(empty.errors.empty());
  EXPECT_EQ(empty.config->connectors.matrix[0].permissions, (std::map<std::string, std::string>{}));

  const auto bad = load_with_admin(head + R"(      permissions:
        "@alice:example.org": root
        "@bob": admin
        "a b": user
        "@carol:example.org": [admin]
      public_portals: yes
)");
  EXPECT_THAT(
      bad.errors,
      ElementsAre(
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

TEST(ConfigTest, ConnectorNamesAreCheckedAndUnique) {
  const auto result = load_with_admin(R"(connectors:
  spool:
    - {name: spool, inbox_dir: a, outbox_dir: b}
    - {name: spool, inbox_dir: c, outbox_dir: d}
    - {name: Spool, inbox_dir: e, outbox_dir: f}
    - {name: "", inbox_dir: g, outbox_dir: h}
    - {name: "a/b", inbox_dir: i, outbox_dir: j}
)");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.spool[2].name", 10, "must match [a-z0-9_.-]+"),
                          error_is("connectors.spool[3].name", 11, "must not be empty"),
                          error_is("connectors.spool[4].name", 12, "must match"),
                          error_is("connectors.spool[1].name", 9,
                                   "duplicate connector name \"spool\" (also "
                                   "connectors.spool[0].name)")));
}

TEST(ConfigTest, SpoolFieldsAreRequiredAndDistinct) {
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

TEST(ConfigTest, YamlSyntaxErrorHasALine) {
  const auto error = single_error(load("logging:\n  level: info\nhttp: [1\nadmin: x\n"));
  EXPECT_EQ(error.path, "");
  EXPECT_GT(error.line, 0);
  EXPECT_EQ(error.line, 4);
  EXPECT_THAT(error.message, HasSubstr("YAML syntax error"));

  const auto indent = single_error(load("logging:\n  level: info\n   format: text\n"));
  EXPECT_EQ(indent.line, 3);
}

TEST(ConfigTest, MissingFileIsAnError) {
  const auto result = load_config_file("/nonexistent/coi-bridge.yaml", no_env());
  const auto error = single_error(result);
  EXPECT_EQ(error.line, 0);
  EXPECT_THAT(error.message, HasSubstr("No such file"));
  EXPECT_EQ(format_config_error("/nonexistent/coi-bridge.yaml", error),
            "/nonexistent/coi-bridge.yaml: cannot open: No such file or directory");
}

TEST(ConfigTest, DirectoryIsNotAConfigFile) {
  const auto error = single_error(load_config_file("/tmp", no_env()));
  EXPECT_THAT(error.message, HasSubstr("is a directory"));
}

TEST(ConfigTest, LoadsFromAFile) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "config_test_file.yaml";
  {
    std::ofstream out(path);
    out << admin_section() << "http:\n  listen: 127.0.0.1:1\n  port: 2\n";
  }
  const auto result = load_config_file(path.string(), no_env());
  std::filesystem::remove(path);
  const auto error = single_error(result);
  EXPECT_EQ(format_config_error("c.yaml", error), "c.yaml:8: http.port: unknown key");
}

TEST(ConfigTest, AllErrorsAreCollected) {
  const auto result = load(R"(database:
  pool_size: 100
  socket: /tmp
http:
  listen: nowhere
logging:
  level: loud
)");
  EXPECT_THAT(result.errors, ElementsAre(error_is("database.pool_size", 2, "between"),
                                         error_is("database.socket", 3, "unknown key"),
                                         error_is("http.listen", 5, "expected host:port"),
                                         error_is("logging.level", 7, "expected one of"),
                                         error_is("admin.tokens", 0, "required")));
}

TEST(ConfigTest, EnvironmentOverridesWinOverTheFile) {
  const auto env = env_of({
      {"COIBRIDGE_DATABASE_URL", "host=/run/postgresql dbname=coi"},
      {"COIBRIDGE_DATABASE_DATA_DIR", "/srv/pg"},
      {"COIBRIDGE_DATABASE_PG_BIN_DIR", "/opt/pg/bin"},
      {"COIBRIDGE_DATABASE_POOL_SIZE", "16"},
      {"COIBRIDGE_HTTP_LISTEN", "[::]:9000"},
      {"COIBRIDGE_HTTP_MAX_BODY_BYTES", "4096"},
      {"COIBRIDGE_LOGGING_LEVEL", "trace"},
      {"COIBRIDGE_LOGGING_FORMAT", "json"},
      {"COIBRIDGE_DELIVERY_MAX_ATTEMPTS", "5"},
      {"COIBRIDGE_DELIVERY_BACKOFF_INITIAL_MS", "10"},
      {"COIBRIDGE_DELIVERY_BACKOFF_MAX_MS", "20"},
  });
  const auto result = load_config_text(admin_section() + R"(database:
  url: postgresql://file/db
  pool_size: 2
http:
  listen: 127.0.0.1:1
logging:
  level: error
delivery:
  backoff_initial_ms: 100000
)",
                                       env);
  ASSERT_THAT(result.errors, IsEmpty());
  const Config& config = *result.config;
  EXPECT_EQ(config.database.url, "host=/run/postgresql dbname=coi");
  EXPECT_EQ(config.database.data_dir, "/srv/pg");
  EXPECT_EQ(config.database.pg_bin_dir, "/opt/pg/bin");
  EXPECT_EQ(config.database.pool_size, 16);
  EXPECT_EQ(config.http.host, "::");
  EXPECT_EQ(config.http.port, 9000);
  EXPECT_EQ(config.http.max_body_bytes, 4096u);
  EXPECT_EQ(config.logging.level, "trace");
  EXPECT_EQ(config.logging.format, LogOutput::kJson);
  EXPECT_EQ(config.delivery.max_attempts, 5);
  EXPECT_EQ(config.delivery.backoff_initial, std::chrono::milliseconds(10));
  EXPECT_EQ(config.delivery.backoff_max, std::chrono::milliseconds(20));
}

TEST(ConfigTest, EnvironmentCanClearAString) {
  const auto result = load_config_text(admin_section() + "database:\n  url: postgresql://x/y\n",
                                       env_of({{"COIBRIDGE_DATABASE_URL", ""}}));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->database.url, "");
}

TEST(ConfigTest, BadEnvValuesNameTheVariable) {
  const auto result = load_config_text(admin_section(), env_of({
                                                            {"COIBRIDGE_DATABASE_POOL_SIZE", "x"},
                                                            {"COIBRIDGE_HTTP_LISTEN", "8480"},
                                                            {"COIBRIDGE_LOGGING_FORMAT", "yaml"},
                                                        }));
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("COIBRIDGE_DATABASE_POOL_SIZE", 0, "expected an integer"),
                          error_is("COIBRIDGE_HTTP_LISTEN", 0, "expected host:port"),
                          error_is("COIBRIDGE_LOGGING_FORMAT", 0, "expected one of")));
  EXPECT_EQ(format_config_error("c.yaml", result.errors[0]),
            "c.yaml: COIBRIDGE_DATABASE_POOL_SIZE: expected an integer");
}

TEST(ConfigTest, CrossKeyErrorBlamesTheEnvVarThatSetIt) {
  const auto result = load_config_text(admin_section() + "delivery:\n  backoff_initial_ms: 1000\n",
                                       env_of({{"COIBRIDGE_DELIVERY_BACKOFF_MAX_MS", "10"}}));
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("COIBRIDGE_DELIVERY_BACKOFF_MAX_MS", 0, "must be at least")));
}

TEST(ConfigTest, ProcessEnvReadsTheEnvironment) {
  ASSERT_EQ(::setenv("COIBRIDGE_LOGGING_LEVEL", "critical", 1), 0);
  const auto result = load_config_text(admin_section(), process_env());
  ::unsetenv("COIBRIDGE_LOGGING_LEVEL");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->logging.level, "critical");
  EXPECT_FALSE(process_env()("COIBRIDGE_SURELY_NOT_SET_ANYWHERE").has_value());
}

TEST(ConfigTest, TokenValuesNeverAppearInErrors) {
  // Every way a token can be misplaced or invalid; none of the resulting messages may leak it.
  const std::string secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
  const std::string short_secret = "s3cr3t-short";
  const std::string yaml =
      "admin:\n  tokens:\n"
      "    - {name: a, token: " +
      secret + ", scopes: [" + secret +
      "]}\n"
      "    - {name: b, token: " +
      secret +
      ", scopes: [read]}\n"
      "    - {name: c, token: " +
      short_secret +
      ", scopes: [read]}\n"
      "    - {name: d, token: \"" +
      secret +
      " \", scopes: [read]}\n"
      "    - {name: e, token: [" +
      secret +
      "], scopes: [read]}\n"
      "    - " +
      secret +
      "\n"
      "    - {name: f, tokn: " +
      secret +
      ", scopes: [read]}\n"
      "  token: " +
      secret + "\n";
  const auto result = load_config_text(yaml, env_of({{"COIBRIDGE_DATABASE_URL", secret},
                                                     {"COIBRIDGE_DATABASE_POOL_SIZE", secret},
                                                     {"COIBRIDGE_HTTP_LISTEN", secret}}));
  ASSERT_THAT(result.errors, SizeIs(::testing::Ge(8u)));
  for (const auto& error : result.errors) {
    const std::string text = format_config_error("c.yaml", error);
    EXPECT_THAT(text, Not(HasSubstr("s3cr3t"))) << text;
  }
}

TEST(ConfigTest, FormatConfigError) {
  EXPECT_EQ(format_config_error("/etc/c.yaml", ConfigError{"http.listen", 12, "bad"}),
            "/etc/c.yaml:12: http.listen: bad");
  EXPECT_EQ(format_config_error("/etc/c.yaml", ConfigError{"COIBRIDGE_X", 0, "bad"}),
            "/etc/c.yaml: COIBRIDGE_X: bad");
  EXPECT_EQ(format_config_error("c.yaml", ConfigError{"", 3, "YAML syntax error: x"}),
            "c.yaml:3: YAML syntax error: x");
}

TEST(ConfigTest, ExampleFileLoadsCleanly) {
  const std::string path = std::string(COIBRIDGE_SOURCE_DIR) + "/config/coi-bridge.example.yaml";
  const auto result = load_config_file(path, no_env());
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
  EXPECT_THAT(config.connectors.spool, IsEmpty());
}

}  // namespace
}  // namespace coibridge::core

namespace coibridge::core {
namespace {

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

TEST(ConfigCoiTest, FullEntryIsRead) {
  auto r = load_config_text(std::string("admin:\n  tokens:\n    - {name: ops, token: "
                                        "0123456789abcdef0123456789abcdef, scopes: [read]}\n") +
                                kCoiSection,
                            [](const std::string&) { return std::optional<std::string>(); });
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].path << ": " << r.errors[0].message;
  ASSERT_EQ(r.config->connectors.coi.size(), 1u);
  const auto& c = r.config->connectors.coi[0];
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
}

TEST(ConfigCoiTest, ErrorsNameTheKeyAndNeverTheSecret) {
  const std::string yaml = std::string(
                               "admin:\n  tokens:\n    - {name: ops, token: "
                               "0123456789abcdef0123456789abcdef, scopes: [read]}\n") +
                           R"(connectors:
  spool:
    - {name: mail, inbox_dir: a, outbox_dir: b}
  coi:
    - name: mail
      address: not-an-address
      identity: ghost
      imap: {host: h, port: 99999, tls: sometimes, username: u, password: "p4ss-w0rd-secret", color: blue}
      smtp: {host: h, port: 25, username: u}
)";
  auto r = load_config_text(yaml, [](const std::string&) { return std::optional<std::string>(); });
  ASSERT_FALSE(r.config.has_value());
  std::set<std::string> paths;
  for (const auto& e : r.errors) {
    paths.insert(e.path);
    EXPECT_EQ(e.message.find("p4ss-w0rd-secret"), std::string::npos);
  }
  for (const char* p :
       {"connectors.coi[0].address", "connectors.coi[0].identity", "connectors.coi[0].imap.port",
        "connectors.coi[0].imap.tls", "connectors.coi[0].imap.color",
        "connectors.coi[0].smtp.password", "connectors.coi[0].name"}) {
    EXPECT_TRUE(paths.contains(p)) << p;
  }
}

}  // namespace
}  // namespace coibridge::core
