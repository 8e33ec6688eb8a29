// AdminApi routes: happy paths, input validation, store error mapping, routing and metrics.
// Authentication is covered in admin_auth_test.cpp.

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/admin/admin_fixture.hpp"

namespace coibridge::core::fakes {
namespace {

using nlohmann::json;

// ---- probes and metrics ----

TEST_F(AdminApiTest, HealthNeedsNoToken) {
  const auto res = call("GET", "/health", "", std::nullopt);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_EQ(body(res), json({{"status", "ok"}}));
}

TEST_F(AdminApiTest, ReadyReflectsTheProbe) {
  EXPECT_EQ(call("GET", "/ready", "", std::nullopt).status, 200);
  EXPECT_EQ(body(call("GET", "/ready", "", std::nullopt)), json({{"status", "ready"}}));
  ready_ = false;
  const auto res = call("GET", "/ready", "", std::nullopt);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(body(res), json({{"status", "not_ready"}}));
  ready_ = true;
  ready_throws_ = true;
  EXPECT_EQ(call("GET", "/ready", "", std::nullopt).status, 503);
}

TEST_F(AdminApiTest, MetricsRenderOutboxDepthAndRequestCounts) {
  events_.depth = std::int64_t{7};
  call("GET", "/health", "", std::nullopt);
  call("GET", "/health", "", std::nullopt);
  call("GET", "/nowhere", "", std::nullopt);
  const auto res = call("GET", "/metrics", "", std::nullopt);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "text/plain; version=0.0.4");
  EXPECT_NE(res.body.find("# TYPE coibridge_outbox_depth gauge\ncoibridge_outbox_depth 7\n"),
            std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find(
                R"(coibridge_http_requests_total{route="/health",method="GET",status="200"} 2)"),
            std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find(
                R"(coibridge_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
            std::string::npos)
      << res.body;
}

TEST_F(AdminApiTest, MetricsStillServedWhenOutboxDepthFails) {
  events_.depth = std::int64_t{3};
  call("GET", "/metrics", "", std::nullopt);
  events_.depth = Error::unavailable("db down");
  const auto res = call("GET", "/metrics", "", std::nullopt);
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("coibridge_outbox_depth 3\n"), std::string::npos) << res.body;
}

TEST_F(AdminApiTest, EveryRequestIsCountedByRoutePatternMethodAndStatus) {
  const auto id = make_bridge("b");
  call("GET", "/api/v1/bridges/" + std::to_string(id));
  call("GET", "/api/v1/bridges/999");
  call("GET", "/api/v1/bridges/1", "", std::nullopt);
  call("PUT", "/api/v1/bridges");
  call("BREW", "/coffee");
  EXPECT_EQ(requests_counted("/api/v1/bridges", "POST", 201), 1);
  EXPECT_EQ(requests_counted("/api/v1/bridges/{id}", "GET", 200), 1);
  EXPECT_EQ(requests_counted("/api/v1/bridges/{id}", "GET", 404), 1);
  EXPECT_EQ(requests_counted("/api/v1/bridges/{id}", "GET", 401), 1);
  EXPECT_EQ(requests_counted("/api/v1/bridges", "PUT", 405), 1);
  // Unknown methods share one label value so clients cannot mint time series.
  EXPECT_EQ(requests_counted("unmatched", "other", 404), 1);
}

// ---- routing ----

TEST_F(AdminApiTest, UnknownRouteIs404) {
  for (const char* target : {"/", "/api/v1/nothing", "/api/v1/bridges/", "/api/v1/bridges/1/x",
                             "/healthz", "/api/v2/bridges"}) {
    const auto res = call("GET", target);
    EXPECT_EQ(res.status, 404) << target;
    EXPECT_EQ(body(res).at("error"), "not_found") << target;
  }
}

TEST_F(AdminApiTest, WrongMethodIs405WithAllow) {
  auto res = call("PUT", "/api/v1/bridges");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(body(res).at("error"), "method_not_allowed");
  EXPECT_EQ(res.header("Allow"), "GET, HEAD, POST");
  res = call("POST", "/api/v1/bridges/1");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("Allow"), "GET, HEAD, PATCH, DELETE");
  res = call("GET", "/api/v1/bridges/1/links/2");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("Allow"), "DELETE");
  EXPECT_EQ(call("POST", "/health").status, 405);
}

