// The COI connector in the real binary against real Dovecot and Postfix (scripts/stack), with
// the spool connector as the other side of each bridge: mail in -> event -> spool file out,
// and spool file in -> event -> chat mail in a mailbox.

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <regex>
#include <thread>

#include "tests/pg/bridge_process.hpp"
#include "tests/pg/pg_database.hpp"
#include "tests/support/http_test_client.hpp"

namespace coibridge::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kToken(48, 't');

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(
        std::string(name) +
        " is not set: run the e2e tests through scripts/test, which starts the mail stack");
  }
  return v;
}

int sh(const std::string& command) { return std::system(command.c_str()); }

template <class F>
bool eventually(F f, std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return f();
}

class CoiBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cbe.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::random_device rd;
    // A fresh bridge account and peer per test: mailboxes start empty.
    const auto suffix = std::to_string(rd() % 1000000);
    bridge_user_ = "br" + suffix;
    peer_user_ = "pe" + suffix;
    ASSERT_EQ(sh(stack_cmd("add-user " + env("STACK_DIR") + " " + bridge_user_ + " bridgepw")), 0);
    ASSERT_EQ(sh(stack_cmd("add-user " + env("STACK_DIR") + " " + peer_user_ + " peerpw")), 0);
    write_config();
  }

  void TearDown() override {
    if (HasFailure())
      std::cerr << "---- coi-bridge log ----\n" << read_file(dir_ + "/bridge.log") << "----\n";
    bridge_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string stack_cmd(const std::string& args) {
    return std::string(COIBRIDGE_SOURCE_DIR) + "/scripts/stack " + args + " >/dev/null";
  }

  std::string bridge_address() const { return bridge_user_ + "@" + env("STACK_DOMAIN"); }
  std::string peer_address() const { return peer_user_ + "@" + env("STACK_DOMAIN"); }

  void write_config(const std::string& coi_extra = "") {
    std::ofstream out(dir_ + "/config.yaml");
    out << "database:\n  url: \"" << pg_.conninfo() << "\"\n"
        << "http:\n  listen: 127.0.0.1:" << port_ << "\n"
        << "admin:\n  tokens:\n    - {name: t, token: \"" << kToken << "\", scopes: [write]}\n"
        << "logging:\n  level: debug\n"
        << "delivery:\n  backoff_initial_ms: 50\n  backoff_max_ms: 500\n"
        << "connectors:\n"
        << "  spool:\n    - {name: spool, inbox_dir: " << dir_ << "/in, outbox_dir: " << dir_
        << "/out}\n"
        << "  coi:\n    - name: mail\n      address: " << bridge_address() << "\n"
        << coi_extra << "      imap: {host: localhost, port: " << env("STACK_IMAP_PORT")
        << ", tls: starttls, ca_file: " << env("STACK_CA_FILE")
        << ", username: " << bridge_address() << ", password: bridgepw}\n"
        << "      smtp: {host: localhost, port: " << env("STACK_SUBMISSION_PORT")
        << ", tls: starttls, ca_file: " << env("STACK_CA_FILE")
        << ", username: " << bridge_address() << ", password: bridgepw}\n";
    fs::create_directories(dir_ + "/in");
    fs::create_directories(dir_ + "/out");
  }

  void start() {
    bridge_ = std::make_unique<BridgeProcess>(
        std::vector<std::string>{"run", "--config", dir_ + "/config.yaml"}, dir_ + "/bridge.log");
    bridge_->start();
    ASSERT_TRUE(bridge_->wait_ready(port_)) << bridge_->log();
  }

  void link(const std::string& coi_conversation, const std::string& spool_conversation) {
    const test::TestHeaders auth{{"Authorization", "Bearer " + kToken}};
    auto b = test::http_request("127.0.0.1", port_, "POST", "/api/v1/bridges", R"({"name":"e2e"})",
                                auth);
    ASSERT_EQ(b.status, 201) << b.body;
    const auto base =
        "/api/v1/bridges/" + std::to_string(json::parse(b.body)["id"].get<int>()) + "/links";
    ASSERT_EQ(test::http_request(
                  "127.0.0.1", port_, "POST", base,
                  json{{"connector", "mail"}, {"remote_id", coi_conversation}}.dump(), auth)
                  .status,
              201);
    ASSERT_EQ(test::http_request(
                  "127.0.0.1", port_, "POST", base,
                  json{{"connector", "spool"}, {"remote_id", spool_conversation}}.dump(), auth)
                  .status,
              201);
  }

  // Raw bytes into the bridge's mailbox over SMTP, as a broken or hostile sender would.
  void raw_to_bridge(const std::string& bytes) {
    const std::string file = dir_ + "/raw.eml";
    std::ofstream(file, std::ios::binary) << bytes;
    const std::string py = dir_ + "/raw.py";
    std::ofstream(py) << "import smtplib, sys\n"
                         "data = open(sys.argv[1], 'rb').read()\n"
                         "s = smtplib.SMTP('127.0.0.1', "
                      << env("STACK_SMTP_PORT")
                      << ")\n"
                         "s.sendmail('"
                      << peer_address() << "', ['" << bridge_address()
                      << "'], data)\n"
                         "s.quit()\n";
    ASSERT_EQ(sh("python3 " + py + " " + file), 0);
  }

  // Chat mail as a Delta Chat peer writes it (peer-stack.md §5), submitted over SMTP.
  void peer_sends(const std::string& message_id, const std::string& text,
                  const std::string& to = "") {
    const std::string py = dir_ + "/send.py";
    std::ofstream(py) << "import smtplib, sys\n"
                         "from email.message import EmailMessage\n"
                         "m = EmailMessage()\n"
                         "m['From'] = 'Peer Person <"
                      << peer_address()
                      << ">'\n"
                         "m['To'] = '"
                      << (to.empty() ? bridge_address() : to)
                      << "'\n"
                         "m['Subject'] = 'Message from Peer Person'\n"
                         "m['Message-ID'] = '<"
                      << message_id
                      << ">'\n"
                         "m['Chat-Version'] = '1.0'\n"
                         "m.set_content(sys.argv[1])\n"
                         "s = smtplib.SMTP('127.0.0.1', "
                      << env("STACK_SMTP_PORT")
                      << ")\n"
                         "s.send_message(m)\n"
                         "s.quit()\n";
    ASSERT_EQ(sh("python3 " + py + " '" + text + "'"), 0);
  }

  std::vector<json> spool_deliveries() {
    std::vector<json> out;
    for (const auto& e : fs::directory_iterator(dir_ + "/out")) {
      if (e.path().extension() == ".json") out.push_back(json::parse(read_file(e.path())));
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
      return a["event"]["at"].get<std::string>() +
                 a["event"]["origin"]["remote_id"].get<std::string>() <
             b["event"]["at"].get<std::string>() +
                 b["event"]["origin"]["remote_id"].get<std::string>();
    });
    return out;
  }

  // One mail of an unencrypted Delta Chat group (coi-protocol.md §1.5, §3.6): no group id,
  // the name in Chat-Group-Name, every member addressed, In-Reply-To the previous mail,
  // References at most the last three; the group's first mail references itself.
  struct GroupMail {
    std::string id;  // Message-ID without <>
    std::string text;
    std::string from;
    std::vector<std::string> to;
    std::vector<std::string> in_reply_to, references;
    std::string name = "Team";
  };

  std::string group_mail_bytes(const GroupMail& m, int second) const {
    const auto ids = [](const std::vector<std::string>& list) {
      std::string out;
      for (const auto& id : list) out += (out.empty() ? "<" : " <") + id + ">";
      return out;
    };
    std::string to;
    for (const auto& a : m.to) to += (to.empty() ? "" : ", ") + a;
    char date[64];
    std::snprintf(date, sizeof date, "Mon, 7 Dec 2026 10:%02d:%02d +0000", second / 60 % 60,
                  second % 60);
    std::string out = "From: <" + m.from + ">\r\nTo: " + to + "\r\nSubject: " + m.name +
                      "\r\nDate: " + date + "\r\nMessage-ID: <" + m.id + ">\r\n";
    if (!m.in_reply_to.empty()) out += "In-Reply-To: " + ids(m.in_reply_to) + "\r\n";
    if (!m.references.empty()) out += "References: " + ids(m.references) + "\r\n";
    out += "Chat-Version: 1.0\r\nChat-Group-Name: " + m.name +
           "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + m.text +
           "\r\n";
    return out;
  }

  // A group thread of n mails, as Delta Chat threads them, the peer and Carol taking turns.
  std::vector<GroupMail> group_thread(const std::string& tag, int n) const {
    const std::string carol = "carol-" + tag + "@" + env("STACK_DOMAIN");
    std::vector<GroupMail> out;
    for (int k = 1; k <= n; ++k) {
      GroupMail m;
      m.id = "Mr." + tag + "-" + std::to_string(k) + "@example.org";
      m.text = tag + " " + std::to_string(k);
      m.from = k % 3 == 0 ? carol : peer_address();
      m.to = {k % 3 == 0 ? peer_address() : carol, bridge_address()};
      if (k == 1) {
        m.references = {m.id};
      } else {
        m.in_reply_to = {out.back().id};
        for (int r = std::max(1, k - 3); r < k; ++r) m.references.push_back(out[r - 1].id);
      }
      out.push_back(std::move(m));
    }
    return out;
  }

  // Straight into the bridge's mailbox over LMTP (RFC 2033), in the given order, in one
  // session: the order in which the mailbox receives them.
  void lmtp_deliver(const std::vector<GroupMail>& mails) {
    std::vector<std::string> files;
    for (std::size_t i = 0; i < mails.size(); ++i) {
      const auto& m = mails[i];
      // Dated in thread order: the number after the last '-' of the id, where there is one.
      int seq = 0;
      for (std::size_t k = m.id.rfind('-') + 1;
           k < m.id.size() && std::isdigit(static_cast<unsigned char>(m.id[k])); ++k) {
        seq = seq * 10 + (m.id[k] - '0');
      }
      files.push_back(dir_ + "/lmtp-" + std::to_string(i) + ".eml");
      std::ofstream(files.back(), std::ios::binary) << group_mail_bytes(m, seq);
    }
    const std::string py = dir_ + "/lmtp.py";
    std::ofstream(py) << "import smtplib, sys\n"
                         "s = smtplib.LMTP('127.0.0.1', "
                      << env("STACK_LMTP_PORT")
                      << ")\n"
                         "for f in sys.argv[1:]:\n"
                         "    s.sendmail('"
                      << peer_address() << "', ['" << bridge_address()
                      << "'], open(f, 'rb').read())\n"
                         "s.quit()\n";
    std::string cmd = "python3 " + py;
    for (const auto& f : files) cmd += " " + f;
    ASSERT_EQ(sh(cmd), 0);
  }

  // Texts of the messages delivered to the spool, in the order they were delivered (one at a
  // time per queue).
  std::vector<std::string> delivered_texts() {
    std::vector<std::pair<fs::file_time_type, std::string>> files;
    for (const auto& e : fs::directory_iterator(dir_ + "/out")) {
      if (e.path().extension() == ".json")
        files.emplace_back(fs::last_write_time(e.path()), e.path().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<std::string> out;
    for (const auto& [at, path] : files) {
      const auto payload = json::parse(read_file(path))["event"]["payload"];
      if (payload.value("kind", "") == "message.posted")
        out.push_back(payload["body"].value("text", ""));
    }
    return out;
  }

  json conversations(const std::string& query) {
    const test::TestHeaders auth{{"Authorization", "Bearer " + kToken}};
    auto res =
        test::http_request("127.0.0.1", port_, "GET", "/api/v1/conversations?" + query, "", auth);
    EXPECT_EQ(res.status, 200) << res.body;
    return json::parse(res.body)["items"];
  }

  std::int64_t metric(const std::string& series) {
    const auto text = test::http_request("127.0.0.1", port_, "GET", "/metrics").body;
    const auto at = text.find(series + " ");
    if (at == std::string::npos) return 0;
    return std::stoll(text.substr(at + series.size() + 1));
  }

  std::vector<std::string> peer_mailbox() {
    std::vector<std::string> out;
    for (const char* sub : {"new", "cur"}) {
      const fs::path p = fs::path(env("STACK_MAIL_DIR")) / peer_user_ / "Maildir" / sub;
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(p, ec)) out.push_back(read_file(e.path()));
    }
    return out;
  }

  std::int64_t count(const std::string& sql) {
    pqxx::connection c(pg_.conninfo());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<std::int64_t>();
  }

  PgDatabase pg_;
  std::string dir_;
  std::string bridge_user_, peer_user_;
  std::uint16_t port_ = free_port();
  std::unique_ptr<BridgeProcess> bridge_;
};

