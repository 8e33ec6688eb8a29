#include "core/metrics/metrics.hpp"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace coibridge::core {

void Counter::inc(double by) {
  double cur = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

void Gauge::add(double by) {
  double cur = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help,
                                                 bool is_counter) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.help = help;
    it->second.is_counter = is_counter;
  }
  // Registering one name as both kinds is a programming error.
  assert(it->second.is_counter == is_counter);
  return it->second;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, true).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, false).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

void append_series(std::string& out, const std::string& name, const Labels& labels, double v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [k, val] : labels) {
      if (!first) out += ',';
      first = false;
      out += k;
      out += "=\"";
      out += escape_label_value(val);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  char buf[64];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  out += buf;
  out += '\n';
}

}  // namespace

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + (fam.is_counter ? " counter\n" : " gauge\n");
    if (fam.is_counter) {
      for (const auto& [labels, c] : fam.counters) append_series(out, name, labels, c->value());
    } else {
      for (const auto& [labels, g] : fam.gauges) append_series(out, name, labels, g->value());
    }
  }
  return out;
}

}  // namespace coibridge::core
