#include "core/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <string>

#include "core/config/config_section.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace coibridge::core {

namespace {

using namespace config_test;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// A connector type made for these tests: what the core does with any type's section (names,
// unknown keys, environment overrides, secret files) is shown with it.
struct ProbeConfig : ConnectorConfig {
  std::string inbox_dir;
  std::string outbox_dir;
  std::string password;
  std::int64_t port = 0;
};

std::shared_ptr<ConnectorConfig> parse_probe(ConfigSection& section) {
  using Need = ConfigSection::Need;
  auto probe = std::make_shared<ProbeConfig>();
  auto inbox = section.text("inbox_dir", Need::kRequired);
  auto outbox = section.text("outbox_dir", Need::kRequired);
  if (auto password = section.secret("password")) probe->password = *password;
  if (auto server = section.section("server")) {
    if (auto port = server->integer("port", 1, 65535, Need::kRequired)) probe->port = *port;
  }
  if (!inbox || !outbox) return nullptr;
  probe->inbox_dir = *inbox;
  probe->outbox_dir = *outbox;
  return probe;
}

const ConnectorConfigParsers& probe_types() {
  static const ConnectorConfigParsers types{{"probe", parse_probe}};
  return types;
}

const ProbeConfig& probe(const Config& config, std::size_t index) {
  return dynamic_cast<const ProbeConfig&>(*config.connectors.at(index));
}

ConfigLoad load_config_text(const std::string& yaml, const EnvLookup& env) {
  return core::load_config_text(yaml, env, probe_types());
}
ConfigLoad load_config_file(const std::string& path, const EnvLookup& env) {
  return core::load_config_file(path, env, probe_types());
}
ConfigLoad load(const std::string& yaml) { return load_config_text(yaml, no_env()); }
ConfigLoad load_with_admin(const std::string& yaml) { return load(admin_section() + yaml); }

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
  EXPECT_THAT(config.connectors, IsEmpty());
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
  probe:
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
  ASSERT_THAT(config.connectors, SizeIs(2));
  EXPECT_EQ(probe(config, 0).name, "spool");
  EXPECT_EQ(probe(config, 0).inbox_dir, "data/spool/in");
  EXPECT_EQ(probe(config, 0).outbox_dir, "data/spool/out");
  EXPECT_EQ(probe(config, 1).name, "spool-2.test_x");
}

TEST(ConfigTest, EmptySectionsAndEmptyStringsAreAllowed) {
  const auto result = load_with_admin(
      "database:\n  url:\n  pg_bin_dir: ''\nhttp:\nconnectors:\n"
      "  probe:\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->database.url, "");
  EXPECT_EQ(result.config->http.port, 8480);
}

TEST(ConfigTest, UnknownKeysNameTheFullPathAndLine) {
  const auto result = load_with_admin(R"(http:
  lisen: 127.0.0.1:1
colour: blue
connectors:
  probe:
    - name: a
      inbox_dir: i
      outbox_dir: o
      mode: fast
)" + std::string("admin2: {}\n"));
  EXPECT_THAT(result.errors, ElementsAre(error_is("http.lisen", 7, "unknown key"),
                                         error_is("colour", 8, "unknown key"),
                                         error_is("connectors.probe[0].mode", 14, "unknown key"),
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
connectors: [probe]
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
        Case{"10.1.2.3:65535", "10.1.2.3", 65535}, Case{"[::1]:8480", "::1", 8480},
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
      // The server looks up no names: one would pass here and fail at start-up.
      {"localhost:8480", "host must be an IP address"},
      {"bridge.example.org:80", "host must be an IP address"},
      {"1.2.3:80", "host must be an IP address"},
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
  const auto result = load_with_admin("connectors:\n  telegram:\n    - name: m\n  probe: []\n");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.telegram", 8, "unknown connector type")));
}

TEST(ConfigTest, ConnectorNamesAreCheckedAndUnique) {
  const auto result = load_with_admin(R"(connectors:
  probe:
    - {name: spool, inbox_dir: a, outbox_dir: b}
    - {name: spool, inbox_dir: c, outbox_dir: d}
    - {name: Spool, inbox_dir: e, outbox_dir: f}
    - {name: "", inbox_dir: g, outbox_dir: h}
    - {name: "a/b", inbox_dir: i, outbox_dir: j}
)");
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.probe[2].name", 10, "must match [a-z0-9_.-]+"),
                          error_is("connectors.probe[3].name", 11, "must not be empty"),
                          error_is("connectors.probe[4].name", 12, "must match"),
                          error_is("connectors.probe[1].name", 9,
                                   "duplicate connector name \"spool\" (also "
                                   "connectors.probe[0].name)")));
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

TEST(ConfigTest, ConfigEnvNamesFollowTheKeyPath) {
  EXPECT_EQ(config_env_name("connectors.coi[0].smtp.password"),
            "COIBRIDGE_CONNECTORS_COI_0_SMTP_PASSWORD");
  EXPECT_EQ(config_env_name("database.pool_size"), "COIBRIDGE_DATABASE_POOL_SIZE");
}

// Every scalar of a connector's section, nested or not, of any instance, can come from the
// environment, and the environment wins.
TEST(ConfigTest, EnvironmentOverridesConnectorKeysPerInstance) {
  const auto result =
      load_config_text(admin_section() + R"(connectors:
  probe:
    - name: a
      inbox_dir: in-a
      outbox_dir: out-a
      server: {port: 1}
    - name: b
      inbox_dir: in-b
      server: {}
)",
                       env_of({{"COIBRIDGE_CONNECTORS_PROBE_1_OUTBOX_DIR", "out-b"},
                               {"COIBRIDGE_CONNECTORS_PROBE_1_SERVER_PORT", "2"},
                               {"COIBRIDGE_CONNECTORS_PROBE_0_PASSWORD", "pw-a"},
                               {"COIBRIDGE_CONNECTORS_PROBE_0_INBOX_DIR", "env-in"}}));
  ASSERT_THAT(result.errors, IsEmpty());
  const Config& config = *result.config;
  EXPECT_EQ(probe(config, 0).inbox_dir, "env-in");
  EXPECT_EQ(probe(config, 0).password, "pw-a");
  EXPECT_EQ(probe(config, 0).port, 1);
  EXPECT_EQ(probe(config, 1).outbox_dir, "out-b");  // required, and only in the environment
  EXPECT_EQ(probe(config, 1).port, 2);
}

TEST(ConfigTest, BadConnectorEnvValueNamesTheKey) {
  const auto result = load_config_text(admin_section() + R"(connectors:
  probe:
    - {name: a, inbox_dir: i, outbox_dir: o, server: {port: 1}}
)",
                                       env_of({{"COIBRIDGE_CONNECTORS_PROBE_0_SERVER_PORT", "x"}}));
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.probe[0].server.port", 8, "expected an integer")));
}

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("coibridge-secret-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(SecretFileTest, SecretComesFromTheNamedFileWithoutItsNewline) {
  const std::string file = write("pw", "from-file\n");
  const auto result = load_config_text(admin_section() +
                                           "connectors:\n  probe:\n"
                                           "    - {name: a, inbox_dir: i, outbox_dir: o, "
                                           "password_file: " +
                                           file + "}\n",
                                       no_env());
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(probe(*result.config, 0).password, "from-file");
}

