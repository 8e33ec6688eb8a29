// The coi-bridge binary as an operator runs it: REST persistence across restarts, auth on
// every /api route, crash safety of the outbox, the embedded database, and the CLI.

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <regex>
#include <thread>

#include "core/admin/admin_api.hpp"
#include "core/admin/routes.hpp"
#include "tests/pg/bridge_process.hpp"
#include "tests/pg/pg_database.hpp"
#include "tests/support/http_test_client.hpp"

namespace coibridge::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::http_request;
using test::TestResponse;

const std::string kWriteToken(64, 'w');
const std::string kReadToken = "r-" + std::string(40, 'r');

class TempDir {
 public:
  TempDir() {
    // Short: the embedded cluster's socket path must fit in sockaddr_un.
    char tmpl[] = "/tmp/cbp.XXXXXX";
    path_ = ::mkdtemp(tmpl);
    fs::permissions(path_, fs::perms::all);  // the postgres user must reach the data_dir
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ConfigOptions {
  std::string database_url;  // empty: embedded
  std::string extra;         // appended YAML
  std::size_t max_body_bytes = 4096;
};

class ProcessTest : public ::testing::Test {
 protected:
  void write_config(const ConfigOptions& o) {
    std::ofstream out(config_path());
    out << "database:\n  url: \"" << o.database_url << "\"\n  data_dir: " << dir_.path() << "/db\n"
        << "http:\n  listen: 127.0.0.1:" << port_ << "\n  max_body_bytes: " << o.max_body_bytes
        << "\n"
        << "admin:\n  tokens:\n"
        << "    - {name: writer, token: \"" << kWriteToken << "\", scopes: [read, write]}\n"
        << "    - {name: reader, token: \"" << kReadToken << "\", scopes: [read]}\n"
        << "logging:\n  level: debug\n"
        << "delivery:\n  max_attempts: 1000\n  backoff_initial_ms: 20\n  backoff_max_ms: 200\n"
        << "connectors:\n  spool:\n    - {name: spool, inbox_dir: " << dir_.path()
        << "/in, outbox_dir: " << dir_.path() << "/out}\n"
        << o.extra;
  }
  std::string config_path() const { return dir_.path() + "/config.yaml"; }
  std::string log_path() const { return dir_.path() + "/bridge.log"; }

  std::unique_ptr<BridgeProcess> start() {
    auto p = std::make_unique<BridgeProcess>(
        std::vector<std::string>{"run", "--config", config_path()}, log_path());
    p->start();
    EXPECT_TRUE(p->wait_ready(port_)) << p->log();
    return p;
  }

  TestResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& token = kWriteToken) {
    test::TestHeaders headers;
    if (!token.empty()) headers.push_back({"Authorization", "Bearer " + token});
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    return http_request("127.0.0.1", port_, method, target, body, headers);
  }

  // A bridge of that name linking the spool's room-a and room-b, through the REST API.
  void bridge_of_two_spool_rooms(const std::string& name) {
    const auto created = call("POST", "/api/v1/bridges", json{{"name", name}}.dump());
    ASSERT_EQ(created.status, 201) << created.body;
    const auto id = json::parse(created.body)["id"].get<std::int64_t>();
    for (const char* conv : {"room-a", "room-b"}) {
      ASSERT_EQ(call("POST", "/api/v1/bridges/" + std::to_string(id) + "/links",
                     json{{"connector", "spool"}, {"remote_id", conv}}.dump())
                    .status,
                201);
    }
  }

  TempDir dir_;
  std::uint16_t port_ = free_port();
};

class ExternalDbTest : public ProcessTest {
 protected:
  std::string dead_letter_reasons() {
    pqxx::connection c(pg_.conninfo());
    pqxx::read_transaction tx(c);
    std::string out;
    for (const auto& row : tx.exec("SELECT reason FROM dead_letters ORDER BY id")) {
      out += row[0].as<std::string>() + "\n";
    }
    return out;
  }

  void SetUp() override { write_config({pg_.conninfo(), ""}); }

