#pragma once
// A blocking HTTP/1.1 client for tests: every call gives up after 10 s instead of hanging the
// test binary. Not for production code.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace coibridge::test {

struct TestResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lowercased; repeated fields joined ", "
};

using TestHeaders = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection ("Connection: close"). Host and Content-Length are set
// unless given in headers. Throws std::runtime_error when the server cannot be reached, the
// exchange fails or times out.
TestResponse http_request(const std::string& host, std::uint16_t port, const std::string& method,
                          const std::string& target, const std::string& body = "",
                          const TestHeaders& headers = {});

// A persistent connection for keep-alive tests: requests go one after another on the same
// socket. Throws like http_request; connection_closed() tells whether the server closed it.
class TestConnection {
 public:
  TestConnection(const std::string& host, std::uint16_t port);
  ~TestConnection();
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  TestResponse request(const std::string& method, const std::string& target,
                       const std::string& body = "", const TestHeaders& headers = {});
  // Whether the server has closed its side, waiting up to `wait` for it to do so.
  bool connection_closed(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends raw bytes, then reads until the server closes the connection (or 10 s pass) and
// returns everything received. For malformed-request tests.
std::string raw_exchange(const std::string& host, std::uint16_t port, const std::string& bytes);

}  // namespace coibridge::test
