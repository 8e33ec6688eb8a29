// The connector registry hands each HTTP request to the instance that claims it most strongly,
// so two instances of one type (two Matrix homeservers) share a path space.

#include "core/connector/registry.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_connector.hpp"

namespace coibridge::core {
namespace testing = coibridge::testing;
namespace {

HttpRequest request(std::string path, std::string token) {
  HttpRequest r;
  r.method = "PUT";
  r.path = std::move(path);
  r.target = r.path;
  if (!token.empty()) r.headers["Authorization"] = "Bearer " + token;
  return r;
}

TEST(ConnectorRegistry, HttpRequestGoesToTheInstanceWhoseCredentialsItCarries) {
  auto a = std::make_shared<testing::TestConnector>("hs-a");
  auto b = std::make_shared<testing::TestConnector>("hs-b");
  auto other = std::make_shared<testing::TestConnector>("spool");
  a->http_prefix = b->http_prefix = "/_matrix/app/";
  a->http_token = "token-a";
  b->http_token = "token-b";
  ConnectorRegistry registry;
  ASSERT_TRUE(registry.add(a).ok());
  ASSERT_TRUE(registry.add(b).ok());
  ASSERT_TRUE(registry.add(other).ok());

  EXPECT_EQ(registry.http_handler(request("/_matrix/app/v1/transactions/1", "token-b")), b);
  EXPECT_EQ(registry.http_handler(request("/_matrix/app/v1/transactions/1", "token-a")), a);
  // No instance's credentials: the first by name answers (and refuses it).
  EXPECT_EQ(registry.http_handler(request("/_matrix/app/v1/transactions/1", "wrong")), a);
  EXPECT_EQ(registry.http_handler(request("/api/v1/bridges", "token-a")), nullptr);

  // The body limit is the path's, before any credentials are looked at: the largest of the
  // instances serving it.
  a->http_limit = 1000;
  b->http_limit = 5000;
  EXPECT_EQ(registry.http_body_limit("/_matrix/app/v1/transactions/1"), 5000u);
  EXPECT_EQ(registry.http_body_limit("/api/v1/bridges"), 0u);
}

}  // namespace
}  // namespace coibridge::core