TEST_F(CoiBridgeTest, ChatMailBecomesOneEventWithTextSenderAndConversation) {
  start();
  link("dm:" + peer_address(), "room");
  peer_sends("Mr.e2e-1@example.org", "hello from mail \xe2\x9c\x93");
  ASSERT_TRUE(eventually([&] { return spool_deliveries().size() == 1; })) << bridge_->log();
  const auto d = spool_deliveries()[0];
  EXPECT_EQ(d["target"]["remote_id"], "room");
  EXPECT_EQ(d["event"]["where"]["remote_id"], "dm:" + peer_address());
  EXPECT_EQ(d["event"]["who"]["remote_id"], peer_address());
  EXPECT_EQ(d["event"]["who"]["display_name"], "Peer Person");
  EXPECT_EQ(d["event"]["origin"]["remote_id"], "Mr.e2e-1@example.org");
  EXPECT_EQ(d["event"]["payload"]["body"]["text"], "hello from mail \xe2\x9c\x93");
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM checkpoints WHERE connector = 'mail' AND last_uid >= 1"),
            1);
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

TEST_F(CoiBridgeTest, MailToAnUnlinkedPuppetInTheMiddleOfABatchKeepsTheMailsAfterIt) {
  start();
  link("dm:" + peer_address(), "room");
  ASSERT_EQ(bridge_->stop(SIGTERM), 0);
  // Three mails waiting in the mailbox, read in one batch: the middle one goes to a puppet
  // whose direct chat is not linked (the spool has no direct chats, so it falls back to the
  // chat with the bridge address), which ends the batch's first publish there.
  const std::string puppet = bridge_user_ + "+spool.rita@" + env("STACK_DOMAIN");
  peer_sends("Mr.batch-1@example.org", "one");
  peer_sends("Mr.batch-2@example.org", "two, to Rita", puppet);
  peer_sends("Mr.batch-3@example.org", "three");
  const fs::path maildir = fs::path(env("STACK_MAIL_DIR")) / bridge_user_ / "Maildir" / "new";
  ASSERT_TRUE(eventually([&] {
    std::error_code ec;
    return std::distance(fs::directory_iterator(maildir, ec), fs::directory_iterator()) == 3;
  }));
  start();
  ASSERT_TRUE(eventually([&] { return spool_deliveries().size() == 3; })) << bridge_->log();
  std::vector<std::string> texts;
  for (const auto& d : spool_deliveries()) texts.push_back(d["event"]["payload"]["body"]["text"]);
  EXPECT_EQ(texts, (std::vector<std::string>{"one", "two, to Rita", "three"}));
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters"), 0);
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

TEST_F(CoiBridgeTest, AdhocGroupReadBackwardsIsOneConversationDeliveredInChainOrder) {
  start();
  const auto thread = group_thread("back", 40);
  link("adhoc:" + thread.front().id, "room");
  // Every mail but the last names only mails not read yet: held until the first arrives.
  lmtp_deliver(std::vector<GroupMail>(thread.rbegin(), thread.rend()));
  ASSERT_TRUE(eventually([&] { return delivered_texts().size() >= 40; }, 90s)) << bridge_->log();
  std::this_thread::sleep_for(1s);
  std::vector<std::string> expected;
  for (const auto& m : thread) expected.push_back(m.text);
  EXPECT_EQ(delivered_texts(), expected);
  const auto listed = conversations("connector=mail");
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["remote_id"], "adhoc:" + thread.front().id);
  EXPECT_EQ(listed[0]["messages"], 40);
  EXPECT_EQ(listed[0]["title"], "Team");
  EXPECT_FALSE(listed[0]["bridge_id"].is_null());
  EXPECT_EQ(metric("coibridge_coi_held_total{connector=\"mail\"}"), 39);
  EXPECT_EQ(count("SELECT count(*) FROM dead_letters"), 0);
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

TEST_F(CoiBridgeTest, HeldGroupMailsSurviveAKillAndAShuffledMailboxIsOneConversation) {
  start();
  auto thread = group_thread("shuf", 40);
  link("adhoc:" + thread.front().id, "room");
  std::vector<GroupMail> shuffled(thread.begin() + 1, thread.end());
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  lmtp_deliver(shuffled);
  // All 39 wait for the group's first mail; the checkpoint stays before them.
  ASSERT_TRUE(eventually([&] {
    return metric("coibridge_coi_held_total{connector=\"mail\"}") == 39;
  })) << bridge_->log();
  EXPECT_EQ(count("SELECT count(*) FROM checkpoints WHERE last_uid > 0"), 0);
  EXPECT_EQ(bridge_->stop(SIGKILL), 128 + SIGKILL);
  lmtp_deliver({thread.front()});
  start();
  ASSERT_TRUE(eventually([&] { return delivered_texts().size() >= 40; }, 90s)) << bridge_->log();
  std::this_thread::sleep_for(1s);
  auto texts = delivered_texts();
  ASSERT_EQ(texts.size(), 40u);
  std::sort(texts.begin(), texts.end());
  EXPECT_EQ(std::unique(texts.begin(), texts.end()), texts.end());
  const auto listed = conversations("connector=mail");
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["messages"], 40);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 40);
  // Read again from UID 1 (a new UIDVALIDITY looks the same): nothing twice.
  ASSERT_EQ(bridge_->stop(SIGTERM), 0);
  {
    pqxx::connection c(pg_.conninfo());
    pqxx::work tx(c);
    tx.exec("DELETE FROM checkpoints");
    tx.commit();
  }
  start();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(delivered_texts().size(), 40u);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 40);
  EXPECT_EQ(conversations("connector=mail").size(), 1u);
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

