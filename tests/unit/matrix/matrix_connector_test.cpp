// MatrixConnector against a fake homeserver (a ClientApi that records every call) and a fake
// core (an EventSink that records what is published): the appservice endpoint, echo
// suppression, deliveries as ghosts with idempotent transaction ids, and bot permissions.

#include "connectors/matrix/matrix_connector.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "connectors/matrix/matrix_ids.hpp"

namespace coibridge::connectors::matrix {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

constexpr const char* kServer = "matrix.test";
constexpr const char* kHsToken = "the-hs-token";
constexpr const char* kPortal = "!portal:matrix.test";
constexpr const char* kManagementRoom = "!admin:matrix.test";

core::Error matrix_error(const std::string& errcode) {
  return core::Error::permanent(errcode + ": refused by the fake homeserver").with_code(errcode);
}

// One client-server call as the fake homeserver saw it.
struct Call {
  std::string what;  // the ClientApi method
  std::string room{};
  std::string as_user{};
  std::string detail{};  // event type, localpart, invitee, display name ...
  std::string txn_id{};
  json content{};
};

class FakeClientApi final : public ClientApi {
 public:
  std::vector<Call> calls;
  std::vector<std::optional<std::int64_t>> origin_ts;  // of each send_event
  std::map<std::string, std::string> display_names;    // what get_displayname answers
  std::vector<std::string> bot_rooms;                  // what joined_rooms("") answers
  // Joins of these users fail with M_FORBIDDEN until they are invited.
  std::set<std::string> needs_invite;
  // Sends of these users fail with M_FORBIDDEN (not in the room) until they join it again.
  std::set<std::string> not_in_room;

  std::vector<Call> of(const std::string& what) const {
    std::vector<Call> out;
    for (const auto& c : calls)
      if (c.what == what) out.push_back(c);
    return out;
  }
  std::vector<std::string> sequence() const {
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(c.what);
    return out;
  }

