// Authentication and authorisation of the admin API, enumerated over the route table so a new
// route cannot slip in unprotected.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

#include "core/admin/auth.hpp"
#include "tests/unit/admin/admin_fixture.hpp"

namespace coibridge::core::fakes {
namespace {

using nlohmann::json;

class AdminAuthTest : public AdminApiTest {
 protected:
  void SetUp() override {
    bridge_ = run_sync(bridges_.create_bridge("b", "setup"))->id;
    link_ = run_sync(bridges_.add_link(bridge_, "matrix", "!r:x", json::object(), "setup"))->id;
    bridges_.calls = 0;
  }

  std::string target_for(const RouteInfo& route) const {
    return fill_pattern(route.pattern,
                        {{"id", std::to_string(bridge_)}, {"link_id", std::to_string(link_)}});
  }

  static std::string body_for(const RouteInfo& route) {
    if (route.method == "POST" && route.pattern == "/api/v1/bridges") return R"({"name":"new"})";
    if (route.method == "PATCH") return R"({"name":"renamed"})";
    if (route.method == "POST") return R"({"connector":"xmpp","remote_id":"room@muc.x"})";
    return "";
  }

  static void expect_unauthorized(const HttpResponse& res, const std::string& what) {
    EXPECT_EQ(res.status, 401) << what;
    const auto challenge = res.header("WWW-Authenticate");
    ASSERT_TRUE(challenge.has_value()) << what;
    EXPECT_EQ(challenge->rfind("Bearer", 0), 0U) << what << ": " << *challenge;
    EXPECT_EQ(body(res).at("error"), "unauthorized") << what;
    EXPECT_TRUE(body(res).at("message").is_string()) << what;
  }

  std::int64_t bridge_ = 0;
  std::int64_t link_ = 0;
};

TEST_F(AdminAuthTest, RouteTableProtectsEveryApiRoute) {
  const auto& routes = AdminApi::routes();
  EXPECT_EQ(routes.size(), 16U);
  for (const auto& route : routes) {
    const bool is_api = route.pattern.rfind("/api/", 0) == 0;
    EXPECT_EQ(is_api, route.scope != Scope::kNone) << route.method << " " << route.pattern;
    if (is_api) {
      EXPECT_EQ(route.scope, route.method == "GET" ? Scope::kRead : Scope::kWrite)
          << route.method << " " << route.pattern;
    }
  }
}

TEST_F(AdminAuthTest, EveryApiRouteRejectsMissingMalformedAndUnknownTokens) {
  int checked = 0;
  for (const auto& route : AdminApi::routes()) {
    if (route.scope == Scope::kNone) continue;
    ++checked;
    const std::string what = route.method + " " + route.pattern;
    const auto target = target_for(route);
    const auto body_text = body_for(route);
    expect_unauthorized(call(route.method, target, body_text, std::nullopt), what + " (missing)");
    expect_unauthorized(call(route.method, target, body_text, "not-a-configured-token-at-all!!!"),
                        what + " (unknown)");
    // A prefix or extension of a valid token is still wrong.
    expect_unauthorized(call(route.method, target, body_text, kWriteToken.substr(0, 20)),
                        what + " (prefix)");
    expect_unauthorized(call(route.method, target, body_text, kWriteToken + "x"),
                        what + " (extended)");
    for (const char* header : {"Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "Bearer a b", "",
                               "Token abc", "Bearer\tabc"}) {
      expect_unauthorized(call_with_authorization(route.method, target, header, body_text),
                          what + " (malformed: '" + header + "')");
    }
  }
  EXPECT_EQ(checked, 13);
  // Nothing reached the store, nothing changed.
  EXPECT_EQ(bridges_.calls, 0);
  EXPECT_EQ(bridges_.bridge_count(), 1U);
  EXPECT_EQ(bridges_.link_count(), 1U);
}

TEST_F(AdminAuthTest, ReadOnlyTokenIsForbiddenOnEveryWriteRoute) {
  int write_routes = 0;
  for (const auto& route : AdminApi::routes()) {
    if (route.scope != Scope::kWrite) continue;
    ++write_routes;
    const auto res = call(route.method, target_for(route), body_for(route), kReadToken);
    EXPECT_EQ(res.status, 403) << route.method << " " << route.pattern;
    EXPECT_EQ(body(res).at("error"), "forbidden") << route.method << " " << route.pattern;
  }
  EXPECT_EQ(write_routes, 7);
  EXPECT_EQ(bridges_.calls, 0);
}

TEST_F(AdminAuthTest, ReadOnlyTokenMayUseEveryReadRoute) {
  for (const auto& route : AdminApi::routes()) {
    if (route.scope != Scope::kRead) continue;
    const auto res = call(route.method, target_for(route), "", kReadToken);
    EXPECT_EQ(res.status, 200) << route.method << " " << route.pattern << ": " << res.body;
  }
}

TEST_F(AdminAuthTest, ActorIsTheTokenName) {
  call("PATCH", "/api/v1/bridges/" + std::to_string(bridge_), R"({"name":"x"})");
  EXPECT_EQ(bridges_.last_actor, "admin");
}

TEST_F(AdminAuthTest, SchemeIsCaseInsensitive) {
  EXPECT_EQ(call_with_authorization("GET", "/api/v1/bridges", "bearer " + kReadToken).status, 200);
  EXPECT_EQ(call_with_authorization("GET", "/api/v1/bridges", "BEARER  " + kReadToken).status, 200);
}

TEST_F(AdminAuthTest, TokensNeverReachTheLog) {
  auto stream = std::make_shared<std::ostringstream>();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*stream);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);