  std::int64_t count(const std::string& sql) {
    pqxx::connection c(pg_.conninfo());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<std::int64_t>();
  }

  PgDatabase pg_;
};

TEST_F(ExternalDbTest, RestCrudPersistsAcrossRestart) {
  auto bridge = start();
  auto created = call("POST", "/api/v1/bridges", R"({"name":"team"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = json::parse(created.body)["id"].get<std::int64_t>();
  const auto base = "/api/v1/bridges/" + std::to_string(id);
  auto link = call("POST", base + "/links",
                   R"({"connector":"spool","remote_id":"general","options":{"direction":"both"}})");
  ASSERT_EQ(link.status, 201) << link.body;
  ASSERT_EQ(call("POST", base + "/links", R"({"connector":"spool","remote_id":"random"})").status,
            201);

  // The same conversation cannot sit in two bridges.
  auto other = json::parse(call("POST", "/api/v1/bridges", R"({"name":"other"})").body)["id"]
                   .get<std::int64_t>();
  auto dup = call("POST", "/api/v1/bridges/" + std::to_string(other) + "/links",
                  R"({"connector":"spool","remote_id":"general"})");
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_EQ(call("POST", "/api/v1/bridges", R"({"name":"team"})").status, 409);

  auto bad = call("POST", "/api/v1/bridges", R"({"name": 5})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["field"], "name");
  EXPECT_EQ(call("POST", "/api/v1/bridges", "{not json").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/bridges", std::string(8192, ' ')).status, 413);
  EXPECT_EQ(call("GET", "/api/v1/nothing-here").status, 404);

  EXPECT_EQ(bridge->stop(SIGTERM), 0) << bridge->log();
  bridge = start();

  auto got = call("GET", base);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json::parse(got.body)["name"], "team");
  auto links = json::parse(call("GET", base + "/links").body)["items"];
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0]["remote_id"], "general");
  EXPECT_EQ(links[0]["options"]["direction"], "both");
  auto page = json::parse(call("GET", "/api/v1/bridges?limit=1").body);
  EXPECT_EQ(page["items"].size(), 1u);
  EXPECT_FALSE(page["next_after"].is_null());

  ASSERT_EQ(call("PATCH", base, R"({"name":"crew"})").status, 200);
  ASSERT_EQ(
      call("DELETE", base + "/links/" + std::to_string(links[1]["id"].get<std::int64_t>())).status,
      204);
  ASSERT_EQ(call("DELETE", "/api/v1/bridges/" + std::to_string(other)).status, 204);

  EXPECT_EQ(bridge->stop(SIGTERM), 0);
  bridge = start();
  EXPECT_EQ(json::parse(call("GET", base).body)["name"], "crew");
  EXPECT_EQ(json::parse(call("GET", base + "/links").body)["items"].size(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/bridges/" + std::to_string(other)).status, 404);
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE actor = 'writer'"), 7);
}

TEST_F(ExternalDbTest, EveryApiRouteRefusesMissingWrongAndUnderScopedTokens) {
  auto bridge = start();
  auto id = json::parse(call("POST", "/api/v1/bridges", R"({"name":"auth"})").body)["id"]
                .get<std::int64_t>();
  auto link_id = json::parse(call("POST", "/api/v1/bridges/" + std::to_string(id) + "/links",
                                  R"({"connector":"spool","remote_id":"x"})")
                                 .body)["id"]
                     .get<std::int64_t>();
  int api_routes = 0;
  for (const auto& route : core::AdminApi::routes()) {
    const auto path = core::fill_pattern(
        route.pattern, {{"id", std::to_string(id)}, {"link_id", std::to_string(link_id)}});
    if (route.pattern.rfind("/api/", 0) != 0) {
      EXPECT_EQ(route.scope, core::Scope::kNone) << route.pattern;
      continue;
    }
    ++api_routes;
    const std::string body =
        route.method == "GET" || route.method == "DELETE" ? "" : R"({"name":"n"})";
    const auto what = route.method + " " + path;
    auto none = call(route.method, path, body, "");
    EXPECT_EQ(none.status, 401) << what;
    EXPECT_EQ(none.headers["www-authenticate"].rfind("Bearer", 0), 0u) << what;
    EXPECT_EQ(call(route.method, path, body, std::string(64, 'x')).status, 401) << what;
    EXPECT_EQ(call(route.method, path, body, kWriteToken.substr(0, 63)).status, 401) << what;
    EXPECT_EQ(call(route.method, path, body, kWriteToken + "x").status, 401) << what;
    if (route.scope == core::Scope::kWrite) {
      EXPECT_EQ(call(route.method, path, body, kReadToken).status, 403) << what;
    } else {
      EXPECT_EQ(call(route.method, path, body, kReadToken).status, 200) << what;
    }
  }
  EXPECT_GE(api_routes, 8);
  // Nothing was changed by the refused calls.
  EXPECT_EQ(count("SELECT count(*) FROM bridges"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM links"), 1);
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
}

TEST_F(ExternalDbTest, EventCommittedBeforeSigkillIsDeliveredAfterRestartExactlyOnce) {
  auto bridge = start();
  bridge_of_two_spool_rooms("kill");
  if (HasFatalFailure()) return;
  // The target is failing: its outbox directory does not exist yet.
  fs::create_directories(dir_.path() + "/in");
  {
    std::ofstream f(dir_.path() + "/in/001.json.part");
    f << json{{"where", {{"remote_id", "room-a"}}},
              {"who", {{"connector", "spool"}, {"remote_id", "alice"}, {"display_name", "Alice"}}},
              {"origin", {{"remote_id", "msg-1"}}},
              {"payload", {{"kind", "message.posted"}, {"body", {{"text", "survives a crash"}}}}}}
             .dump();
  }
  fs::rename(dir_.path() + "/in/001.json.part", dir_.path() + "/in/001.json");

  // Wait until the publish committed and a delivery attempt failed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count("SELECT count(*) FROM outbox WHERE attempts > 0") == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(count("SELECT count(*) FROM outbox WHERE attempts > 0"), 1) << bridge->log();
  EXPECT_FALSE(fs::exists(dir_.path() + "/in/001.json"));  // acknowledged after commit

  EXPECT_EQ(bridge->stop(SIGKILL), 128 + SIGKILL);
  fs::create_directories(dir_.path() + "/out");  // the target recovers
  bridge = start();

  const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count("SELECT count(*) FROM outbox") != 0 &&
         std::chrono::steady_clock::now() < deadline2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(count("SELECT count(*) FROM outbox"), 0) << bridge->log();
  EXPECT_EQ(bridge->stop(SIGTERM), 0);

  // Exactly one deliver() call happened, and it wrote the event once.
  const auto log = read_file(dir_.path() + "/out/deliveries.log");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_NE(log.find(" room-b written"), std::string::npos) << log;
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_.path() + "/out")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    auto delivered = json::parse(read_file(entry.path()));
    EXPECT_EQ(delivered["target"]["remote_id"], "room-b");
    EXPECT_EQ(delivered["event"]["payload"]["body"]["text"], "survives a crash");
    EXPECT_EQ(delivered["event"]["who"]["display_name"], "Alice");
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM message_parts"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters"), 0);
}

TEST_F(ExternalDbTest, MalformedInboundFileBecomesADeadLetterAndTheSpoolMovesOn) {
  auto bridge = start();
  fs::create_directories(dir_.path() + "/in");
  std::ofstream(dir_.path() + "/in/001.json") << "{ this is not json";
  std::ofstream(dir_.path() + "/in/002.json")
      << R"({"where":{"remote_id":"nowhere"},"who":{"connector":"spool","remote_id":"a"},"origin":{"remote_id":"x"},"payload":{"kind":"typing","active":true}})";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((fs::exists(dir_.path() + "/in/001.json") || fs::exists(dir_.path() + "/in/002.json")) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(fs::exists(dir_.path() + "/in/002.json"));
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters WHERE source = 'inbound' AND reason LIKE "
                  "'001.json:%'"),
            1);
  auto dead = json::parse(call("GET", "/api/v1/dead-letters", "", kReadToken).body);
  ASSERT_EQ(dead["items"].size(), 1u);
  auto metrics = http_request("127.0.0.1", port_, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("coibridge_inbound_rejected_total{connector=\"spool\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(
                "coibridge_events_published_total{connector=\"spool\",status=\"unlinked\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("coibridge_outbox_depth 0"), std::string::npos);
  EXPECT_NE(metrics.body.find("coibridge_http_requests_total"), std::string::npos);
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
}

// An inbox file or an attachment that is a symbolic link is refused, never read: otherwise a
// link to a file outside the inbox would be relayed (a root-only file, say). A good file
// dropped after them still arrives.
TEST_F(ExternalDbTest, SymbolicLinksInTheSpoolInboxAreDeadLettersNotRead) {
  auto bridge = start();
  bridge_of_two_spool_rooms("links");
  if (HasFatalFailure()) return;
  const std::string in = dir_.path() + "/in";
  fs::create_directories(in);
  fs::create_directories(dir_.path() + "/out");
  const auto message = [](const std::string& origin, const std::string& text,
                          const std::string& attachment) {
    json event{{"where", {{"remote_id", "room-a"}}},
               {"who", {{"connector", "spool"}, {"remote_id", "eve"}}},
               {"origin", {{"remote_id", origin}}},
               {"payload", {{"kind", "message.posted"}, {"body", {{"text", text}}}}}};
    if (!attachment.empty()) {
      event["payload"]["body"]["attachments"] = json::array({{{"filename", "x.txt"},
                                                              {"content_type", "text/plain"},
                                                              {"size", 12},
                                                              {"location", "file:" + attachment}}});
    }
    return event.dump();
  };
  // Outside the inbox: what a link must not leak.
  std::ofstream(dir_.path() + "/secret.json") << message("secret", "SECRET-OUTSIDE", "");
  std::ofstream(dir_.path() + "/secret.txt") << "SECRET-BYTES";
  fs::create_symlink(dir_.path() + "/secret.txt", in + "/att-link");
  { std::ofstream(in + "/002.json.part") << message("m2", "with a linked file", "att-link"); }
  fs::create_symlink(dir_.path() + "/secret.json", in + "/001.json");
  fs::rename(in + "/002.json.part", in + "/002.json");
  { std::ofstream(in + "/003.json.part") << message("m3", "after the links", ""); }
  fs::rename(in + "/003.json.part", in + "/003.json");

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count("SELECT count(*) FROM messages") + count("SELECT count(*) FROM dead_letters") < 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(
      count("SELECT count(*) FROM dead_letters WHERE reason LIKE '001.json: %symbolic link%'"), 1)
      << dead_letter_reasons();
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters WHERE reason LIKE '%att-link%symbolic link%'"),
            1)
      << dead_letter_reasons();
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 1);  // only the good one
  EXPECT_EQ(count("SELECT count(*) FROM blobs"), 0);
  EXPECT_TRUE(fs::exists(dir_.path() + "/secret.json"));  // the link went, not its target
  EXPECT_FALSE(fs::exists(in + "/001.json"));
  const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count("SELECT count(*) FROM outbox") != 0 &&
         std::chrono::steady_clock::now() < deadline2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
  const auto log = read_file(dir_.path() + "/out/deliveries.log");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  for (const auto& entry : fs::recursive_directory_iterator(dir_.path() + "/out")) {
    if (!entry.is_regular_file()) continue;
    const auto text = read_file(entry.path());
    EXPECT_EQ(text.find("SECRET"), std::string::npos) << entry.path();
  }
}

// Inbound items that would fail the same way on every retry are stored cleaned or parked as
// dead letters; either way the inbox moves on.
TEST_F(ExternalDbTest, PoisonInboundFilesNeverWedgeTheSpool) {
  auto bridge = start();
  bridge_of_two_spool_rooms("poison");
  if (HasFatalFailure()) return;
  fs::create_directories(dir_.path() + "/out");
  fs::create_directories(dir_.path() + "/in");
  const auto drop = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir_.path() + "/in/" + name + ".part") << text;
    fs::rename(dir_.path() + "/in/" + name + ".part", dir_.path() + "/in/" + name);
  };
  // JSON may carry U+0000 (RFC 8259 §7); PostgreSQL's text and jsonb cannot.
  drop(
      "001.json",
      R"({"where":{"remote_id":"room-a"},"who":{"connector":"spool","remote_id":"alice","display_name":"Al\u0000ice"},)"
      R"("origin":{"remote_id":"nul"},"payload":{"kind":"message.posted","body":{"text":"a\u0000b"}}})");
  drop(
      "002.json",
      R"({"id":"not-a-uuid","where":{"remote_id":"room-a"},"who":{"connector":"spool","remote_id":"alice"},)"
      R"("origin":{"remote_id":"bad-id"},"payload":{"kind":"message.posted","body":{"text":"x"}}})");
  const auto inbox_empty = [&] {
    for (const auto& entry : fs::directory_iterator(dir_.path() + "/in")) {
      if (entry.path().extension() == ".json") return false;
    }
    return true;
  };
  const auto wait_for = [](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  };
  ASSERT_TRUE(wait_for(inbox_empty)) << bridge->log();
  drop(
      "003.json",
      R"({"where":{"remote_id":"room-a"},"who":{"connector":"spool","remote_id":"alice"},)"
      R"("origin":{"remote_id":"after"},"payload":{"kind":"message.posted","body":{"text":"after"}}})");
  ASSERT_TRUE(wait_for([&] {
    return inbox_empty() && count("SELECT count(*) FROM messages") == 2 &&
           count("SELECT count(*) FROM outbox") == 0;
  })) << bridge->log();

  EXPECT_EQ(count("SELECT count(*) FROM dead_letters WHERE source = 'inbound' AND reason LIKE "
                  "'002.json:%not a UUID%'"),
            1);
  std::vector<std::string> texts;
  for (const auto& entry : fs::directory_iterator(dir_.path() + "/out")) {
    if (entry.path().extension() != ".json") continue;
    auto delivered = json::parse(read_file(entry.path()));
    EXPECT_EQ(delivered["target"]["remote_id"], "room-b");
    texts.push_back(delivered["event"]["payload"]["body"]["text"].get<std::string>());
    if (texts.back() == "ab") {
      EXPECT_EQ(delivered["event"]["who"]["display_name"], "Alice");
    }
  }
  std::sort(texts.begin(), texts.end());
  EXPECT_EQ(texts, (std::vector<std::string>{"ab", "after"}));
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
}