TEST_F(CoiBridgeTest, GroupMailWithUnknownParentsIsPlacedByNameAndMembersAndABrokenChainHeals) {
  start();
  const auto thread = group_thread("heal", 1);
  link("adhoc:" + thread.front().id, "room");
  lmtp_deliver(thread);
  ASSERT_TRUE(eventually([&] { return delivered_texts().size() == 1; })) << bridge_->log();

  // Its parents were never read (the bridge joined late, or mail was lost upstream): the
  // group with the same name and members takes it, without waiting.
  GroupMail late = thread.front();
  late.id = "Mr.heal-late@example.org";
  late.text = "heal late";
  late.in_reply_to = {"Mr.heal-gone-3@example.org"};
  late.references = {"Mr.heal-gone-1@example.org", "Mr.heal-gone-2@example.org",
                     "Mr.heal-gone-3@example.org"};
  lmtp_deliver({late});
  ASSERT_TRUE(eventually([&] { return delivered_texts().size() == 2; })) << bridge_->log();
  EXPECT_EQ(metric("coibridge_coi_held_total{connector=\"mail\"}"), 0);

  // A member the bridge never saw addressed, and unknown parents: no group matches, so it
  // waits, then becomes a conversation of its own, listed as unlinked.
  GroupMail stray = late;
  stray.id = "Mr.heal-stray@example.org";
  stray.text = "heal stray";
  stray.to.push_back("dave@" + env("STACK_DOMAIN"));
  stray.in_reply_to = {"Mr.heal-gone-4@example.org"};
  stray.references = {"Mr.heal-gone-4@example.org"};
  lmtp_deliver({stray});
  ASSERT_TRUE(
      eventually([&] { return conversations("connector=mail&linked=false").size() == 1; }, 60s))
      << bridge_->log();
  const auto unlinked = conversations("connector=mail&linked=false");
  EXPECT_EQ(unlinked[0]["remote_id"], "adhoc:Mr.heal-gone-4@example.org");
  EXPECT_EQ(unlinked[0]["unlinked_events"], 1);
  EXPECT_EQ(metric("coibridge_coi_held_gave_up_total{connector=\"mail\"}"), 1);

  // A mail naming both: they were one group. The stray conversation merges into the linked
  // one, and from then on the bridge lists one.
  GroupMail heals = stray;
  heals.id = "Mr.heal-both@example.org";
  heals.text = "heal both";
  heals.in_reply_to = {stray.id};
  heals.references = {late.id, stray.id};
  lmtp_deliver({heals});
  ASSERT_TRUE(eventually([&] { return delivered_texts().size() == 3; })) << bridge_->log();
  EXPECT_EQ(delivered_texts(), (std::vector<std::string>{"heal 1", "heal late", "heal both"}));
  const auto listed = conversations("connector=mail");
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["remote_id"], "adhoc:" + thread.front().id);
  EXPECT_EQ(metric("coibridge_coi_group_merges_total{connector=\"mail\",result=\"merged\"}"), 1);
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