  awaitable<core::Result<double>> ping(std::string, std::string) override {
    calls.push_back({"ping"});
    co_return 1.0;
  }
  awaitable<core::Status> register_user(std::string localpart) override {
    calls.push_back({"register_user", "", "", localpart});
    co_return core::Status{};
  }
  awaitable<core::Result<std::string>> get_displayname(std::string user_id) override {
    calls.push_back({"get_displayname", "", "", user_id});
    co_return display_names.contains(user_id) ? display_names[user_id] : std::string();
  }
  awaitable<core::Status> set_displayname(std::string user_id, std::string name) override {
    calls.push_back({"set_displayname", "", user_id, name});
    co_return core::Status{};
  }
  awaitable<core::Status> set_avatar_url(std::string user_id, std::string mxc) override {
    calls.push_back({"set_avatar_url", "", user_id, mxc});
    co_return core::Status{};
  }
  awaitable<core::Result<std::string>> create_room(json body, std::string as_user) override {
    calls.push_back({"create_room", "", as_user, "", "", body});
    co_return std::string("!new:matrix.test");
  }
  awaitable<core::Status> join_room(std::string room, std::string as_user) override {
    calls.push_back({"join_room", room, as_user});
    not_in_room.erase(as_user);
    if (needs_invite.contains(as_user)) co_return matrix_error("M_FORBIDDEN");
    co_return core::Status{};
  }
  awaitable<core::Status> invite(std::string room, std::string user_id,
                                 std::string as_user) override {
    calls.push_back({"invite", room, as_user, user_id});
    needs_invite.erase(user_id);
    co_return core::Status{};
  }
  awaitable<core::Status> leave_room(std::string room, std::string as_user) override {
    calls.push_back({"leave_room", room, as_user});
    co_return core::Status{};
  }
  awaitable<core::Result<std::vector<std::string>>> joined_rooms(std::string as_user) override {
    calls.push_back({"joined_rooms", "", as_user});
    co_return bot_rooms;
  }
  awaitable<core::Result<json>> recent_events(std::string room, int, std::string as_user) override {
    calls.push_back({"recent_events", room, as_user});
    co_return json::array();
  }
  awaitable<core::Result<std::string>> resolve_alias(std::string alias) override {
    calls.push_back({"resolve_alias", "", "", alias});
    co_return matrix_error("M_NOT_FOUND");
  }
  awaitable<core::Status> delete_alias(std::string alias) override {
    calls.push_back({"delete_alias", "", "", alias});
    co_return core::Status{};
  }
  awaitable<core::Result<std::string>> send_event(std::string room, std::string type,
                                                  std::string txn_id, json content,
                                                  std::string as_user,
                                                  std::optional<std::int64_t> ts) override {
    calls.push_back({"send_event", room, as_user, type, txn_id, content});
    origin_ts.push_back(ts);
    if (not_in_room.contains(as_user)) co_return matrix_error("M_FORBIDDEN");
    // The homeserver's answer depends on the transaction id only, as a repeat gets the
    // first answer ("Transaction identifiers").
    co_return "$sent-" + txn_id;
  }
  awaitable<core::Result<std::string>> send_state(std::string room, std::string type,
                                                  std::string state_key, json content,
                                                  std::string as_user) override {
    calls.push_back({"send_state", room, as_user, type + "/" + state_key, "", content});
    co_return std::string("$state");
  }
  awaitable<core::Result<std::string>> redact(std::string room, std::string event_id,
                                              std::string txn_id, json content,
                                              std::string as_user) override {
    calls.push_back({"redact", room, as_user, event_id, txn_id, content});
    co_return "$redaction-" + txn_id;
  }
  awaitable<core::Status> send_receipt(std::string room, std::string type, std::string event_id,
                                       json, std::string as_user) override {
    calls.push_back({"send_receipt", room, as_user, type + "/" + event_id});
    co_return core::Status{};
  }
  awaitable<core::Status> set_typing(std::string room, std::string user_id, json content) override {
    calls.push_back({"set_typing", room, user_id, "", "", content});
    co_return core::Status{};
  }
  awaitable<core::Result<std::string>> upload_media(std::string type, std::string filename,
                                                    std::string, std::string as_user) override {
    calls.push_back({"upload_media", "", as_user, type + "/" + filename});
    co_return std::string("mxc://matrix.test/media");
  }
  awaitable<core::Result<std::string>> download_media(std::string mxc) override {
    calls.push_back({"download_media", "", "", mxc});
    co_return std::string("bytes");
  }
};

// The router's side: rooms in `linked` belong to a bridge, every other one to none.
class FakeSink final : public core::EventSink {
 public:
  std::set<std::string> linked;
  std::vector<core::Event> published;  // committed events, in order
  std::vector<std::string> rejected;
  // A batch holding a message with this text fails as a whole with `refusal`, as a store
  // transaction does.
  std::string refused_text;
  core::Error refusal;