TEST_F(ExternalDbTest, AdminBodyNestedTooDeepIs400AndTheProcessStaysUp) {
  ConfigOptions options{pg_.conninfo(), ""};
  options.max_body_bytes = 1 << 20;
  write_config(options);
  auto bridge = start();
  auto id = json::parse(call("POST", "/api/v1/bridges", R"({"name":"deep"})").body)["id"]
                .get<std::int64_t>();
  std::string nested;
  for (int i = 0; i < 100000; ++i) nested += R"({"a":)";
  nested += "1" + std::string(100000, '}');
  const auto res = call("POST", "/api/v1/bridges/" + std::to_string(id) + "/links",
                        R"({"connector":"spool","remote_id":"r","options":)" + nested + "}");
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(res.body.find("\"options\""), std::string::npos) << res.body;
  EXPECT_EQ(http_request("127.0.0.1", port_, "GET", "/health").status, 200);
  EXPECT_EQ(count("SELECT count(*) FROM links"), 0);
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
}

TEST_F(ExternalDbTest, SecretsNeverReachTheLog) {
  const std::string db_password = "db-pass-7f3a9c";
  write_config({pg_.conninfo() + " password=" + db_password, ""});
  ::setenv("COIBRIDGE_LOGGING_LEVEL", "trace", 1);
  auto bridge = start();
  ::unsetenv("COIBRIDGE_LOGGING_LEVEL");
  call("GET", "/api/v1/bridges");
  call("GET", "/api/v1/bridges", "", "wrong-token-5be1d0c2e7");
  call("POST", "/api/v1/bridges", R"({"name":"s"})", kReadToken);
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
  const auto log = bridge->log();
  ASSERT_FALSE(log.empty());
  for (const auto& secret :
       {kWriteToken, kReadToken, db_password, std::string("wrong-token-5be1d0c2e7")}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "secret in log: " << secret;
  }
}

