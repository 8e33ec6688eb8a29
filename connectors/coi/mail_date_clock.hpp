#pragma once
// The Date of each mail the bridge sends, per conversation: strictly increasing seconds, so
// that a reader's client shows the conversation in the order the bridge sent it even when the
// mail server delivers the mails in another order.
//
// Why a clock: Delta Chat sorts a chat by (min(Date, time of arrival), arrival) (chatmail core
// src/chat.rs, calc_sort_timestamp; since 2.53 without smearing). Two mails with one Date
// second are shown in the order they arrived, which the mail server decides: Postfix delivers
// mails queued milliseconds apart in parallel. A Date later than the reader's clock is worth
// no more than its arrival time, so the order is only certain for mails whose Date had come
// when they were sent. The clock therefore gives each mail of a conversation its own second,
// never earlier than the event happened, and lets a mail go only once its second has come;
// `lead` allows that many seconds into the future instead of waiting, trading the certainty
// for speed (with a lead the order of a fast burst is again the mail server's).
//
// A burst faster than one message a second per conversation leaves at one a second: mail's
// Date has no finer unit. A backlog of events that happened further apart goes out at once,
// each with its own event's time.
//
// Restarts never go back in time: the clock keeps a reservation, `reserve` seconds past the
// last Date it gave, in the connector's conversation state (one write per `reserve` seconds of
// Dates, not one per mail), and after a restart starts above it.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/model/result.hpp"
#include "core/store/conversation_state_store.hpp"

namespace coibridge::connectors::coi {

// One conversation's clock, in Unix seconds.
struct DateClockState {
  std::int64_t last = 0;      // the latest Date given (after a restart: the reservation)
  std::int64_t reserved = 0;  // persisted: no Date up to this one may be given after a restart
};

// The next Date: later than the last, not earlier than the event, not later than `now` unless
// the last Date already is. Pure; MailDateClock keeps the state.
std::int64_t next_mail_date(const DateClockState& state, std::int64_t event_at, std::int64_t now);

class MailDateClock {
 public:
  struct Options {
    std::chrono::seconds lead{0};
    std::chrono::seconds reserve{10};
  };
  struct Slot {
    std::int64_t date = 0;
    // The mail must not leave before this Unix second (date - lead).
    std::int64_t not_before = 0;
  };

  // `now` gives Unix seconds (the system clock unless a test injects one).
  MailDateClock(std::string connector, core::ConversationStateStore& store, Options options,
                std::function<std::int64_t()> now = {});

  // The Date for the next mail to `conversation`. Deliveries to one conversation are serial
  // (the delivery scheduler keeps one in flight per conversation), so a conversation's state
  // is never touched by two calls at once. Fails (kUnavailable) only when the reservation
  // cannot be loaded or saved; no Date is given then.
  boost::asio::awaitable<core::Result<Slot>> next(const std::string& conversation,
                                                  std::chrono::system_clock::time_point event_at);

  // Where a conversation's reservation is kept in the conversation state store: beside the
  // conversation's own state, under a key of its own.
  static std::string state_key(const std::string& conversation);

 private:
  std::string connector_;
  core::ConversationStateStore& store_;
  Options options_;
  std::function<std::int64_t()> now_;
  std::map<std::string, DateClockState> clocks_;  // loaded on first use
};

}  // namespace coibridge::connectors::coi
