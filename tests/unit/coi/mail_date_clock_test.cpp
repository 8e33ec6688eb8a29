// The Date clock of outgoing mail: each mail of a conversation its own second, never before the
// event, never ahead of the clock without a lead, and never back in time across a restart.

#include "connectors/coi/mail_date_clock.hpp"

#include <gtest/gtest.h>

#include "coi_fakes.hpp"
#include "tests/support/run_awaitable.hpp"

namespace coibridge::connectors::coi {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr std::int64_t kNow = 1'800'000'000;

system_clock::time_point at(std::int64_t unix) { return system_clock::time_point(seconds(unix)); }

// A store whose next calls fail, as a database that went away.
class FlakyConversations final : public core::ConversationStateStore {
 public:
  fakes::MemoryConversations inner;
  int fail_loads = 0;
  int fail_saves = 0;
  boost::asio::awaitable<core::Result<std::optional<nlohmann::json>>> load(
      std::string connector, std::string conversation) override {
    if (fail_loads > 0) {
      --fail_loads;
      co_return core::Error::unavailable("database down");
    }
    co_return co_await inner.load(std::move(connector), std::move(conversation));
  }
  boost::asio::awaitable<core::Status> save(std::string connector, std::string conversation,
                                            nlohmann::json state,
                                            std::optional<core::ConversationInfo> info) override {
    if (fail_saves > 0) {
      --fail_saves;
      co_return core::Error::unavailable("database down");
    }
    co_return co_await inner.save(std::move(connector), std::move(conversation), std::move(state),
                                  std::move(info));
  }
  boost::asio::awaitable<core::Result<std::optional<core::ConversationInfo>>> describe(
      std::string c, std::string conversation) override {
    return inner.describe(std::move(c), std::move(conversation));
  }
  boost::asio::awaitable<core::Result<std::vector<std::string>>> find_by_key(
      std::string c, std::string key) override {
    return inner.find_by_key(std::move(c), std::move(key));
  }
  boost::asio::awaitable<core::Result<std::string>> merge(std::string c, std::string a,
                                                          std::string b) override {
    return inner.merge(std::move(c), std::move(a), std::move(b));
  }
};

class MailDateClockTest : public ::testing::Test {
 protected:
  MailDateClock clock(MailDateClock::Options options = {}) {
    return MailDateClock("mail", store_, options, [this] { return now_; });
  }
  MailDateClock::Slot next(MailDateClock& c, const std::string& conversation,
                           std::int64_t event_at) {
    auto slot = coibridge::testing::run_awaitable(c.next(conversation, at(event_at)));
    EXPECT_TRUE(slot.ok()) << slot.error().message;
    return slot.ok() ? *slot : MailDateClock::Slot{};
  }

