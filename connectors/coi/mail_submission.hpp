#pragma once
// Where the COI connector hands the chat mail it composed: SMTP submission (smtp_client.hpp)
// in the bridge, something else in tests.

#include <boost/asio/awaitable.hpp>
#include <string>

#include "connectors/coi/smtp/smtp_client.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::coi {

class MailSubmission {
 public:
  virtual ~MailSubmission() = default;
  // Submits one complete message to the envelope's recipients; returns once it was accepted.
  // Called on the delivering coroutine's executor. kUnavailable for what a retry may fix.
  virtual boost::asio::awaitable<core::Status> submit(const smtp::Envelope& envelope,
                                                      const std::string& message) = 0;
};

}  // namespace coibridge::connectors::coi
