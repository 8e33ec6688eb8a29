// A connector type added outside core/ (tests/seam/notes) is configured, checked, offered on
// the command line and bridged like any built-in one, by a coi-bridge binary composed in this
// folder: adding a network is one folder.

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/pg/bridge_process.hpp"
#include "tests/pg/pg_database.hpp"
#include "tests/support/http_test_client.hpp"

namespace coibridge::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kToken(64, 'w');

class NotesSeamTest : public ::testing::Test {
 protected:
  NotesSeamTest() {
    char tmpl[] = "/tmp/cbn.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~NotesSeamTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string write_config(const std::string& notes_section) {
    const std::string path = dir_ + "/config.yaml";
    std::ofstream out(path);
    out << "database:\n  url: \"" << pg_.conninfo() << "\"\n"
        << "http:\n  listen: 127.0.0.1:" << port_ << "\n"
        << "admin:\n  tokens:\n    - {name: writer, token: \"" << kToken
        << "\", scopes: [read, write]}\n"
        << "delivery:\n  backoff_initial_ms: 20\n  backoff_max_ms: 200\n"
        << "connectors:\n  spool:\n    - {name: spool, inbox_dir: " << dir_
        << "/in, outbox_dir: " << dir_ << "/out}\n"
        << "  notes:\n"
        << notes_section;
    return path;
  }

  test::TestResponse call(const std::string& method, const std::string& target, const json& body) {
    return test::http_request(
        "127.0.0.1", port_, method, target, body.dump(),
        {{"Authorization", "Bearer " + kToken}, {"Content-Type", "application/json"}});
  }

  // Waits for a file in `dir` with `extension`; its contents, or "" after 30 s.
  static std::string wait_for_file(const std::string& dir, const std::string& extension) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() == extension) return read_file(entry.path());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
  }

  PgDatabase pg_;
  std::string dir_;
  std::uint16_t port_ = free_port();
};

TEST_F(NotesSeamTest, ItsSectionIsCheckedWithKeyPathsAndLines) {
  const auto config = write_config("    - {name: desk-notes, colour: red}\n");
  const std::string log = dir_ + "/check.log";
  EXPECT_EQ(BridgeProcess::run_to_end({"check-config", "--config", config}, log), 2);
  const auto output = read_file(log);
  SCOPED_TRACE(output);
  EXPECT_NE(output.find(":15: connectors.notes[0].dir: required"), std::string::npos) << output;
  EXPECT_NE(output.find(":15: connectors.notes[0].colour: unknown key"), std::string::npos)
      << output;
}

TEST_F(NotesSeamTest, ItsCommandIsOfferedAndRuns) {
  const auto config = write_config("    - {name: desk-notes, dir: " + dir_ + "/notes}\n");
  const std::string help = dir_ + "/help.log";
  EXPECT_EQ(BridgeProcess::run_to_end({"--help"}, help), 0);
  EXPECT_NE(read_file(help).find("notes-dirs"), std::string::npos) << read_file(help);
  const std::string out = dir_ + "/dirs.log";
  EXPECT_EQ(BridgeProcess::run_to_end({"notes-dirs", "--config", config}, out), 0);
  EXPECT_EQ(read_file(out), "desk-notes " + dir_ + "/notes\n");
}

TEST_F(NotesSeamTest, MessagesCrossBetweenItAndABuiltInConnector) {
  const std::string notes_dir = dir_ + "/notes";
  fs::create_directories(notes_dir + "/desk");
  fs::create_directories(dir_ + "/in");
  fs::create_directories(dir_ + "/out");
  BridgeProcess bridge(
      {"run", "--config",
       write_config("    - {name: desk-notes, dir: " + notes_dir + ", author: Nora}\n")},
      dir_ + "/bridge.log");
  bridge.start();
  ASSERT_TRUE(bridge.wait_ready(port_)) << bridge.log();
  const auto created = call("POST", "/api/v1/bridges", {{"name", "seam"}});
  ASSERT_EQ(created.status, 201) << bridge.log();
  const std::string links =
      "/api/v1/bridges/" + std::to_string(json::parse(created.body)["id"].get<int>()) + "/links";
  ASSERT_EQ(call("POST", links, {{"connector", "spool"}, {"remote_id", "room"}}).status, 201);
  ASSERT_EQ(call("POST", links, {{"connector", "desk-notes"}, {"remote_id", "desk"}}).status, 201);

  std::ofstream(notes_dir + "/desk/n1.in") << "hello from notes";
  const auto delivered = wait_for_file(dir_ + "/out", ".json");
  ASSERT_FALSE(delivered.empty()) << bridge.log();
  const auto event = json::parse(delivered);
  EXPECT_EQ(event["target"]["remote_id"], "room");
  EXPECT_EQ(event["event"]["payload"]["body"]["text"], "hello from notes");
  EXPECT_EQ(event["event"]["who"]["display_name"], "Nora");

  {
    std::ofstream f(dir_ + "/in/1.json.part");
    f << json{{"where", {{"remote_id", "room"}}},
              {"who", {{"connector", "spool"}, {"remote_id", "alice"}, {"display_name", "Alice"}}},
              {"origin", {{"remote_id", "s1"}}},
              {"payload", {{"kind", "message.posted"}, {"body", {{"text", "hello from spool"}}}}}}
             .dump();
  }
  fs::rename(dir_ + "/in/1.json.part", dir_ + "/in/1.json");
  EXPECT_EQ(wait_for_file(notes_dir + "/desk", ".out"), "Alice: hello from spool") << bridge.log();
  EXPECT_EQ(bridge.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace coibridge::testing