  FlakyConversations store_;
  std::int64_t now_ = kNow;
};

TEST(NextMailDate, IsLaterThanTheLastAndNotBeforeTheEvent) {
  EXPECT_EQ(next_mail_date({}, kNow - 100, kNow), kNow - 100);  // a backlog keeps its own time
  EXPECT_EQ(next_mail_date({kNow - 100, 0}, kNow - 100, kNow), kNow - 99);
  EXPECT_EQ(next_mail_date({kNow - 100, 0}, kNow - 50, kNow), kNow - 50);
  EXPECT_EQ(next_mail_date({kNow, 0}, kNow, kNow), kNow + 1);  // the last is taken: the next
  // A sender's clock ahead does not push the conversation's Dates ahead with it.
  EXPECT_EQ(next_mail_date({}, kNow + 3600, kNow), kNow);
}

TEST_F(MailDateClockTest, ABurstInOneSecondGetsOneSecondEachAndWaitsForIt) {
  auto c = clock();
  for (int i = 0; i < 20; ++i) {
    const auto slot = next(c, "dm:alice@example.org", kNow);
    EXPECT_EQ(slot.date, kNow + i);
    // Without a lead a mail leaves only once its Date has come: a reader's client takes a
    // Date ahead of its own clock as the time of arrival.
    EXPECT_EQ(slot.not_before, slot.date);
  }
}

TEST_F(MailDateClockTest, ALeadLetsAMailGoThatManySecondsEarly) {
  auto c = clock({seconds(5), seconds(10)});
  for (int i = 0; i < 8; ++i) {
    const auto slot = next(c, "dm:alice@example.org", kNow);
    EXPECT_EQ(slot.date, kNow + i);
    EXPECT_EQ(slot.not_before, kNow + i - 5);
  }
}

TEST_F(MailDateClockTest, ABacklogOfOldEventsGoesOutAtOnceWithTheirOwnTimes) {
  auto c = clock();
  for (int i = 0; i < 50; ++i) {
    const auto slot = next(c, "dm:alice@example.org", kNow - 600 + 10 * i);
    EXPECT_EQ(slot.date, kNow - 600 + 10 * i);
    EXPECT_LE(slot.not_before, kNow);
  }
}

TEST_F(MailDateClockTest, ConversationsHaveClocksOfTheirOwn) {
  auto c = clock();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(next(c, "dm:alice@example.org", kNow).date, kNow + i);
  // Bob's chat does not wait behind Alice's burst.
  EXPECT_EQ(next(c, "group:Team", kNow).date, kNow);
  EXPECT_EQ(next(c, "dm:alice@example.org", kNow).date, kNow + 5);
}

TEST_F(MailDateClockTest, TheReservationIsWrittenOncePerReserveNotPerMail) {
  auto c = clock({seconds(0), seconds(10)});
  for (int i = 0; i < 30; ++i) next(c, "dm:alice@example.org", kNow);
  // Dates kNow..kNow+29: reservations up to kNow+10, kNow+21, kNow+32.
  EXPECT_EQ(store_.inner.saves, 3);
  const auto& saved = store_.inner.states.at(MailDateClock::state_key("dm:alice@example.org"));
  EXPECT_EQ(saved.at("date_reserved_until").get<std::int64_t>(), kNow + 32);
}

TEST_F(MailDateClockTest, ARestartNeverGoesBackInTime) {
  std::int64_t last = 0;
  {
    auto c = clock();
    for (int i = 0; i < 15; ++i) last = next(c, "dm:alice@example.org", kNow).date;
  }
  // Restarted at once (the clock has not moved): the first Date is above every Date the
  // old process may have sent, even those after its last reservation was written.
  auto again = clock();
  const auto first = next(again, "dm:alice@example.org", kNow);
  EXPECT_GT(first.date, last);
  EXPECT_GT(next(again, "dm:alice@example.org", kNow).date, first.date);
}

TEST_F(MailDateClockTest, ADatabaseOutageGivesNoDateAndLosesNoSecond) {
  auto c = clock();
  store_.fail_loads = 1;
  auto failed = coibridge::testing::run_awaitable(c.next("dm:alice@example.org", at(kNow)));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, core::ErrorKind::kUnavailable);
  EXPECT_EQ(next(c, "dm:alice@example.org", kNow).date, kNow);

  // Past the reservation, a failed save gives no Date: it could not survive a restart.
  for (int i = 1; i <= 10; ++i) EXPECT_EQ(next(c, "dm:alice@example.org", kNow).date, kNow + i);
  store_.fail_saves = 1;
  failed = coibridge::testing::run_awaitable(c.next("dm:alice@example.org", at(kNow)));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(next(c, "dm:alice@example.org", kNow).date, kNow + 11);
}

TEST_F(MailDateClockTest, AnUnreadableReservationStartsFromTheEvents) {
  store_.inner.states[MailDateClock::state_key("dm:alice@example.org")] = "not an object";
  auto c = clock();
  EXPECT_EQ(next(c, "dm:alice@example.org", kNow - 5).date, kNow - 5);
}

}  // namespace
}  // namespace coibridge::connectors::coi