TEST_F(AdminApiTest, HeadIsServedByGetRoutes) {
  EXPECT_EQ(call("HEAD", "/health", "", std::nullopt).status, 200);
  EXPECT_EQ(call("HEAD", "/api/v1/bridges").status, 200);
  EXPECT_EQ(call("HEAD", "/api/v1/bridges", "", std::nullopt).status, 401);
}

// ---- bridges ----

TEST_F(AdminApiTest, CreateBridge) {
  const auto res = call("POST", "/api/v1/bridges", R"({"name":"team chat"})");
  ASSERT_EQ(res.status, 201) << res.body;
  const auto j = body(res);
  EXPECT_EQ(j, json({{"id", 1},
                     {"name", "team chat"},
                     {"created_at", "2023-11-14T22:13:20.123Z"},
                     {"updated_at", "2023-11-14T22:13:20.123Z"}}));
  EXPECT_EQ(res.header("Location"), "/api/v1/bridges/1");
  EXPECT_EQ(bridges_.last_actor, "admin");
}

TEST_F(AdminApiTest, ListBridgesPages) {
  for (const char* name : {"a", "b", "c"}) make_bridge(name);
  auto res = call("GET", "/api/v1/bridges");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(bridges_.last_limit, 50);
  EXPECT_EQ(body(res).at("items").size(), 3U);
  EXPECT_TRUE(body(res).at("next_after").is_null());

  res = call("GET", "/api/v1/bridges?limit=2");
  auto j = body(res);
  ASSERT_EQ(j.at("items").size(), 2U);
  EXPECT_EQ(j.at("items")[0].at("name"), "a");
  EXPECT_EQ(j.at("next_after"), 2);
  res = call("GET", "/api/v1/bridges?limit=2&after=2");
  j = body(res);
  ASSERT_EQ(j.at("items").size(), 1U);
  EXPECT_EQ(j.at("items")[0].at("name"), "c");
  EXPECT_TRUE(j.at("next_after").is_null());
  EXPECT_EQ(call("GET", "/api/v1/bridges?limit=200").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/bridges?limit=1").status, 200);
}

TEST_F(AdminApiTest, ListBridgesRejectsBadPaging) {
  const std::pair<const char*, const char*> cases[] = {
      {"limit=0", "limit"},   {"limit=201", "limit"}, {"limit=abc", "limit"},
      {"limit=", "limit"},    {"limit=-1", "limit"},  {"after=-1", "after"},
      {"after=1.5", "after"}, {"after=x", "after"},   {"after=99999999999999999999", "after"},
  };
  for (const auto& [query, field] : cases) {
    const auto res = call("GET", std::string("/api/v1/bridges?") + query);
    EXPECT_EQ(res.status, 400) << query;
    EXPECT_EQ(body(res).at("error"), "invalid_field") << query;
    EXPECT_EQ(body(res).at("field"), field) << query;
  }
  EXPECT_EQ(bridges_.calls, 0);
}

TEST_F(AdminApiTest, GetRenameDeleteBridge) {
  const auto id = make_bridge("old");
  const std::string path = "/api/v1/bridges/" + std::to_string(id);
  EXPECT_EQ(body(call("GET", path)).at("name"), "old");

  auto res = call("PATCH", path, R"({"name":"new"})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(body(res).at("name"), "new");
  EXPECT_EQ(body(res).at("id"), id);
  EXPECT_EQ(body(call("GET", path)).at("name"), "new");

  res = call("DELETE", path);
  EXPECT_EQ(res.status, 204);
  EXPECT_TRUE(res.body.empty());
  EXPECT_EQ(call("GET", path).status, 404);
  EXPECT_EQ(call("DELETE", path).status, 404);
  EXPECT_EQ(call("PATCH", path, R"({"name":"x"})").status, 404);
}

TEST_F(AdminApiTest, BridgeBodyValidation) {
  const std::pair<std::string, const char*> invalid_json_bodies[] = {
      {"", "empty"},           {"not json", "text"},         {"[]", "array"},
      {R"("name")", "string"}, {R"({"name":)", "truncated"}, {"\xff\xfe", "bytes"}};
  for (const auto& [text, what] : invalid_json_bodies) {
    for (const char* method : {"POST", "PATCH"}) {
      const auto res = call(
          method, method == std::string("POST") ? "/api/v1/bridges" : "/api/v1/bridges/1", text);
      EXPECT_EQ(res.status, 400) << what;
      EXPECT_EQ(body(res).at("error"), "invalid_json") << what;
    }
  }
  const std::string too_long(201, 'x');
  const std::string invalid_names[] = {"{}",
                                       R"({"name":5})",
                                       R"({"name":null})",
                                       R"({"name":["a"]})",
                                       R"({"name":""})",
                                       json{{"name", too_long}}.dump(),
                                       R"({"name":"a\nb"})",
                                       R"({"nam":"a"})"};
  for (const auto& text : invalid_names) {
    const auto res = call("POST", "/api/v1/bridges", text);
    EXPECT_EQ(res.status, 400) << text;
    EXPECT_EQ(body(res).at("error"), "invalid_field") << text;
    EXPECT_EQ(body(res).at("field"), "name") << text;
    EXPECT_TRUE(body(res).at("message").is_string()) << text;
  }
  EXPECT_EQ(bridges_.calls, 0);
  // The limit counts characters, not bytes: 200 two-byte characters fit.
  std::string accented;
  for (int i = 0; i < 200; ++i) accented += "\xc3\xa9";
  EXPECT_EQ(call("POST", "/api/v1/bridges", json{{"name", accented}}.dump()).status, 201);
  EXPECT_EQ(call("POST", "/api/v1/bridges", json{{"name", std::string(200, 'x')}}.dump()).status,
            201);
}

TEST_F(AdminApiTest, DuplicateBridgeNameIs409) {
  make_bridge("same");
  const auto res = call("POST", "/api/v1/bridges", R"({"name":"same"})");
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(body(res).at("error"), "conflict");
}

TEST_F(AdminApiTest, BadPathIdsAre400NamingTheField) {
  const std::pair<std::string, const char*> cases[] = {
      {"GET /api/v1/bridges/abc", "id"},
      {"GET /api/v1/bridges/-1", "id"},
      {"GET /api/v1/bridges/1e3", "id"},
      {"GET /api/v1/bridges/99999999999999999999", "id"},
      {"PATCH /api/v1/bridges/x", "id"},
      {"DELETE /api/v1/bridges/9223372036854775808", "id"},
      {"GET /api/v1/bridges/x/links", "id"},
      {"POST /api/v1/bridges/x/links", "id"},
      {"DELETE /api/v1/bridges/x/links/1", "id"},
      {"DELETE /api/v1/bridges/1/links/y", "link_id"},
      {"DELETE /api/v1/bridges/1/links/99999999999999999999", "link_id"},
  };
  for (const auto& [request, field] : cases) {
    const auto space = request.find(' ');
    const auto res = call(request.substr(0, space), request.substr(space + 1),
                          R"({"name":"n","connector":"c","remote_id":"r"})");
    EXPECT_EQ(res.status, 400) << request;
    EXPECT_EQ(body(res).at("error"), "invalid_field") << request;
    EXPECT_EQ(body(res).at("field"), field) << request;
  }
  EXPECT_EQ(bridges_.calls, 0);
  // The largest int64 is a well-formed id (that does not exist).
  EXPECT_EQ(call("GET", "/api/v1/bridges/9223372036854775807").status, 404);
}

// ---- links ----

TEST_F(AdminApiTest, AddListRemoveLinks) {
  const auto id = make_bridge("b");
  const std::string links = "/api/v1/bridges/" + std::to_string(id) + "/links";
  auto res =
      call("POST", links,
           R"({"connector":"matrix","remote_id":"!room:example.org","options":{"relay":true}})");
  ASSERT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(body(res), json({{"id", 1},
                             {"bridge_id", id},
                             {"connector", "matrix"},
                             {"remote_id", "!room:example.org"},
                             {"options", {{"relay", true}}},
                             {"created_at", "2023-11-14T22:13:20.123Z"}}));
  EXPECT_EQ(bridges_.last_actor, "admin");
  res = call("POST", links, R"({"connector":"coi","remote_id":"group@example.org"})");
  ASSERT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(body(res).at("options"), json::object());

  res = call("GET", links);
  ASSERT_EQ(res.status, 200);
  const auto items = body(res).at("items");
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[1].at("connector"), "coi");

  EXPECT_EQ(call("DELETE", links + "/1").status, 204);
  EXPECT_EQ(body(call("GET", links)).at("items").size(), 1U);
  EXPECT_EQ(call("DELETE", links + "/1").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/bridges/77/links").status, 404);
}

TEST_F(AdminApiTest, LinkChangesAreAnnouncedAfterTheyAreMade) {
  const auto id = make_bridge("b");
  const std::string links = "/api/v1/bridges/" + std::to_string(id) + "/links";
  ASSERT_EQ(call("POST", links, R"({"connector":"matrix","remote_id":"!room:example.org"})").status,
            201);
  ASSERT_EQ(call("POST", links, R"({"connector":"coi","remote_id":"group:1"})").status, 201);
  ASSERT_EQ(linked_.size(), 2U);
  EXPECT_EQ(linked_[0].connector, "matrix");
  EXPECT_EQ(linked_[0].remote_id, "!room:example.org");
  EXPECT_EQ(linked_[0].bridge_id, id);
  // A refused link is not announced.
  EXPECT_EQ(call("POST", links, R"({"connector":"coi","remote_id":"group:1"})").status, 409);
  EXPECT_EQ(linked_.size(), 2U);

  ASSERT_EQ(call("DELETE", links + "/1").status, 204);
  ASSERT_EQ(unlinked_.size(), 1U);
  EXPECT_EQ(unlinked_[0].remote_id, "!room:example.org");
  EXPECT_EQ(call("DELETE", links + "/1").status, 404);
  EXPECT_EQ(unlinked_.size(), 1U);
  // Deleting the bridge announces the links it still had.
  ASSERT_EQ(call("DELETE", "/api/v1/bridges/" + std::to_string(id)).status, 204);
  ASSERT_EQ(unlinked_.size(), 2U);
  EXPECT_EQ(unlinked_[1].remote_id, "group:1");
}

TEST_F(AdminApiTest, LinkBodyValidation) {
  const auto id = make_bridge("b");
  const std::string links = "/api/v1/bridges/" + std::to_string(id) + "/links";
  const auto calls_before = bridges_.calls;
  const std::pair<json, const char*> cases[] = {
      {json{{"remote_id", "r"}}, "connector"},
      {json{{"connector", 1}, {"remote_id", "r"}}, "connector"},
      {json{{"connector", ""}, {"remote_id", "r"}}, "connector"},
      {json{{"connector", "Matrix"}, {"remote_id", "r"}}, "connector"},
      {json{{"connector", "a b"}, {"remote_id", "r"}}, "connector"},
      {json{{"connector", "a/b"}, {"remote_id", "r"}}, "connector"},
      {json{{"connector", std::string(65, 'a')}, {"remote_id", "r"}}, "connector"},
      {json{{"connector", "c"}}, "remote_id"},
      {json{{"connector", "c"}, {"remote_id", ""}}, "remote_id"},
      {json{{"connector", "c"}, {"remote_id", 5}}, "remote_id"},
      {json{{"connector", "c"}, {"remote_id", std::string(1025, 'r')}}, "remote_id"},
      {json{{"connector", "c"}, {"remote_id", "r"}, {"options", json::array()}}, "options"},
      {json{{"connector", "c"}, {"remote_id", "r"}, {"options", nullptr}}, "options"},
      {json{{"connector", "c"}, {"remote_id", "r"}, {"options", "x"}}, "options"},
      {json{{"connector", "c"}, {"remote_id", "r"}, {"options", {{"direction", "in"}}}},
       "options.direction"},
      {json{{"connector", "c"}, {"remote_id", "r"}, {"options", {{"direction", 1}}}},
       "options.direction"},
  };
  for (const auto& [request, field] : cases) {
    const auto res = call("POST", links, request.dump());
    EXPECT_EQ(res.status, 400) << request.dump();
    EXPECT_EQ(body(res).at("error"), "invalid_field") << request.dump();
    EXPECT_EQ(body(res).at("field"), field) << request.dump();
  }
  EXPECT_EQ(call("POST", links, "nope").status, 400);
  EXPECT_EQ(bridges_.calls, calls_before);
  // Boundaries that are allowed.
  EXPECT_EQ(
      call("POST", links,
           json{{"connector", std::string(64, 'a')}, {"remote_id", std::string(1024, 'r')}}.dump())
          .status,
      201);
  EXPECT_EQ(call("POST", links, json{{"connector", "a0_.-z"}, {"remote_id", "r"}}.dump()).status,
            201);
}

// RFC 8259 §9: nesting is limited; past the limit the recursive serialiser would run out of
// stack, so a body like this must never reach a store or a response.
TEST_F(AdminApiTest, BodyNestedTooDeepIs400NamingTheField) {
  const auto id = make_bridge("b");
  const std::string links = "/api/v1/bridges/" + std::to_string(id) + "/links";
  const auto calls_before = bridges_.calls;
  for (const std::size_t depth : {std::size_t{64}, std::size_t{100000}}) {
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    const auto res =
        call("POST", links, R"({"connector":"c","remote_id":"r","options":{"x":)" + deep + "}}");
    ASSERT_EQ(res.status, 400) << depth;
    EXPECT_EQ(body(res).at("error"), "invalid_field");
    EXPECT_EQ(body(res).at("field"), "options");
    const auto renamed =
        call("PATCH", "/api/v1/bridges/" + std::to_string(id), R"({"name":)" + deep + "}");
    EXPECT_EQ(renamed.status, 400);
  }
  EXPECT_EQ(bridges_.calls, calls_before);
}

TEST_F(AdminApiTest, ALinkMayAskForTheHistoryKeptWhileUnlinked) {
  const auto id = make_bridge("b");
  const std::string links = "/api/v1/bridges/" + std::to_string(id) + "/links";
  ASSERT_EQ(call("POST", links, R"({"connector":"mail","remote_id":"adhoc:<g@x>"})").status, 201);
  EXPECT_TRUE(backfills_.empty());  // not asked for
  backfill_result_ = 10;
  auto res = call("POST", links, R"({"connector":"matrix","remote_id":"!r:x","backfill":10})");
  ASSERT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(body(res).at("backfilled"), 10);
  ASSERT_EQ(backfills_.size(), 1u);
  EXPECT_EQ(backfills_[0], std::make_pair(id, 10));
  for (const char* bad : {R"("ten")", "-1", "1001", "2.5"}) {
    res = call("POST", links,
               std::string(R"({"connector":"spool","remote_id":"s","backfill":)") + bad + "}");
    EXPECT_EQ(res.status, 400) << bad;
    EXPECT_EQ(body(res).at("field"), "backfill") << bad;
  }
  EXPECT_EQ(backfills_.size(), 1u);
  // The store failing: the answer says so (the link stands).
  backfill_result_ = Error::unavailable("database down");
  res = call("POST", links, R"({"connector":"spool","remote_id":"s2","backfill":5})");
  EXPECT_EQ(res.status, 503) << res.body;
}

TEST_F(AdminApiTest, LinkToAConnectorThatDoesNotRunHereIs400) {
  AdminDeps deps{bridges_,
                 events_,
                 metrics_,
                 {AdminToken{"admin", kWriteToken, true, true}},
                 {},
                 {},
                 {},
                 {},
                 [](std::string_view name) { return name == "mail" || name == "matrix"; },
                 {}};
  AdminApi api(std::move(deps));
  const auto id = make_bridge("b");
  const auto links = "/api/v1/bridges/" + std::to_string(id) + "/links";
  const auto post = [&](const json& request) {
    HttpRequest req;
    req.method = "POST";
    req.target = links;
    split_target(req);
    req.body = request.dump();
    req.headers.emplace("Authorization", "Bearer " + std::string(kWriteToken));
    return run_sync(api.handle(req));
  };
  const auto refused = post(json{{"connector", "mial"}, {"remote_id", "group:1"}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(body(refused).at("field"), "connector");
  EXPECT_NE(body(refused).at("message").get<std::string>().find("mial"), std::string::npos);
  EXPECT_EQ(bridges_.link_count(), 0U);
  EXPECT_EQ(post(json{{"connector", "mail"},
                      {"remote_id", "group:1"},
                      {"options", {{"direction", "inbound"}}}})
                .status,
            201);
}

TEST_F(AdminApiTest, DuplicateLinkIs409) {
  const auto id = make_bridge("b");
  make_link(id, "!r:x");
  const auto res = call("POST", "/api/v1/bridges/" + std::to_string(id) + "/links",
                        R"({"connector":"matrix","remote_id":"!r:x"})");
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(body(res).at("error"), "conflict");
}

// ---- dead letters ----

TEST_F(AdminApiTest, ListDeadLetters) {
  for (std::int64_t i = 1; i <= 3; ++i) {
    events_.letters.push_back(
        DeadLetter{i, "ev-" + std::to_string(i), {"matrix", "!r:x"}, "rejected", 10, fixed_time()});
  }
  auto res = call("GET", "/api/v1/dead-letters", "", kReadToken);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(events_.last_after, 0);
  EXPECT_EQ(events_.last_limit, 50);
  auto j = body(res);
  ASSERT_EQ(j.at("items").size(), 3U);
  EXPECT_EQ(j.at("items")[0], json({{"id", 1},
                                    {"direction", "delivery"},
                                    {"connector", "matrix"},
                                    {"conversation", "!r:x"},
                                    {"event_id", "ev-1"},
                                    {"target", {{"connector", "matrix"}, {"remote_id", "!r:x"}}},
                                    {"reason", "rejected"},
                                    {"attempts", 10},
                                    {"created_at", "2023-11-14T22:13:20.123Z"}}));
  res = call("GET", "/api/v1/dead-letters?after=1&limit=1");
  j = body(res);
  EXPECT_EQ(events_.last_after, 1);
  EXPECT_EQ(events_.last_limit, 1);
  ASSERT_EQ(j.at("items").size(), 1U);
  EXPECT_EQ(j.at("items")[0].at("id"), 2);
  EXPECT_EQ(j.at("next_after"), 2);
  EXPECT_EQ(body(call("GET", "/api/v1/dead-letters?limit=0")).at("field"), "limit");
  EXPECT_EQ(body(call("GET", "/api/v1/dead-letters?after=z")).at("field"), "after");
}

TEST_F(AdminApiTest, ListConversationsFiltersAndPages) {
  ConversationSummary group;
  group.id = 4;
  group.connector = "mail";
  group.remote_id = "adhoc:<first@x>";
  group.kind = "group";
  group.title = "Team";
  group.members = {"a@x", "b@x"};
  group.messages = 30;
  group.unlinked_events = 31;
  group.first_seen = group.last_activity = fixed_time();
  ConversationSummary room = group;
  room.id = 9;
  room.connector = "matrix";
  room.remote_id = "!r:x";
  room.bridge_id = 2;
  bridges_.conversations = {group, room};

  auto res = call("GET", "/api/v1/conversations?connector=mail&linked=false&q=te", "", kReadToken);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(bridges_.last_filter.connector, "mail");
  EXPECT_EQ(bridges_.last_filter.linked, std::optional<bool>(false));
  EXPECT_EQ(bridges_.last_filter.query, "te");
  auto j = body(res);
  ASSERT_EQ(j.at("items").size(), 1U);
  EXPECT_EQ(j.at("items")[0], json({{"id", 4},
                                    {"connector", "mail"},
                                    {"remote_id", "adhoc:<first@x>"},
                                    {"kind", "group"},
                                    {"title", "Team"},
                                    {"members", {"a@x", "b@x"}},
                                    {"messages", 30},
                                    {"unlinked_events", 31},
                                    {"bridge_id", nullptr},
                                    {"first_seen", "2023-11-14T22:13:20.123Z"},
                                    {"last_activity", "2023-11-14T22:13:20.123Z"}}));
  EXPECT_EQ(j.at("next_after"), nullptr);

  j = body(call("GET", "/api/v1/conversations?limit=1", "", kReadToken));
  EXPECT_FALSE(bridges_.last_filter.linked.has_value());
  ASSERT_EQ(j.at("items").size(), 1U);
  EXPECT_EQ(j.at("next_after"), 4);
  j = body(call("GET", "/api/v1/conversations?linked=true&after=4", "", kReadToken));
  ASSERT_EQ(j.at("items").size(), 1U);
  EXPECT_EQ(j.at("items")[0].at("bridge_id"), 2);

  EXPECT_EQ(body(call("GET", "/api/v1/conversations?linked=yes")).at("field"), "linked");
  EXPECT_EQ(body(call("GET", "/api/v1/conversations?q=" + std::string(201, 'x'))).at("field"), "q");
  EXPECT_EQ(call("GET", "/api/v1/conversations", "", std::nullopt).status, 401);
}

TEST_F(AdminApiTest, UnlinkedListsWhatCrossedNowhere) {
  ConversationSummary group;
  group.id = 4;
  group.connector = "mail";
  group.remote_id = "adhoc:<first@x>";
  group.kind = "group";
  group.title = "Team";
  group.unlinked_events = 31;
  group.first_seen = group.last_activity = fixed_time();
  ConversationSummary quiet = group;  // seen, nothing unlinked
  quiet.id = 5;
  quiet.remote_id = "dm:a@x";
  quiet.unlinked_events = 0;
  ConversationSummary linked = group;
  linked.id = 6;
  linked.bridge_id = 2;
  bridges_.conversations = {group, quiet, linked};

  auto res = call("GET", "/api/v1/unlinked?connector=mail", "", kReadToken);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_TRUE(bridges_.last_filter.with_unlinked_events);
  EXPECT_EQ(bridges_.last_filter.linked, std::optional<bool>(false));
  auto j = body(res);
  ASSERT_EQ(j.at("items").size(), 1U);
  EXPECT_EQ(j.at("items")[0], json({{"connector", "mail"},
                                    {"conversation", "adhoc:<first@x>"},
                                    {"kind", "group"},
                                    {"title", "Team"},
                                    {"count", 31},
                                    {"last_seen", "2023-11-14T22:13:20.123Z"}}));
  EXPECT_EQ(body(call("GET", "/api/v1/unlinked?limit=0", "", kReadToken)).at("field"), "limit");
  EXPECT_EQ(call("GET", "/api/v1/unlinked", "", std::nullopt).status, 401);
}

TEST_F(AdminApiTest, ReplayDeadLetter) {
  events_.letters.push_back(
      DeadLetter{7, "ev-7", {"matrix", "!r:x"}, "rejected", 10, fixed_time()});
  events_.letters.push_back(DeadLetter{8, "", {"coi", ""}, "inbound", 0, fixed_time()});
  auto res = call("POST", "/api/v1/dead-letters/7/replay");
  ASSERT_EQ(res.status, 202) << res.body;
  EXPECT_EQ(body(res).at("status"), "queued");
  ASSERT_EQ(events_.replayed.size(), 1U);
  EXPECT_EQ(events_.replayed[0], (std::pair<std::int64_t, std::string>{7, "admin"}));
  EXPECT_EQ(replay_notifications_, 1);
  EXPECT_EQ(call("POST", "/api/v1/dead-letters/7/replay").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/dead-letters/8/replay").status, 409);
  EXPECT_EQ(body(call("POST", "/api/v1/dead-letters/x/replay")).at("field"), "id");
  EXPECT_EQ(replay_notifications_, 1);
}

TEST_F(AdminApiTest, DeadLettersSayWhichWayTheyWentAndCanBeDiscarded) {
  events_.letters.push_back(
      DeadLetter{7, "ev-7", {"matrix", "!r:x"}, "rejected", 10, fixed_time()});
  DeadLetter inbound{8, "", {"mail", "dm:a@x"}, "mail over max_message_bytes", 0, fixed_time()};
  inbound.direction = "inbound";
  events_.letters.push_back(inbound);
  auto items = body(call("GET", "/api/v1/dead-letters", "", kReadToken)).at("items");
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[0].at("direction"), "delivery");
  EXPECT_EQ(items[0].at("connector"), "matrix");
  EXPECT_EQ(items[0].at("conversation"), "!r:x");
  EXPECT_EQ(items[1].at("direction"), "inbound");
  EXPECT_EQ(items[1].at("connector"), "mail");
  EXPECT_EQ(items[1].at("conversation"), "dm:a@x");
  EXPECT_EQ(items[1].at("reason"), "mail over max_message_bytes");

  EXPECT_EQ(call("DELETE", "/api/v1/dead-letters/8", "", kReadToken).status, 403);
  EXPECT_EQ(call("DELETE", "/api/v1/dead-letters/8").status, 204);
  ASSERT_EQ(events_.discarded.size(), 1U);
  EXPECT_EQ(events_.discarded[0], (std::pair<std::int64_t, std::string>{8, "admin"}));
  EXPECT_EQ(call("DELETE", "/api/v1/dead-letters/8").status, 404);
  EXPECT_EQ(body(call("DELETE", "/api/v1/dead-letters/x")).at("field"), "id");
  EXPECT_EQ(body(call("GET", "/api/v1/dead-letters", "", kReadToken)).at("items").size(), 1U);
}

// ---- store errors ----

TEST_F(AdminApiTest, StoreErrorsMapByKind) {
  struct Case {
    Error error;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {Error::not_found("no bridge 5"), 404, "not_found"},
      {Error::conflict("taken"), 409, "conflict"},
      {Error::invalid("name", "reserved word"), 400, "invalid_field"},
      {Error::unavailable("connection refused to 10.0.0.5"), 503, "unavailable"},
      {Error::internal("SQL syntax error near SELECT secret"), 500, "internal"},
      {Error::permanent("pq: relation missing"), 500, "internal"},
  };
  for (const auto& c : cases) {
    bridges_.fail_next = c.error;
    const auto res = call("GET", "/api/v1/bridges");
    EXPECT_EQ(res.status, c.status) << c.error.message;
    EXPECT_EQ(body(res).at("error"), c.code) << c.error.message;
    if (c.status >= 500) {
      // Internal details stay in the log.
      EXPECT_EQ(res.body.find(c.error.message), std::string::npos) << res.body;
    }
  }
  bridges_.fail_next = Error::invalid("name", "reserved word");
  EXPECT_EQ(body(call("POST", "/api/v1/bridges", R"({"name":"x"})")).at("field"), "name");
  bridges_.fail_next = Error::unavailable("down");
  EXPECT_TRUE(call("DELETE", "/api/v1/bridges/1").header("Retry-After").has_value());
  events_.fail_next = Error::unavailable("down");
  EXPECT_EQ(call("GET", "/api/v1/dead-letters").status, 503);
}

TEST_F(AdminApiTest, StoreExceptionIs500) {
  bridges_.throw_next = true;
  const auto res = call("GET", "/api/v1/bridges/1");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(body(res).at("error"), "internal");
  EXPECT_EQ(res.body.find("exploded"), std::string::npos);
  EXPECT_EQ(requests_counted("/api/v1/bridges/{id}", "GET", 500), 1);
}

// Every route in the table answers its happy path through handle(): the table and the
// dispatch cannot drift apart.
TEST_F(AdminApiTest, EveryRouteHasAWorkingHappyPath) {
  // Set up through the store so that only the calls below are counted.
  const auto bridge = run_sync(bridges_.create_bridge("first", "setup"))->id;
  const auto spare = run_sync(bridges_.create_bridge("spare", "setup"))->id;
  const auto link =
      run_sync(bridges_.add_link(spare, "matrix", "!room:x", json::object(), "setup"))->id;
  // One for the replay, one for the discard.
  for (int i = 0; i < 2; ++i) {
    events_.letters.push_back(
        DeadLetter{spare, "ev", {"matrix", "!room:x"}, "rejected", 3, fixed_time()});
  }
  for (const auto& route : AdminApi::routes()) {
    const bool deletes_bridge = route.method == "DELETE" && route.pattern == "/api/v1/bridges/{id}";
    const auto target =
        fill_pattern(route.pattern, {{"id", std::to_string(deletes_bridge ? bridge : spare)},
                                     {"link_id", std::to_string(link)}});
    std::string request_body;
    if (route.method == "POST" && route.pattern == "/api/v1/bridges") {
      request_body = R"({"name":"another"})";
    } else if (route.method == "PATCH") {
      request_body = R"({"name":"renamed"})";
    } else if (route.method == "POST") {
      request_body = R"({"connector":"xmpp","remote_id":"room@muc.x"})";
    }
    const auto res = call(route.method, target, request_body);
    EXPECT_GE(res.status, 200) << route.method << " " << target << ": " << res.body;
    EXPECT_LT(res.status, 300) << route.method << " " << target << ": " << res.body;
    EXPECT_EQ(requests_counted(route.pattern, route.method, res.status), 1)
        << route.method << " " << route.pattern;
  }
}

}  // namespace
}  // namespace coibridge::core::fakes