TEST_F(CoiBridgeTest, EventBecomesChatMailFromThePuppet) {
  start();
  link("dm:" + peer_address(), "room");
  std::ofstream(dir_ + "/in/001.json")
      << json{{"where", {{"remote_id", "room"}}},
              {"who", {{"connector", "spool"}, {"remote_id", "u1"}, {"display_name", "Spool Sam"}}},
              {"origin", {{"remote_id", "s-1"}}},
              {"payload",
               {{"kind", "message.posted"}, {"body", {{"text", "hi from the other side"}}}}}}
             .dump();
  ASSERT_TRUE(eventually([&] { return peer_mailbox().size() == 1; })) << bridge_->log();
  const auto mail = peer_mailbox()[0];
  EXPECT_NE(mail.find("Chat-Version: 1.0"), std::string::npos) << mail;
  EXPECT_TRUE(std::regex_search(
      mail, std::regex("From: \"?Spool Sam\"? <" + bridge_user_ + "\\+spool\\.u1@example\\.org>")))
      << mail;
  EXPECT_NE(mail.find("hi from the other side"), std::string::npos) << mail;
  EXPECT_TRUE(eventually([&] { return count("SELECT count(*) FROM outbox") == 0; }));
  EXPECT_EQ(count("SELECT count(*) FROM message_parts WHERE connector = 'mail' AND remote_id LIKE "
                  "'chat$%'"),
            1);
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

TEST_F(CoiBridgeTest, DovecotDownForTenSecondsLosesAndDuplicatesNothing) {
  start();
  link("dm:" + peer_address(), "room");
  for (int i = 0; i < 5; ++i)
    peer_sends("Mr.e2e-r" + std::to_string(i) + "@example.org", "before " + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return spool_deliveries().size() == 5; })) << bridge_->log();

  const std::string stack_dir = env("STACK_DIR");
  ASSERT_EQ(sh("kill $(cat " + stack_dir + "/dovecot/run/master.pid)"), 0);
  // Postfix keeps what arrives meanwhile in its queue (LMTP is down).
  for (int i = 0; i < 5; ++i)
    peer_sends("Mr.e2e-d" + std::to_string(i) + "@example.org", "during " + std::to_string(i));
  std::this_thread::sleep_for(10s);
  ASSERT_EQ(sh(stack_cmd("up " + stack_dir)), 0);
  ASSERT_EQ(sh("postqueue -c " + stack_dir + "/postfix/etc -f"), 0);

  ASSERT_TRUE(eventually([&] { return spool_deliveries().size() == 10; }, 60s)) << bridge_->log();
  std::this_thread::sleep_for(1s);
  const auto all = spool_deliveries();
  ASSERT_EQ(all.size(), 10u);
  std::set<std::string> texts;
  for (const auto& d : all) texts.insert(d["event"]["payload"]["body"]["text"].get<std::string>());
  EXPECT_EQ(texts.size(), 10u);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 10);
  EXPECT_NE(bridge_->log().find("reconnecting"), std::string::npos);
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