  awaitable<core::Result<core::PublishOutcome>> publish(core::Event event) override {
    const bool is_linked = linked.contains(event.where.remote_id);
    published.push_back(event);
    co_return core::PublishOutcome{
        is_linked ? core::PublishStatus::kAccepted : core::PublishStatus::kUnlinked, event.id,
        is_linked ? 1u : 0u};
  }
  awaitable<core::Result<std::vector<core::Result<core::PublishOutcome>>>> publish_batch(
      std::span<const core::BatchEvent> events) override {
    for (const auto& item : events) {
      const auto* posted = std::get_if<core::MessagePosted>(&item.event.payload);
      if (!refused_text.empty() && posted != nullptr && posted->body.text == refused_text)
        co_return refusal;
    }
    std::vector<core::Result<core::PublishOutcome>> outcomes;
    for (const auto& item : events) {
      const bool is_linked = linked.contains(item.event.where.remote_id);
      if (!is_linked && item.stop_if_unlinked) {
        outcomes.push_back(core::PublishOutcome{core::PublishStatus::kUnlinked, item.event.id, 0});
        break;  // not written, as the contract says
      }
      published.push_back(item.event);
      outcomes.push_back(core::PublishOutcome{
          is_linked ? core::PublishStatus::kAccepted : core::PublishStatus::kUnlinked,
          item.event.id, is_linked ? 1u : 0u});
    }
    co_return outcomes;
  }
  awaitable<core::Status> reject(std::string, std::string reason, std::string) override {
    rejected.push_back(reason);
    co_return core::Status{};
  }
};

class EmptyMessageMap final : public core::MessageMap {
 public:
  awaitable<core::Result<std::optional<core::ConversationRef>>> conversation_of(
      core::RemoteMessageRef) override {
    co_return std::nullopt;
  }
  awaitable<core::Result<std::map<std::string, std::string>>> conversations_of(
      std::string, std::vector<std::string>) override {
    co_return std::map<std::string, std::string>{};
  }
  awaitable<core::Result<std::optional<core::Event>>> event_by_origin(
      core::RemoteMessageRef) override {
    co_return std::nullopt;
  }
  awaitable<core::Result<std::optional<core::RemoteMessageRef>>> newest_of(
      std::vector<core::RemoteMessageRef>) override {
    co_return std::nullopt;
  }
  awaitable<core::Result<std::optional<std::string>>> reaction_delivered(core::ConversationRef,
                                                                         std::string,
                                                                         core::RemoteMessageRef,
                                                                         std::string) override {
    co_return std::nullopt;
  }
};

class MemoryLedger final : public core::InboundLedger {
 public:
  std::set<std::string> keys;
  awaitable<core::Result<bool>> seen(std::string, std::string key) override {
    co_return keys.contains(key);
  }
  awaitable<core::Status> remember(std::string, std::string key, std::chrono::seconds) override {
    keys.insert(key);
    co_return core::Status{};
  }
};

class NoBlobs final : public core::BlobStore {
 public:
  awaitable<core::Result<std::string>> put(std::string, std::string) override {
    co_return std::string("blob:sha256:") + std::string(64, '0');
  }
  awaitable<core::Result<core::Blob>> get(std::string) override {
    co_return core::Error::not_found("no blobs here");
  }
  awaitable<core::Result<std::int64_t>> purge(std::chrono::seconds) override { co_return 0; }
};

// What PgPuppetStore keeps, in memory: shared by the connectors of a test as the database is
// shared by the runs of a process.
class MemoryPuppets final : public core::PuppetStore {
 public:
  awaitable<core::Result<core::PuppetState>> load(std::string connector) override {
    core::PuppetState state;
    for (const auto& [key, profile] : profiles) {
      if (key.first == connector) state.profiles.push_back({key.second, profile});
    }
    for (const auto& [c, puppet, room] : memberships) {
      if (c == connector) state.memberships.push_back({puppet, room});
    }
    co_return state;
  }
  awaitable<core::Status> save_profile(std::string connector, std::string puppet_id,
                                       std::string profile) override {
    profiles[{connector, puppet_id}] = profile;
    co_return core::Status{};
  }
  awaitable<core::Status> set_member(std::string connector, std::string puppet_id,
                                     std::string conversation, bool member) override {
    if (member) {
      memberships.emplace(connector, puppet_id, conversation);
    } else {
      memberships.erase({connector, puppet_id, conversation});
    }
    co_return core::Status{};
  }
  std::map<std::pair<std::string, std::string>, std::string> profiles;
  std::set<std::tuple<std::string, std::string, std::string>> memberships;
};

class MatrixConnectorTest : public ::testing::Test {
 protected:
  MatrixConnectorTest() { connector_ = make_connector(); }

  // A connector as the process makes it; a second one is the same bridge after a restart.
  std::unique_ptr<MatrixConnector> make_connector() {
    MatrixConnectorConfig config;
    config.name = "matrix";
    config.homeserver_url = "http://homeserver.invalid";
    config.server_name = kServer;
    config.dm_connector = "mail";
    Registration registration;
    registration.id = "matrix";
    registration.hs_token = kHsToken;
    registration.as_token = "the-as-token";
    registration.sender_localpart = "coibridge";
    api_ = std::make_shared<FakeClientApi>();
    sink_.linked.insert(kPortal);
    return std::make_unique<MatrixConnector>(
        io_.get_executor(), config, MatrixConnector::Stores{blobs_, ledger_, nullptr, &puppets_},
        metrics_, registration, api_);
  }

  // Runs `body` while the connector's run() is active, as the supervisor would.
  template <class T>
  T while_running(std::function<awaitable<T>()> body) {
    using namespace asio::experimental::awaitable_operators;
    std::optional<T> out;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          core::ConnectorContext ctx{io_.get_executor(), sink_, messages_};
          auto work = [&]() -> awaitable<T> {
            // run() opens the door first.
            co_await asio::post(io_.get_executor(), asio::use_awaitable);
            co_return co_await body();
          };
          auto result = co_await (connector_->run(ctx) || work());
          out.emplace(std::get<1>(std::move(result)));
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    return std::move(*out);
  }