  call("GET", "/api/v1/bridges", "", kWriteToken);
  call("POST", "/api/v1/bridges", R"({"name":"logged"})", kWriteToken);
  call("DELETE", "/api/v1/bridges/1", "", kReadToken);
  call("GET", "/api/v1/bridges", "", "wrong-token-wrong-token-wrong-token");
  bridges_.fail_next = Error::internal("boom");
  call("GET", "/api/v1/bridges", "", kWriteToken);

  spdlog::set_default_logger(previous);
  const std::string log = stream->str();
  EXPECT_FALSE(log.empty());
  EXPECT_EQ(log.find(kWriteToken), std::string::npos) << log;
  EXPECT_EQ(log.find(kReadToken), std::string::npos) << log;
  EXPECT_EQ(log.find("wrong-token"), std::string::npos) << log;
}

TEST(AdminBearerParseTest, AcceptsOnlyBearerCredentials) {
  EXPECT_EQ(parse_bearer("Bearer abc"), "abc");
  EXPECT_EQ(parse_bearer("  bearer   abc.def~+/=  "), "abc.def~+/=");
  EXPECT_FALSE(parse_bearer("Bearer").has_value());
  EXPECT_FALSE(parse_bearer("Bearerabc").has_value());
  EXPECT_FALSE(parse_bearer("Basic abc").has_value());
  EXPECT_FALSE(parse_bearer("Bearer a b").has_value());
  EXPECT_FALSE(parse_bearer("Bearer a\x01").has_value());
  EXPECT_FALSE(parse_bearer("").has_value());
}

TEST(AdminTokenAuthenticatorTest, MatchesByDigestAndReportsScopes) {
  const TokenAuthenticator auth(
      {AdminToken{"w", "token-one-0123456789012345678901234", true, true},
       AdminToken{"r", "token-two-0123456789012345678901234", true, false}});
  auto res = auth.authenticate(std::string("Bearer token-two-0123456789012345678901234"));
  EXPECT_EQ(res.outcome, AuthOutcome::kOk);
  EXPECT_EQ(res.name, "r");
  EXPECT_TRUE(res.permits(Scope::kRead));
  EXPECT_FALSE(res.permits(Scope::kWrite));
  res = auth.authenticate(std::string("Bearer token-one-0123456789012345678901234"));
  EXPECT_EQ(res.name, "w");
  EXPECT_TRUE(res.permits(Scope::kWrite));
  EXPECT_TRUE(res.permits(Scope::kRead));
  EXPECT_EQ(auth.authenticate(std::nullopt).outcome, AuthOutcome::kMissing);
  EXPECT_EQ(auth.authenticate(std::string("Basic x")).outcome, AuthOutcome::kMalformed);
  EXPECT_EQ(auth.authenticate(std::string("Bearer token")).outcome, AuthOutcome::kUnknown);
  EXPECT_FALSE(auth.authenticate(std::string("Bearer token")).permits(Scope::kRead));
  // A write-only token (not producible from config, which adds read) still reads.
  const TokenAuthenticator write_only({AdminToken{"wo", "wo-token", false, true}});
  EXPECT_TRUE(write_only.authenticate(std::string("Bearer wo-token")).permits(Scope::kRead));
  // No tokens configured: nothing authenticates.
  const TokenAuthenticator none({});
  EXPECT_EQ(none.authenticate(std::string("Bearer x")).outcome, AuthOutcome::kUnknown);
}

TEST(AdminRouteMatchTest, MatchesSegmentsAndCapturesPlaceholders) {
  PathParams params;
  EXPECT_TRUE(
      match_path("/api/v1/bridges/{id}/links/{link_id}", "/api/v1/bridges/4/links/9", params));
  EXPECT_EQ(params.get("id"), "4");
  EXPECT_EQ(params.get("link_id"), "9");
  EXPECT_FALSE(params.get("other").has_value());
  EXPECT_FALSE(match_path("/api/v1/bridges/{id}", "/api/v1/bridges/", params));
  EXPECT_FALSE(match_path("/api/v1/bridges/{id}", "/api/v1/bridges", params));
  EXPECT_FALSE(match_path("/api/v1/bridges", "/api/v1/bridges/", params));
  EXPECT_FALSE(match_path("/api/v1/bridges", "api/v1/bridges", params));
  EXPECT_FALSE(match_path("/health", "//health", params));
  EXPECT_TRUE(match_path("/health", "/health", params));
  EXPECT_EQ(fill_pattern("/a/{x}/b/{y}", {{"y", "2"}, {"x", "1"}}), "/a/1/b/2");
}

}  // namespace
}  // namespace coibridge::core::fakes
