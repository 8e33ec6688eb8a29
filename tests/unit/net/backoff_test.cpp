#include "core/net/backoff.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

namespace coibridge::core {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, GrowsExponentiallyWithoutJitter) {
  const BackoffPolicy p{milliseconds(100), milliseconds(10000), 2.0, 0.0};
  EXPECT_EQ(backoff_delay(p, 1, 0.5), milliseconds(100));
  EXPECT_EQ(backoff_delay(p, 2, 0.5), milliseconds(200));
  EXPECT_EQ(backoff_delay(p, 3, 0.5), milliseconds(400));
  EXPECT_EQ(backoff_delay(p, 5, 0.5), milliseconds(1600));
  const BackoffPolicy triple{milliseconds(10), milliseconds(10000), 3.0, 0.0};
  EXPECT_EQ(backoff_delay(triple, 3, 0.0), milliseconds(90));
}

TEST(BackoffTest, IsCappedAtMax) {
  const BackoffPolicy p{milliseconds(100), milliseconds(1000), 2.0, 0.0};
  EXPECT_EQ(backoff_delay(p, 4, 0.5), milliseconds(800));
  EXPECT_EQ(backoff_delay(p, 5, 0.5), milliseconds(1000));
  EXPECT_EQ(backoff_delay(p, 30, 0.5), milliseconds(1000));
  // An initial delay above max is capped too.
  const BackoffPolicy big_initial{milliseconds(5000), milliseconds(1000), 2.0, 0.0};
  EXPECT_EQ(backoff_delay(big_initial, 1, 0.5), milliseconds(1000));
}

TEST(BackoffTest, JitterStaysWithinBounds) {
  const BackoffPolicy p{milliseconds(1000), milliseconds(60000), 2.0, 0.2};
  EXPECT_EQ(backoff_delay(p, 1, 0.0), milliseconds(800));
  EXPECT_EQ(backoff_delay(p, 1, 0.5), milliseconds(1000));
  EXPECT_EQ(backoff_delay(p, 1, 0.75), milliseconds(1100));
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const double base = std::min(1000.0 * std::pow(2.0, attempt - 1), 60000.0);
    for (double u = 0.0; u < 1.0; u += 0.01) {
      const auto d = backoff_delay(p, attempt, u).count();
      EXPECT_GE(d, std::floor(base * 0.8)) << "attempt " << attempt << " u " << u;
      EXPECT_LE(d, std::ceil(base * 1.2)) << "attempt " << attempt << " u " << u;
      EXPECT_LE(d, 60000) << "attempt " << attempt << " u " << u;
    }
  }
  // At the cap, jitter may only shorten the delay.
  EXPECT_EQ(backoff_delay(p, 20, 0.999), milliseconds(60000));
  EXPECT_EQ(backoff_delay(p, 20, 0.0), milliseconds(48000));
}

TEST(BackoffTest, HugeAttemptsSaturateWithoutOverflow) {
  const BackoffPolicy p{milliseconds(500), milliseconds(300000), 2.0, 0.2};
  EXPECT_EQ(backoff_delay(p, std::numeric_limits<int>::max(), 0.999), milliseconds(300000));
  EXPECT_EQ(backoff_delay(p, 2000, 0.5), milliseconds(300000));
  const BackoffPolicy unbounded{milliseconds(1), milliseconds::max(), 10.0, 0.2};
  EXPECT_EQ(backoff_delay(unbounded, std::numeric_limits<int>::max(), 0.999), milliseconds::max());
  EXPECT_GT(backoff_delay(unbounded, 5000, 0.0), milliseconds(0));
}

TEST(BackoffTest, NeverBelowOneMillisecond) {
  const BackoffPolicy zero{milliseconds(0), milliseconds(0), 2.0, 0.2};
  EXPECT_EQ(backoff_delay(zero, 1, 0.0), milliseconds(1));
  const BackoffPolicy full_jitter{milliseconds(1), milliseconds(100), 2.0, 1.0};
  EXPECT_EQ(backoff_delay(full_jitter, 1, 0.0), milliseconds(1));
}

TEST(BackoffTest, OutOfRangeInputsAreClamped) {
  const BackoffPolicy p{milliseconds(100), milliseconds(1000), 2.0, 0.0};
  EXPECT_EQ(backoff_delay(p, 0, 0.5), milliseconds(100));
  EXPECT_EQ(backoff_delay(p, -5, 0.5), milliseconds(100));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const BackoffPolicy odd{milliseconds(100), milliseconds(1000), nan, nan};
  EXPECT_EQ(backoff_delay(odd, 5, nan), milliseconds(100));
  const BackoffPolicy shrinking{milliseconds(100), milliseconds(1000), 0.5, 0.0};
  EXPECT_EQ(backoff_delay(shrinking, 5, 0.5), milliseconds(100));
  const BackoffPolicy jittery{milliseconds(100), milliseconds(1000), 2.0, 0.5};
  EXPECT_EQ(backoff_delay(jittery, 1, 7.0), milliseconds(150));
  EXPECT_EQ(backoff_delay(jittery, 1, -3.0), milliseconds(50));
}

}  // namespace
}  // namespace coibridge::core