  core::HttpResponse put_transaction(const std::string& txn_id, json events,
                                     std::string token = kHsToken) {
    return put_raw_transaction(txn_id, json{{"events", std::move(events)}}.dump(),
                               std::move(token));
  }

  core::HttpResponse put_raw_transaction(const std::string& txn_id, std::string body,
                                         std::string token = kHsToken) {
    core::HttpRequest request;
    request.method = "PUT";
    request.path = "/_matrix/app/v1/transactions/" + txn_id;
    request.target = request.path;
    request.headers["Authorization"] = "Bearer " + token;
    request.body = std::move(body);
    return while_running<core::HttpResponse>([&]() -> awaitable<core::HttpResponse> {
      co_return co_await connector_->handle_http(request);
    });
  }

  core::Result<core::RemoteMessageRef> deliver(const core::Delivery& delivery) {
    return while_running<core::Result<core::RemoteMessageRef>>(
        [&]() -> awaitable<core::Result<core::RemoteMessageRef>> {
          co_return co_await connector_->deliver(delivery);
        });
  }

  core::Status preflight() {
    return while_running<core::Status>(
        [&]() -> awaitable<core::Status> { co_return co_await connector_->preflight(); });
  }

  static json text_event(const std::string& room, const std::string& sender,
                         const std::string& event_id, const std::string& body) {
    return json{{"type", "m.room.message"},
                {"room_id", room},
                {"sender", sender},
                {"event_id", event_id},
                {"origin_server_ts", 1700000000000},
                {"content", {{"msgtype", "m.text"}, {"body", body}}}};
  }

  static core::Delivery mail_text(const std::string& text) {
    core::Delivery d;
    d.event.id = core::new_event_id();
    d.event_id = d.event.id;
    d.event.where = {"mail", "group:1"};
    d.event.who = {"mail", "bob@example.org", "Bob"};
    d.event.origin = {"mail", "<m1@example.org>"};
    core::MessagePosted posted;
    posted.body.text = text;
    d.event.payload = posted;
    d.target = {"matrix", kPortal};
    return d;
  }

  std::string ghost_of(const std::string& address) {
    return *ghost_user_id("mail", address, GhostNaming{kServer, "_coi_", "mail"});
  }

