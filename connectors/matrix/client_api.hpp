#pragma once
// The client-server API calls the bridge makes as an application service (Matrix spec
// v1.13, Application Service API "Client-Server API Extensions"): the as_token as Bearer,
// and `user_id` to act as one of our ghosts.
//
// Errors: a 429 (M_LIMIT_EXCEEDED) asking for a short wait is waited out and retried here;
// a longer one, and 5xx, are kUnavailable, so the delivery worker retries with backoff; other 4xx
// are kPermanent with the errcode first in the message ("M_FORBIDDEN: ..."), since retrying cannot
// fix them.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/model/result.hpp"
#include "core/net/http_client.hpp"

namespace coibridge::connectors::matrix {

class ClientApi {
 public:
  ClientApi(boost::asio::any_io_executor executor, std::string homeserver_url, std::string as_token,
            core::HttpClientOptions options);

  // One call; `as_user` empty acts as the bot. Returns the JSON body of a 2xx answer.
  boost::asio::awaitable<core::Result<nlohmann::json>> call(std::string method, std::string path,
                                                            std::string as_user,
                                                            nlohmann::json body);

  // Creates a user in our namespace (m.login.application_service); one that exists is fine.
  boost::asio::awaitable<core::Status> ensure_user(std::string localpart);
  boost::asio::awaitable<core::Status> set_display_name(std::string user_id, std::string name);
  // The user's avatar (client-server API, "Profiles": an mxc:// URI).
  boost::asio::awaitable<core::Status> set_avatar_url(std::string user_id, std::string mxc_uri);
  boost::asio::awaitable<core::Status> join(std::string room_id, std::string as_user);
  boost::asio::awaitable<core::Status> invite(std::string room_id, std::string user_id,
                                              std::string as_user);
  // Leaves a room, or declines an invite to it.
  boost::asio::awaitable<core::Status> leave(std::string room_id, std::string as_user);
  // The rooms `as_user` (empty: the bot) is in.
  boost::asio::awaitable<core::Result<std::vector<std::string>>> joined_rooms(std::string as_user);
  // Uploads bytes to the media repository; the mxc:// URI.
  boost::asio::awaitable<core::Result<std::string>> upload(std::string content_type,
                                                           std::string filename, std::string data,
                                                           std::string as_user);
  // Authenticated media download (v1.11, /_matrix/client/v1/media/download).
  boost::asio::awaitable<core::Result<std::string>> download(std::string mxc_uri);

  // The errcode of a kPermanent error this class made, if it names one.
  static std::optional<std::string> errcode_of(const core::Error& error);

 private:
  boost::asio::awaitable<core::Result<core::HttpClientResponse>> raw(std::string method,
                                                                     std::string target,
                                                                     core::HttpHeaders headers,
                                                                     std::string body);

  boost::asio::any_io_executor executor_;
  std::string base_;
  std::string as_token_;
  core::HttpClient http_;
};

}  // namespace coibridge::connectors::matrix
