#pragma once
// Process metrics in the Prometheus text exposition format (version 0.0.4). Counters and
// gauges are lock-free to update; the registry lock is taken only to create a series and to
// render.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace coibridge::core {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double by = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class MetricsRegistry {
 public:
  // Returns the series for (name, labels), creating it on first use. The reference stays
  // valid for the registry's lifetime. A name is either a counter or a gauge, never both.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});

  // Prometheus text format, families sorted by name, series by labels.
  std::string render() const;

 private:
  struct Family {
    std::string help;
    bool is_counter = true;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
  };
  Family& family(const std::string& name, const std::string& help, bool is_counter);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// Label values escaped as the exposition format requires (backslash, quote, newline).
std::string escape_label_value(const std::string& value);

}  // namespace coibridge::core
