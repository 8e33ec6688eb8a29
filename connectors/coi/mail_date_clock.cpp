#include "connectors/coi/mail_date_clock.hpp"

#include <algorithm>

namespace coibridge::connectors::coi {
namespace {

constexpr const char* kReservedKey = "date_reserved_until";

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::int64_t next_mail_date(const DateClockState& state, std::int64_t event_at, std::int64_t now) {
  // An event stamped in the future (a sender's clock ahead) counts as now: its Date would
  // otherwise hold back every later mail of the conversation.
  return std::max(state.last + 1, std::min(event_at, now));
}

MailDateClock::MailDateClock(std::string connector, core::ConversationStateStore& store,
                             Options options, std::function<std::int64_t()> now)
    : connector_(std::move(connector)),
      store_(store),
      options_(options),
      now_(now ? std::move(now) : [] { return unix_seconds(std::chrono::system_clock::now()); }) {}

std::string MailDateClock::state_key(const std::string& conversation) {
  return "date-clock:" + conversation;
}

boost::asio::awaitable<core::Result<MailDateClock::Slot>> MailDateClock::next(
    const std::string& conversation, std::chrono::system_clock::time_point event_at) {
  auto it = clocks_.find(conversation);
  if (it == clocks_.end()) {
    auto saved = co_await store_.load(connector_, state_key(conversation));
    if (!saved) co_return saved.error();
    DateClockState state;
    if (*saved && (*saved)->is_object()) {
      const auto& json = **saved;
      if (auto r = json.find(kReservedKey); r != json.end() && r->is_number_integer()) {
        state.reserved = r->get<std::int64_t>();
        // Dates up to the reservation may have gone out before the restart.
        state.last = state.reserved;
      }
    }
    // Another call may have loaded it meanwhile; the first one's state stands.
    it = clocks_.emplace(conversation, state).first;
  }
  DateClockState& state = it->second;
  const std::int64_t date = next_mail_date(state, unix_seconds(event_at), now_());
  if (date > state.reserved) {
    const std::int64_t reserved = date + options_.reserve.count();
    nlohmann::json reservation = nlohmann::json::object();
    reservation[kReservedKey] = reserved;
    auto saved = co_await store_.save(connector_, state_key(conversation), std::move(reservation));
    if (!saved) co_return saved.error();
    state.reserved = std::max(state.reserved, reserved);
  }
  state.last = std::max(state.last, date);
  Slot slot;
  slot.date = date;
  slot.not_before = date - options_.lead.count();
  co_return slot;
}

}  // namespace coibridge::connectors::coi
