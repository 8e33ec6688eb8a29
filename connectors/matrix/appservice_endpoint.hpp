#pragma once
// The HTTP side of the application service (Matrix spec v1.13, Application Service API):
// what the homeserver calls, under /_matrix/app/v1 and the legacy unprefixed paths. Every
// call must carry the registration's hs_token ("Authorization"); transactions are answered
// 200 only after what they carried is committed, and a transaction id seen before is
// answered at once ("Pushing events": the homeserver retries with the same id).

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/matrix/client_api.hpp"
#include "connectors/matrix/inbound_events.hpp"
#include "connectors/matrix/matrix_ids.hpp"
#include "connectors/matrix/portals.hpp"
#include "connectors/matrix/runtime.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/http_types.hpp"
#include "core/store/inbound_ledger.hpp"

namespace coibridge::connectors::matrix {

class AppserviceEndpoint {
 public:
  struct Parts {
    ClientApi& api;
    InboundEvents& inbound;
    Portals& portals;
    core::InboundLedger& ledger;
    const Runtime& runtime;
  };
  AppserviceEndpoint(std::string connector, std::string hs_token, GhostNaming naming,
                     core::MetricsRegistry& metrics, Parts parts)
      : connector_(std::move(connector)),
        hs_token_(std::move(hs_token)),
        naming_(std::move(naming)),
        metrics_(metrics),
        parts_(parts) {}

  static bool handles(std::string_view path);
  // How strongly an appservice request is this instance's: every Matrix instance serves the
  // same paths; the one whose registration's hs_token the request carries is the one its
  // homeserver meant (several homeservers, one bridge).
  static core::HttpClaim claim(const core::HttpRequest& request, std::string_view hs_token);
  boost::asio::awaitable<core::HttpResponse> handle(const core::HttpRequest& request);

  // 401 or 403 unless the request carries `hs_token` (empty: no token is right).
  static std::optional<core::HttpResponse> refused(const core::HttpRequest& request,
                                                   std::string_view hs_token,
                                                   core::MetricsRegistry& metrics,
                                                   const std::string& connector);

 private:
  boost::asio::awaitable<core::HttpResponse> on_transaction(const core::HttpRequest& request,
                                                            std::string txn_id);
  boost::asio::awaitable<core::HttpResponse> on_user_query(std::string user_id);
  boost::asio::awaitable<core::HttpResponse> on_room_query(std::string alias);

  const std::string connector_;
  const std::string hs_token_;
  const GhostNaming naming_;
  core::MetricsRegistry& metrics_;
  Parts parts_;
};

}  // namespace coibridge::connectors::matrix