TEST_F(ProcessTest, EmbeddedDatabaseComesUpAndIsAdoptedAfterACrash) {
  write_config({"", ""});
  auto bridge = start();
  EXPECT_EQ(
      http_request("127.0.0.1", port_, "GET", "/ready").body.find("ready") != std::string::npos,
      true);
  ASSERT_EQ(call("POST", "/api/v1/bridges", R"({"name":"embedded"})").status, 201);
  // Killed hard, it leaves its PostgreSQL running; the next start adopts it.
  EXPECT_EQ(bridge->stop(SIGKILL), 128 + SIGKILL);
  EXPECT_TRUE(fs::exists(dir_.path() + "/db/pgdata/postmaster.pid"));
  bridge = start();
  EXPECT_EQ(json::parse(call("GET", "/api/v1/bridges").body)["items"][0]["name"], "embedded");
  // A clean stop stops the cluster too.
  EXPECT_EQ(bridge->stop(SIGTERM), 0) << bridge->log();
  EXPECT_FALSE(fs::exists(dir_.path() + "/db/pgdata/postmaster.pid"));
  EXPECT_EQ(BridgeProcess::run_to_end({"migrate", "--config", config_path()}, log_path()), 0);
  EXPECT_FALSE(fs::exists(dir_.path() + "/db/pgdata/postmaster.pid"));
}

