#pragma once
// The client-server API calls the bridge makes as an application service (Matrix spec
// v1.13, Application Service API "Client-Server API Extensions"): the as_token as Bearer,
// and `user_id` to act as one of our ghosts. `as_user` empty acts as the bot.
//
// An interface, so that the connector's parts can be tested against a fake homeserver; the
// HTTP implementation is HttpClientApi. Implementations build every path themselves, with
// each path parameter percent-encoded (client-server API, "Conventions": "path parameters
// ... must be encoded"), so callers pass plain ids.
//
// Errors: a 429 (M_LIMIT_EXCEEDED) asking for a short wait is waited out and retried by the
// implementation; a longer one, and 5xx, are kUnavailable, so the delivery worker retries with
// backoff; other 4xx are kPermanent with the errcode in Error::code ("M_FORBIDDEN"), since
// retrying cannot fix them.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/model/result.hpp"

namespace coibridge::connectors::matrix {

class ClientApi {
 public:
  virtual ~ClientApi() = default;

  // POST /_matrix/client/v1/appservice/{appserviceId}/ping (v1.7): the homeserver calls our
  // /ping with the hs_token it holds. The round trip in milliseconds.
  virtual boost::asio::awaitable<core::Result<double>> ping(std::string appservice_id,
                                                            std::string transaction_id) = 0;

  // POST /register with m.login.application_service: creates a user in our namespace; one
  // that exists already (M_USER_IN_USE) is fine.
  virtual boost::asio::awaitable<core::Status> register_user(std::string localpart) = 0;
  // Profiles (GET/PUT /profile/{userId}/displayname, /avatar_url); set_* act as the user.
  // get_displayname: "" when the user has no name.
  virtual boost::asio::awaitable<core::Result<std::string>> get_displayname(
      std::string user_id) = 0;
  virtual boost::asio::awaitable<core::Status> set_displayname(std::string user_id,
                                                               std::string name) = 0;
  virtual boost::asio::awaitable<core::Status> set_avatar_url(std::string user_id,
                                                              std::string mxc_uri) = 0;

  // POST /createRoom with `body` as given; the new room's id (kUnavailable when the answer
  // names none).
  virtual boost::asio::awaitable<core::Result<std::string>> create_room(nlohmann::json body,
                                                                        std::string as_user) = 0;
  // POST /join/{roomIdOrAlias}.
  virtual boost::asio::awaitable<core::Status> join_room(std::string room_id,
                                                         std::string as_user) = 0;
  // POST /rooms/{roomId}/invite.
  virtual boost::asio::awaitable<core::Status> invite(std::string room_id, std::string user_id,
                                                      std::string as_user) = 0;
  // POST /rooms/{roomId}/leave: leaves a room, or declines an invite to it.
  virtual boost::asio::awaitable<core::Status> leave_room(std::string room_id,
                                                          std::string as_user) = 0;
  // GET /joined_rooms.
  virtual boost::asio::awaitable<core::Result<std::vector<std::string>>> joined_rooms(
      std::string as_user) = 0;
  // GET /rooms/{roomId}/messages?dir=b: the newest `limit` events, newest first (the
  // response's `chunk`, an empty array when it has none).
  virtual boost::asio::awaitable<core::Result<nlohmann::json>> recent_events(
      std::string room_id, int limit, std::string as_user) = 0;

  // GET /directory/room/{roomAlias}: the room id (kUnavailable when the answer names none).
  virtual boost::asio::awaitable<core::Result<std::string>> resolve_alias(std::string alias) = 0;
  // DELETE /directory/room/{roomAlias}, as the bot.
  virtual boost::asio::awaitable<core::Status> delete_alias(std::string alias) = 0;

  // PUT /rooms/{roomId}/send/{eventType}/{txnId}: the event id ("" when the answer names
  // none). The homeserver answers a repeated txn id of the same user with the first answer
  // ("Transaction identifiers"), which is what makes a retried delivery safe. `origin_ts_ms`,
  // when given, becomes the event's origin_server_ts (application service API, "Timestamp
  // massaging": the `ts` query parameter): the time the message was written on its network.
  virtual boost::asio::awaitable<core::Result<std::string>> send_event(
      std::string room_id, std::string event_type, std::string txn_id, nlohmann::json content,
      std::string as_user, std::optional<std::int64_t> origin_ts_ms) = 0;
  // PUT /rooms/{roomId}/state/{eventType}/{stateKey}: the event id.
  virtual boost::asio::awaitable<core::Result<std::string>> send_state(std::string room_id,
                                                                       std::string event_type,
                                                                       std::string state_key,
                                                                       nlohmann::json content,
                                                                       std::string as_user) = 0;
  // PUT /rooms/{roomId}/redact/{eventId}/{txnId}: the redaction's event id.
  virtual boost::asio::awaitable<core::Result<std::string>> redact(std::string room_id,
                                                                   std::string event_id,
                                                                   std::string txn_id,
                                                                   nlohmann::json content,
                                                                   std::string as_user) = 0;
  // POST /rooms/{roomId}/receipt/{receiptType}/{eventId}.
  virtual boost::asio::awaitable<core::Status> send_receipt(std::string room_id,
                                                            std::string receipt_type,
                                                            std::string event_id,
                                                            nlohmann::json content,
                                                            std::string as_user) = 0;
  // PUT /rooms/{roomId}/typing/{userId}, as that user.
  virtual boost::asio::awaitable<core::Status> set_typing(std::string room_id, std::string user_id,
                                                          nlohmann::json content) = 0;

  // POST /_matrix/media/v3/upload: the mxc:// URI.
  virtual boost::asio::awaitable<core::Result<std::string>> upload_media(std::string content_type,
                                                                         std::string filename,
                                                                         std::string data,
                                                                         std::string as_user) = 0;
  // Authenticated media download (v1.11, GET /_matrix/client/v1/media/download).
  virtual boost::asio::awaitable<core::Result<std::string>> download_media(std::string mxc_uri) = 0;

  // The errcode of a kPermanent or kUnavailable error an implementation made, if it names one.
  static std::optional<std::string> errcode_of(const core::Error& error) {
    if (error.code.empty()) return std::nullopt;
    return error.code;
  }
};

}  // namespace coibridge::connectors::matrix