  asio::io_context io_;
  core::MetricsRegistry metrics_;
  NoBlobs blobs_;
  MemoryLedger ledger_;
  FakeSink sink_;
  EmptyMessageMap messages_;
  std::shared_ptr<FakeClientApi> api_;
  MemoryPuppets puppets_;
  std::unique_ptr<MatrixConnector> connector_;
};

TEST_F(MatrixConnectorTest, MessageOfAMatrixUserInAPortalIsPublished) {
  api_->display_names["@alice:matrix.test"] = "Alice";
  auto response =
      put_transaction("1", json::array({text_event(kPortal, "@alice:matrix.test", "$m1", "hi")}));
  EXPECT_EQ(response.status, 200) << response.body;
  ASSERT_EQ(sink_.published.size(), 1u);
  const auto& event = sink_.published[0];
  EXPECT_EQ(event.where, (core::ConversationRef{"matrix", kPortal}));
  EXPECT_EQ(event.who.remote_id, "@alice:matrix.test");
  EXPECT_EQ(event.who.display_name, "Alice");  // from the profile, asked once
  EXPECT_EQ(event.origin, (core::RemoteMessageRef{"matrix", "$m1"}));
  const auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  ASSERT_NE(posted, nullptr);
  EXPECT_EQ(posted->body.text, "hi");
  // Acknowledged only after the commit, and remembered for retransmissions.
  EXPECT_TRUE(ledger_.keys.contains("1"));
}

TEST_F(MatrixConnectorTest, RetransmittedTransactionIsAnsweredWithoutPublishingAgain) {
  const json events = json::array({text_event(kPortal, "@alice:matrix.test", "$m1", "hi")});
  EXPECT_EQ(put_transaction("7", events).status, 200);
  EXPECT_EQ(put_transaction("7", events).status, 200);
  EXPECT_EQ(sink_.published.size(), 1u);
}

TEST_F(MatrixConnectorTest, EventsOfOurOwnGhostsAndBotAreEchoesAndDropped) {
  const std::string ghost = ghost_of("bob@example.org");
  auto response = put_transaction(
      "1", json::array({text_event(kPortal, ghost, "$echo", "hi from mail"),
                        text_event(kPortal, "@coibridge:matrix.test", "$bot", "notice")}));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(sink_.published.empty());
  EXPECT_TRUE(sink_.rejected.empty());
  // Nobody asks the homeserver for a ghost's profile: the bridge made it.
  for (const auto& asked : api_->of("get_displayname")) EXPECT_NE(asked.detail, ghost);
}

TEST_F(MatrixConnectorTest, NulInAnEventIsRemovedAndTheTransactionAnswered) {
  api_->display_names["@alice:matrix.test"] = std::string("Al\0ice", 6);
  // JSON may carry U+0000 (RFC 8259 §7); PostgreSQL cannot store it.
  const std::string body =
      R"({"events":[{"type":"m.room.message","room_id":")" + std::string(kPortal) +
      R"(","sender":"@alice:matrix.test","event_id":"$nul","origin_server_ts":1700000000000,)"
      R"("content":{"msgtype":"m.text","body":"a\u0000b"}}]})";
  auto response = put_raw_transaction("1", body);
  EXPECT_EQ(response.status, 200) << response.body;
  ASSERT_EQ(sink_.published.size(), 1u);
  const auto& event = sink_.published[0];
  EXPECT_EQ(std::get<core::MessagePosted>(event.payload).body.text, "ab");
  EXPECT_EQ(event.who.display_name.find('\0'), std::string::npos);
  EXPECT_TRUE(sink_.rejected.empty());
}

TEST_F(MatrixConnectorTest, TransactionNestedTooDeepIsBadJson) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string body =
      R"({"events":[{"type":"m.room.message","room_id":")" + std::string(kPortal) +
      R"(","sender":"@alice:matrix.test","event_id":"$deep","origin_server_ts":1700000000000,)"
      R"("content":{"msgtype":"m.text","body":"x","deep":)" +
      deep + "}}]}";
  auto response = put_raw_transaction("1", body);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(json::parse(response.body).at("errcode"), "M_BAD_JSON");
  EXPECT_TRUE(sink_.published.empty());
}

TEST_F(MatrixConnectorTest, EventTheSinkRefusesForGoodIsParkedAndTheTransactionAnswered) {
  for (const auto& refusal : {core::Error::internal("database error: invalid byte sequence"),
                              core::Error::invalid("origin", "unusable")}) {
    sink_.published.clear();
    sink_.rejected.clear();
    sink_.refused_text = "poison";
    sink_.refusal = refusal;
    const std::string txn = refusal.kind == core::ErrorKind::kInternal ? "1" : "2";
    auto response = put_transaction(
        txn, json::array({text_event(kPortal, "@alice:matrix.test", "$a" + txn, "before"),
                          text_event(kPortal, "@alice:matrix.test", "$p" + txn, "poison"),
                          text_event(kPortal, "@alice:matrix.test", "$b" + txn, "after")}));
    EXPECT_EQ(response.status, 200) << response.body;
    ASSERT_EQ(sink_.rejected.size(), 1u);
    EXPECT_EQ(sink_.rejected[0], refusal.message);
    ASSERT_EQ(sink_.published.size(), 2u);
    EXPECT_EQ(std::get<core::MessagePosted>(sink_.published[0].payload).body.text, "before");
    EXPECT_EQ(std::get<core::MessagePosted>(sink_.published[1].payload).body.text, "after");
    EXPECT_TRUE(ledger_.keys.contains(txn));
  }
}

TEST_F(MatrixConnectorTest, TransientSinkFailureLetsTheHomeserverRetry) {
  sink_.refused_text = "hi";
  sink_.refusal = core::Error::unavailable("database connection lost");
  auto response =
      put_transaction("1", json::array({text_event(kPortal, "@alice:matrix.test", "$m1", "hi")}));
  EXPECT_NE(response.status, 200);
  EXPECT_TRUE(sink_.rejected.empty());
  EXPECT_FALSE(ledger_.keys.contains("1"));
  sink_.refused_text.clear();
  EXPECT_EQ(
      put_transaction("1", json::array({text_event(kPortal, "@alice:matrix.test", "$m1", "hi")}))
          .status,
      200);
  EXPECT_EQ(sink_.published.size(), 1u);
}