// A stop asked for while start-up waits for a peer (here a homeserver that is not there)
// stops the process cleanly, and its embedded database with it.
TEST_F(ProcessTest, SigtermDuringThePreflightChecksStopsTheEmbeddedDatabaseToo) {
  const std::string registration = dir_.path() + "/registration.yaml";
  write_config({"", "  matrix:\n    - name: hs\n      homeserver_url: http://127.0.0.1:" +
                        std::to_string(free_port()) +
                        "\n      server_name: hs.test\n      registration: " + registration +
                        "\n      url: http://127.0.0.1:" + std::to_string(port_) + "\n"});
  ASSERT_EQ(
      BridgeProcess::run_to_end({"generate-registration", "--config", config_path()}, log_path()),
      0)
      << read_file(log_path());
  BridgeProcess bridge({"run", "--config", config_path()}, log_path());
  bridge.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_file(log_path()).find("homeserver not reachable yet") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(read_file(log_path()).find("homeserver not reachable yet"), std::string::npos)
      << read_file(log_path());
  EXPECT_TRUE(fs::exists(dir_.path() + "/db/pgdata/postmaster.pid"));
  EXPECT_EQ(bridge.stop(SIGTERM), 0) << read_file(log_path());
  EXPECT_FALSE(fs::exists(dir_.path() + "/db/pgdata/postmaster.pid")) << read_file(log_path());
}

