#pragma once
// ClientApi over HTTP: the homeserver's client-server API at `homeserver_url`, with the
// registration's as_token.

#include <boost/asio/any_io_executor.hpp>

#include "connectors/matrix/client_api.hpp"
#include "core/net/http_client.hpp"

namespace coibridge::connectors::matrix {

class HttpClientApi final : public ClientApi {
 public:
  HttpClientApi(boost::asio::any_io_executor executor, std::string homeserver_url,
                std::string as_token, core::HttpClientOptions options);

  boost::asio::awaitable<core::Result<double>> ping(std::string appservice_id,
                                                    std::string transaction_id) override;
  boost::asio::awaitable<core::Status> register_user(std::string localpart) override;
  boost::asio::awaitable<core::Result<std::string>> get_displayname(std::string user_id) override;
  boost::asio::awaitable<core::Status> set_displayname(std::string user_id,
                                                       std::string name) override;
  boost::asio::awaitable<core::Status> set_avatar_url(std::string user_id,
                                                      std::string mxc_uri) override;
  boost::asio::awaitable<core::Result<std::string>> create_room(nlohmann::json body,
                                                                std::string as_user) override;
  boost::asio::awaitable<core::Status> join_room(std::string room_id, std::string as_user) override;
  boost::asio::awaitable<core::Status> invite(std::string room_id, std::string user_id,
                                              std::string as_user) override;
  boost::asio::awaitable<core::Status> leave_room(std::string room_id,
                                                  std::string as_user) override;
  boost::asio::awaitable<core::Result<std::vector<std::string>>> joined_rooms(
      std::string as_user) override;
  boost::asio::awaitable<core::Result<nlohmann::json>> recent_events(std::string room_id, int limit,
                                                                     std::string as_user) override;
  boost::asio::awaitable<core::Result<std::string>> resolve_alias(std::string alias) override;
  boost::asio::awaitable<core::Status> delete_alias(std::string alias) override;
  boost::asio::awaitable<core::Result<std::string>> send_event(
      std::string room_id, std::string event_type, std::string txn_id, nlohmann::json content,
      std::string as_user, std::optional<std::int64_t> origin_ts_ms) override;
  boost::asio::awaitable<core::Result<std::string>> send_state(std::string room_id,
                                                               std::string event_type,
                                                               std::string state_key,
                                                               nlohmann::json content,
                                                               std::string as_user) override;
  boost::asio::awaitable<core::Result<std::string>> redact(std::string room_id,
                                                           std::string event_id, std::string txn_id,
                                                           nlohmann::json content,
                                                           std::string as_user) override;
  boost::asio::awaitable<core::Status> send_receipt(std::string room_id, std::string receipt_type,
                                                    std::string event_id, nlohmann::json content,
                                                    std::string as_user) override;
  boost::asio::awaitable<core::Status> set_typing(std::string room_id, std::string user_id,
                                                  nlohmann::json content) override;
  boost::asio::awaitable<core::Result<std::string>> upload_media(std::string content_type,
                                                                 std::string filename,
                                                                 std::string data,
                                                                 std::string as_user) override;
  boost::asio::awaitable<core::Result<std::string>> download_media(std::string mxc_uri) override;

 private:
  // One JSON call to `path` (already encoded) as `as_user`; the JSON body of a 2xx answer.
  boost::asio::awaitable<core::Result<nlohmann::json>> call(std::string method, std::string path,
                                                            std::string as_user,
                                                            nlohmann::json body);
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
