#include "core/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace coibridge::core {
namespace {

TEST(Metrics, RendersPrometheusTextFormat) {
  MetricsRegistry m;
  m.counter("b_total", "B things", {{"route", "/x"}, {"status", "200"}}).inc();
  m.counter("b_total", "B things", {{"route", "/x"}, {"status", "200"}}).inc(2);
  m.counter("b_total", "B things", {{"route", "/y\"\\\n"}, {"status", "500"}}).inc();
  m.gauge("a_depth", "A depth").set(7);
  m.gauge("c_ratio", "C").set(0.25);
  EXPECT_EQ(m.render(),
            "# HELP a_depth A depth\n"
            "# TYPE a_depth gauge\n"
            "a_depth 7\n"
            "# HELP b_total B things\n"
            "# TYPE b_total counter\n"
            "b_total{route=\"/x\",status=\"200\"} 3\n"
            "b_total{route=\"/y\\\"\\\\\\n\",status=\"500\"} 1\n"
            "# HELP c_ratio C\n"
            "# TYPE c_ratio gauge\n"
            "c_ratio 0.25\n");
}

TEST(Metrics, SameSeriesIsTheSameObject) {
  MetricsRegistry m;
  EXPECT_EQ(&m.counter("x", "h", {{"a", "1"}}), &m.counter("x", "h", {{"a", "1"}}));
  EXPECT_NE(&m.counter("x", "h", {{"a", "1"}}), &m.counter("x", "h", {{"a", "2"}}));
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry m;
  Counter& c = m.counter("n", "n");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000.0);
  Gauge& g = m.gauge("g", "g");
  g.add(2.5);
  g.add(-1);
  EXPECT_EQ(g.value(), 1.5);
}

}  // namespace
}  // namespace coibridge::core