// One process per embedded data directory: a second run (on another port) or a migrate is
// refused, names the holder, and leaves the running instance and its database alone.
TEST_F(ProcessTest, ASecondProcessOnTheSameDataDirectoryIsRefusedAndChangesNothing) {
  write_config({"", ""});
  auto bridge = start();
  ASSERT_EQ(call("POST", "/api/v1/bridges", R"({"name":"first"})").status, 201);
  const std::string second_log = dir_.path() + "/second.log";
  EXPECT_EQ(BridgeProcess::run_to_end({"migrate", "--config", config_path()}, second_log), 1);
  const std::string config = read_file(config_path());
  const std::string other_port = std::to_string(free_port());
  std::ofstream(dir_.path() + "/second.yaml") << std::regex_replace(
      config, std::regex("listen: 127\\.0\\.0\\.1:[0-9]+"), "listen: 127.0.0.1:" + other_port);
  EXPECT_EQ(
      BridgeProcess::run_to_end({"run", "--config", dir_.path() + "/second.yaml"}, second_log), 1);
  const auto refused = read_file(second_log);
  EXPECT_NE(refused.find("is in use by coi-bridge (pid "), std::string::npos) << refused;
  // The first instance still has its database.
  EXPECT_TRUE(fs::exists(dir_.path() + "/db/pgdata/postmaster.pid"));
  EXPECT_EQ(http_request("127.0.0.1", port_, "GET", "/ready").status, 200);
  EXPECT_EQ(json::parse(call("GET", "/api/v1/bridges").body)["items"].size(), 1u);
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
  // Once it is gone, migrate may have the directory.
  EXPECT_EQ(BridgeProcess::run_to_end({"migrate", "--config", config_path()}, second_log), 0);
}