TEST_F(MatrixConnectorTest, WrongOrMissingHsTokenIsRefused) {
  const json events = json::array({text_event(kPortal, "@alice:matrix.test", "$m1", "hi")});
  auto wrong = put_transaction("1", events, "not-the-token");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(json::parse(wrong.body)["errcode"], "M_FORBIDDEN");
  auto missing = put_transaction("2", events, "");
  EXPECT_EQ(missing.status, 403);  // "Bearer " with nothing after it: a wrong token
  core::HttpRequest no_header;
  no_header.method = "PUT";
  no_header.path = "/_matrix/app/v1/transactions/3";
  auto unauthorized = while_running<core::HttpResponse>([&]() -> awaitable<core::HttpResponse> {
    co_return co_await connector_->handle_http(no_header);
  });
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(json::parse(unauthorized.body)["errcode"], "M_UNAUTHORIZED");
  EXPECT_TRUE(sink_.published.empty());
  EXPECT_TRUE(ledger_.keys.empty());
}

TEST_F(MatrixConnectorTest, DeliveryRegistersAndJoinsTheGhostThenSendsAsIt) {
  const auto delivery = mail_text("hello Matrix");
  auto sent = deliver(delivery);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  const std::string ghost = ghost_of("bob@example.org");
  const std::string txn = transaction_id(delivery.event.id, kPortal, 0);
  EXPECT_EQ(sent->remote_id, "$sent-" + txn);
  EXPECT_EQ(api_->sequence(), (std::vector<std::string>{"register_user", "set_displayname",
                                                        "join_room", "send_event"}));
  EXPECT_EQ(api_->of("register_user")[0].detail, ghost.substr(1, ghost.find(':') - 1));
  EXPECT_EQ(api_->of("set_displayname")[0].detail, "Bob");
  const auto join = api_->of("join_room")[0];
  EXPECT_EQ(join.room, kPortal);
  EXPECT_EQ(join.as_user, ghost);
  const auto send = api_->of("send_event")[0];
  EXPECT_EQ(send.room, kPortal);
  EXPECT_EQ(send.as_user, ghost);
  EXPECT_EQ(send.detail, "m.room.message");
  EXPECT_EQ(send.txn_id, txn);
  EXPECT_EQ(send.content["body"], "hello Matrix");
}

TEST_F(MatrixConnectorTest, AMessageKeepsTheTimeItWasWrittenButNeverOneInTheFuture) {
  auto delivery = mail_text("written an hour ago");
  const auto written = std::chrono::system_clock::now() - std::chrono::hours(1);
  delivery.event.at = written;
  ASSERT_TRUE(deliver(delivery).ok());
  auto ahead = mail_text("from a clock a day ahead");
  ahead.event.at = std::chrono::system_clock::now() + std::chrono::hours(24);
  const auto before = std::chrono::system_clock::now();
  ASSERT_TRUE(deliver(ahead).ok());
  auto untimed = mail_text("no time");
  untimed.event.at = {};
  ASSERT_TRUE(deliver(untimed).ok());

  using std::chrono::milliseconds;
  const auto ms = [](auto t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
  };
  ASSERT_EQ(api_->origin_ts.size(), 3u);
  EXPECT_EQ(api_->origin_ts[0], ms(written));
  ASSERT_TRUE(api_->origin_ts[1].has_value());
  EXPECT_GE(*api_->origin_ts[1], ms(before));
  EXPECT_LE(*api_->origin_ts[1], ms(std::chrono::system_clock::now()));
  EXPECT_EQ(api_->origin_ts[2], std::nullopt);
}

