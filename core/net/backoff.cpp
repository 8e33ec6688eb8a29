#include "core/net/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace coibridge::core {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt,
                                        double unit_random) {
  using std::chrono::milliseconds;
  const milliseconds::rep max_ms = std::max<milliseconds::rep>(policy.max.count(), 1);
  const double cap = static_cast<double>(max_ms);
  const double initial =
      static_cast<double>(std::max<milliseconds::rep>(policy.initial.count(), 1));
  // `!(x >= 1)` also catches NaN.
  const double multiplier = !(policy.multiplier >= 1.0) ? 1.0 : policy.multiplier;
  const double jitter = !(policy.jitter >= 0.0) ? 0.0 : std::min(policy.jitter, 1.0);
  const double u = !(unit_random >= 0.0) ? 0.0 : std::min(unit_random, 1.0);
  const int exponent = std::max(attempt, 1) - 1;

  // Doubles saturate to +inf instead of wrapping; inf (or NaN) fails `base < cap`.
  double base = initial * std::pow(multiplier, exponent);
  if (!(base < cap)) base = cap;

  const double delay = base * (1.0 + jitter * (2.0 * u - 1.0));
  // Compare in double but return max itself at the top: converting a double near INT64_MAX
  // back to an integer could overflow.
  if (!(delay < cap)) return milliseconds(max_ms);
  if (delay < 1.0) return milliseconds(1);
  return milliseconds(std::min<milliseconds::rep>(std::llround(delay), max_ms));
}

}  // namespace coibridge::core