TEST_F(ExternalDbTest, ASecondInstanceOnTheSameDatabaseIsRefused) {
  auto bridge = start();
  const std::string config = read_file(config_path());
  std::ofstream(dir_.path() + "/second.yaml")
      << std::regex_replace(config, std::regex("listen: 127\\.0\\.0\\.1:[0-9]+"),
                            "listen: 127.0.0.1:" + std::to_string(free_port()));
  const std::string second_log = dir_.path() + "/second.log";
  EXPECT_EQ(
      BridgeProcess::run_to_end({"run", "--config", dir_.path() + "/second.yaml"}, second_log), 1);
  EXPECT_NE(read_file(second_log).find("another coi-bridge instance uses this database"),
            std::string::npos)
      << read_file(second_log);
  EXPECT_EQ(BridgeProcess::run_to_end({"migrate", "--config", config_path()}, second_log), 1);
  EXPECT_EQ(http_request("127.0.0.1", port_, "GET", "/ready").status, 200);
  EXPECT_EQ(bridge->stop(SIGTERM), 0);
  EXPECT_EQ(BridgeProcess::run_to_end({"migrate", "--config", config_path()}, second_log), 0);
}

TEST_F(ProcessTest, CommandLineExitCodes) {
  const std::string example = std::string(COIBRIDGE_SOURCE_DIR) + "/config/coi-bridge.example.yaml";
  EXPECT_EQ(BridgeProcess::run_to_end({"check-config", "--config", example}, log_path()), 0);
  EXPECT_EQ(BridgeProcess::run_to_end({"version"}, log_path()), 0);
  EXPECT_NE(read_file(log_path()).find("coi-bridge "), std::string::npos);
  EXPECT_EQ(BridgeProcess::run_to_end({"--help"}, log_path()), 0);
  EXPECT_EQ(BridgeProcess::run_to_end({"bogus"}, log_path()), 2);
  EXPECT_EQ(BridgeProcess::run_to_end({"--config"}, log_path()), 2);

  std::ofstream(dir_.path() + "/bad.yaml") << "http:\n  listen: nowhere\nadmin:\n  tokens: []\n";
  const std::string bad_log = dir_.path() + "/bad.log";
  EXPECT_EQ(
      BridgeProcess::run_to_end({"check-config", "--config", dir_.path() + "/bad.yaml"}, bad_log),
      2);
  const auto out = read_file(bad_log);
  EXPECT_NE(out.find("bad.yaml:2: http.listen"), std::string::npos) << out;
  EXPECT_NE(out.find("admin.tokens"), std::string::npos) << out;
  EXPECT_EQ(BridgeProcess::run_to_end({"run", "--config", dir_.path() + "/bad.yaml"}, bad_log), 2);
  EXPECT_EQ(BridgeProcess::run_to_end({"check-config", "--config", dir_.path() + "/missing.yaml"},
                                      bad_log),
            2);
}

}  // namespace
}  // namespace coibridge::testing