TEST_F(MatrixConnectorTest, RetriedDeliveryReusesItsTransactionId) {
  auto delivery = mail_text("once");
  ASSERT_TRUE(deliver(delivery).ok());
  delivery.attempt = 2;
  auto again = deliver(delivery);
  ASSERT_TRUE(again.ok());
  const auto sends = api_->of("send_event");
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].txn_id, sends[1].txn_id);
  EXPECT_EQ(again->remote_id, "$sent-" + sends[0].txn_id);
  // The ghost is ready and in the room: the retry costs one request.
  EXPECT_EQ(api_->of("register_user").size(), 1u);
  EXPECT_EQ(api_->of("join_room").size(), 1u);
}

TEST_F(MatrixConnectorTest, GhostNotInvitedIsInvitedByTheBot) {
  const std::string ghost = ghost_of("bob@example.org");
  api_->needs_invite.insert(ghost);
  ASSERT_TRUE(deliver(mail_text("knock knock")).ok());
  EXPECT_EQ(api_->sequence(),
            (std::vector<std::string>{"register_user", "set_displayname", "join_room", "invite",
                                      "join_room", "send_event"}));
  const auto invite = api_->of("invite")[0];
  EXPECT_EQ(invite.as_user, "");  // the bot
  EXPECT_EQ(invite.detail, ghost);
}

TEST_F(MatrixConnectorTest, BotCommandBeyondTheSendersLevelIsRefused) {
  api_->bot_rooms = {kManagementRoom};
  ASSERT_TRUE(preflight().ok());
  // By default the homeserver's users are at "user" level and nobody is "admin".
  auto response =
      put_transaction("1", json::array({text_event(kManagementRoom, "@alice:matrix.test", "$c1",
                                                   "link !room:matrix.test mail:group:1")}));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(sink_.published.empty());  // a command, not a message to bridge
  EXPECT_TRUE(api_->of("join_room").empty());
  const auto answers = api_->of("send_event");
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].room, kManagementRoom);
  EXPECT_EQ(answers[0].as_user, "");  // the bot
  EXPECT_EQ(answers[0].content["msgtype"], "m.notice");
  const std::string text = answers[0].content["body"];
  EXPECT_TRUE(text.starts_with("sorry, @alice:matrix.test: \"link\" needs the admin level"))
      << text;
}

TEST_F(MatrixConnectorTest, BotCommandWithinTheSendersLevelIsAnswered) {
  api_->bot_rooms = {kManagementRoom};
  ASSERT_TRUE(preflight().ok());
  auto response = put_transaction(
      "1", json::array({text_event(kManagementRoom, "@alice:matrix.test", "$c1", "status")}));
  EXPECT_EQ(response.status, 200);
  const auto answers = api_->of("send_event");
  ASSERT_EQ(answers.size(), 1u);
  const std::string text = answers[0].content["body"];
  EXPECT_TRUE(text.starts_with("coi-bridge is running.")) << text;
}

TEST_F(MatrixConnectorTest, GhostsAndTheirRoomsAreRememberedAcrossARestart) {
  ASSERT_TRUE(deliver(mail_text("before the restart")).ok());
  const std::string ghost = ghost_of("bob@example.org");
  EXPECT_TRUE(puppets_.memberships.contains({"matrix", ghost, kPortal}));

  connector_ = make_connector();  // a new process, the same database
  ASSERT_TRUE(preflight().ok());
  api_->calls.clear();
  ASSERT_TRUE(deliver(mail_text("after the restart")).ok());
  // The ghost exists, shows Bob and is in the room: no request but the message itself.
  EXPECT_EQ(api_->sequence(), (std::vector<std::string>{"send_event"}));
}

TEST_F(MatrixConnectorTest, AGhostRememberedInARoomItLeftJoinsAgainOnTheRetry) {
  ASSERT_TRUE(deliver(mail_text("first")).ok());
  const std::string ghost = ghost_of("bob@example.org");
  api_->not_in_room.insert(ghost);  // kicked while the bridge looked away
  api_->calls.clear();
  auto failed = deliver(mail_text("second"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, core::ErrorKind::kUnavailable);  // retried, not dead-lettered
  EXPECT_FALSE(puppets_.memberships.contains({"matrix", ghost, kPortal}));
  api_->calls.clear();
  ASSERT_TRUE(deliver(mail_text("second")).ok());
  EXPECT_EQ(api_->sequence(), (std::vector<std::string>{"join_room", "send_event"}));
}

}  // namespace
}  // namespace coibridge::connectors::matrix
