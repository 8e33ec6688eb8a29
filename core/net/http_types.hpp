#pragma once
// Plain HTTP request/response values exchanged between HttpServer and its handler. No Beast
// here: handlers (the admin API, connector webhooks) include this header without paying for
// Beast's templates.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coibridge::core {

// Field names are case-insensitive (RFC 9110 §5.1).
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

// Header fields by name. A field sent on several lines is joined with ", " into one value, as
// RFC 9110 §5.3 allows for list-valued fields.
using HttpHeaders = std::map<std::string, std::string, CaseInsensitiveLess>;

struct HttpRequest {
  std::string method;     // as sent, e.g. "GET"; methods are case-sensitive (RFC 9110 §9.1)
  std::string target;     // the raw request target, e.g. "/api/v1/bridges?limit=10"
  std::string path;       // target up to '?', not percent-decoded (so "%2F" never splits a segment)
  std::string raw_query;  // after '?', empty when absent
  std::map<std::string, std::string> query;  // decoded; for a repeated key the first wins
  HttpHeaders headers;
  std::string body;
  std::string remote_address;  // peer IP address, for logs

  // The field's value, or nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // omitted when empty
  std::string body;
  // Further fields (Allow, WWW-Authenticate, Retry-After, ...). Content-Length, Date and
  // Connection are the server's business.
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, std::string body) {
    return {status, "application/json", std::move(body), {}};
  }
  // The first value of an extra header, for tests and middleware.
  std::optional<std::string> header(std::string_view name) const;
};

// Percent-decoding of a query component (application/x-www-form-urlencoded, so '+' is a
// space). Malformed escapes are kept literally rather than rejected.
std::string decode_query_component(std::string_view text);
// "a=1&b=&c" → {a:1, b:"", c:""}; first occurrence of a key wins.
std::map<std::string, std::string> parse_query(std::string_view raw_query);

// Fills path, raw_query and query from target.
void split_target(HttpRequest& request);

}  // namespace coibridge::core
