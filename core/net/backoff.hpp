#pragma once
// Retry delays for deliveries and reconnects: capped exponential backoff with jitter.

#include <chrono>

namespace coibridge::core {

struct BackoffPolicy {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{300000};
  double multiplier = 2.0;  // values below 1 (or NaN) are treated as 1: delays never shrink
  double jitter = 0.2;      // fraction in [0, 1]; the delay varies by ±jitter around its base
};

// The delay before retry number `attempt` (1-based; values below 1 count as 1):
// initial * multiplier^(attempt-1), capped at max, then scaled by 1 + jitter*(2u-1) where
// u = unit_random in [0, 1) (clamped). The result is never above max and never below 1 ms,
// whatever the inputs (huge attempts saturate at max instead of overflowing). Pure, so
// callers pass their own random source and tests pass fixed values.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt,
                                        double unit_random);

}  // namespace coibridge::core