TEST_F(SecretFileTest, SecretFileCanBeNamedByTheEnvironment) {
  const std::string file = write("pw", "container-secret");
  const auto result = load_config_text(
      admin_section() + "connectors:\n  probe:\n    - {name: a, inbox_dir: i, outbox_dir: o}\n",
      env_of({{"COIBRIDGE_CONNECTORS_PROBE_0_PASSWORD_FILE", file}}));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(probe(*result.config, 0).password, "container-secret");
}

TEST_F(SecretFileTest, SecretAndItsFileTogetherOrAMissingFileAreErrors) {
  const std::string file = write("pw", "s3cr3t-in-file");
  const auto result = load_config_text(admin_section() +
                                           "connectors:\n  probe:\n"
                                           "    - {name: a, inbox_dir: i, outbox_dir: o, "
                                           "password: s3cr3t-inline, password_file: " +
                                           file +
                                           "}\n"
                                           "    - {name: b, inbox_dir: i, outbox_dir: o, "
                                           "password_file: " +
                                           (dir_ / "absent").string() + "}\n",
                                       no_env());
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.probe[0].password_file", 8, "not both"),
                          error_is("connectors.probe[1].password_file", 9, "cannot open")));
  for (const auto& error : result.errors) {
    EXPECT_THAT(error.message, Not(HasSubstr("s3cr3t"))) << error.message;
  }
}

TEST_F(SecretFileTest, DatabaseUrlAndAdminTokensComeFromFilesOrTheEnvironment) {
  const std::string url_file = write("url", "postgresql://u:s3cr3t@db/coi\n");
  const std::string token_file = write("token", std::string(kOtherToken) + "\n");
  const auto from_files =
      load_config_text("admin:\n  tokens:\n    - {name: ops, token_file: " + token_file +
                           ", scopes: [read]}\ndatabase:\n  url_file: " + url_file + "\n",
                       no_env());
  ASSERT_THAT(from_files.errors, IsEmpty());
  EXPECT_EQ(from_files.config->database.url, "postgresql://u:s3cr3t@db/coi");
  EXPECT_EQ(from_files.config->admin.tokens[0].token, kOtherToken);

  // A token only in the environment, and the URL from a file the environment names.
  const auto from_env = load_config_text("admin:\n  tokens:\n    - {name: ops, scopes: [read]}\n",
                                         env_of({{"COIBRIDGE_ADMIN_TOKENS_0_TOKEN", kToken},
                                                 {"COIBRIDGE_DATABASE_URL_FILE", url_file}}));
  ASSERT_THAT(from_env.errors, IsEmpty());
  EXPECT_EQ(from_env.config->admin.tokens[0].token, kToken);
  EXPECT_EQ(from_env.config->database.url, "postgresql://u:s3cr3t@db/coi");

  const auto both = load_config_text(
      admin_section() + "database:\n  url_file: " + url_file + "\n  url: postgresql://x/y\n",
      no_env());
  EXPECT_THAT(both.errors, ElementsAre(error_is("database.url", 8, "not both")));
  const auto short_env = load_config_text("admin:\n  tokens:\n    - {name: ops, scopes: [read]}\n",
                                          env_of({{"COIBRIDGE_ADMIN_TOKENS_0_TOKEN", "s3cr3t"}}));
  ASSERT_THAT(short_env.errors,
              ElementsAre(error_is("COIBRIDGE_ADMIN_TOKENS_0_TOKEN", 0, "at least 32")));
  for (const auto& e : short_env.errors) EXPECT_THAT(e.message, Not(HasSubstr("s3cr3t")));
}

TEST(ConfigTest, UnknownKeysInNestedConnectorSectionsAreReported) {
  const auto result = load_config_text(admin_section() + R"(connectors:
  probe:
    - name: a
      inbox_dir: i
      outbox_dir: o
      server: {port: 1, colour: blue}
      extra: 1
)",
                                       no_env());
  EXPECT_THAT(result.errors,
              ElementsAre(error_is("connectors.probe[0].extra", 12, "unknown key"),
                          error_is("connectors.probe[0].server.colour", 11, "unknown key")));
}

}  // namespace
}  // namespace coibridge::core