TEST_F(CoiBridgeTest, BadAndOversizedMailBecomeDeadLettersAndTheMailboxMovesOn) {
  write_config("      max_message_bytes: 8192\n");
  start();
  link("dm:" + peer_address(), "room");
  // No From at all: cannot be mapped to anyone.
  raw_to_bridge("To: " + bridge_address() +
                "\r\nMessage-ID: <bad-1@example.org>\r\nChat-Version: 1.0\r\n"
                "Content-Type: multipart/mixed\r\n\r\n--x\r\ngarbage");
  raw_to_bridge("From: <" + peer_address() + ">\r\nTo: " + bridge_address() +
                "\r\nMessage-ID: <big-1@example.org>\r\nChat-Version: 1.0\r\n\r\n" +
                std::string(20000, 'x') + "\r\n");
  peer_sends("Mr.e2e-after@example.org", "still flowing");
  ASSERT_TRUE(eventually([&] { return spool_deliveries().size() == 1; })) << bridge_->log();
  EXPECT_EQ(spool_deliveries()[0]["event"]["payload"]["body"]["text"], "still flowing");
  EXPECT_EQ(
      count("SELECT count(*) FROM dead_letters WHERE source = 'inbound' AND connector = 'mail'"),
      2);
  EXPECT_EQ(
      count("SELECT count(*) FROM dead_letters WHERE reason LIKE '%exceed max_message_bytes%'"), 1);
  const auto metrics = test::http_request("127.0.0.1", port_, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("coibridge_inbound_rejected_total{connector=\"mail\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(bridge_->stop(SIGTERM), 0);
}

}  // namespace
}  // namespace coibridge::testing
