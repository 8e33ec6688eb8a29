#include "core/log/logging.hpp"

#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

namespace coibridge::core {
namespace {

constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels = {{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},
    {"critical", spdlog::level::critical},
    {"off", spdlog::level::off},
}};

// spdlog would print "warning"; logs use the same words as the configuration.
std::string_view level_word(spdlog::level::level_enum level) {
  for (const auto& [word, value] : kLevels) {
    if (value == level) return word;
  }
  return "unknown";
}

struct UtcTime {
  std::tm tm{};
  int millis = 0;
};

UtcTime utc_time(spdlog::log_clock::time_point time) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const auto since_epoch = duration_cast<milliseconds>(time.time_since_epoch());
  auto whole_seconds = duration_cast<seconds>(since_epoch);
  auto millis = since_epoch - duration_cast<milliseconds>(whole_seconds);
  if (millis.count() < 0) {  // before 1970: keep the millisecond part positive
    whole_seconds -= seconds(1);
    millis += seconds(1);
  }
  UtcTime result;
  const std::time_t t = static_cast<std::time_t>(whole_seconds.count());
  gmtime_r(&t, &result.tm);
  result.millis = static_cast<int>(millis.count());
  return result;
}

// `separator` is ' ' for text and 'T' for JSON (RFC 3339).
void append_time(spdlog::log_clock::time_point time, char separator, spdlog::memory_buf_t& dest) {
  const UtcTime utc = utc_time(time);
  fmt::format_to(fmt::appender(dest), "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}.{:03}",
                 utc.tm.tm_year + 1900, utc.tm.tm_mon + 1, utc.tm.tm_mday, separator,
                 utc.tm.tm_hour, utc.tm.tm_min, utc.tm.tm_sec, utc.millis);
}

// Messages carry untrusted text (mail subjects, remote errors). Escaping line breaks and other
// control characters keeps one event on one line, so nobody can forge log lines.
void append_escaped(spdlog::string_view_t text, spdlog::memory_buf_t& dest) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      dest.append(std::string_view("\\n"));
    } else if (c == '\r') {
      dest.append(std::string_view("\\r"));
    } else if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
      fmt::format_to(fmt::appender(dest), "\\x{:02x}", byte);
    } else {
      dest.push_back(c);
    }
  }
}

std::string_view to_view(spdlog::string_view_t text) { return {text.data(), text.size()}; }

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    dest.push_back('[');
    append_time(msg.time, ' ', dest);
    dest.append(std::string_view("] ["));
    dest.append(level_word(msg.level));
    dest.append(std::string_view("] ["));
    append_escaped(msg.logger_name, dest);
    dest.append(std::string_view("] "));
    append_escaped(msg.payload, dest);
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t ts;
    append_time(msg.time, 'T', ts);
    ts.push_back('Z');
    // ordered_json keeps "ts" first, as log readers expect.
    const nlohmann::ordered_json line = {
        {"ts", std::string_view(ts.data(), ts.size())},
        {"level", level_word(msg.level)},
        {"logger", to_view(msg.logger_name)},
        {"msg", to_view(msg.payload)},
    };
    // `replace` turns invalid UTF-8 into U+FFFD instead of throwing: a log line must never fail.
    dest.append(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

std::unique_ptr<spdlog::formatter> make_formatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<TextFormatter>();
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view word) {
  if (word == "text") return LogFormat::kText;
  if (word == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view word) {
  for (const auto& [name, level] : kLevels) {
    if (name == word) return level;
  }
  return std::nullopt;
}

void init_logging(const std::string& level, LogFormat format) {
  const auto parsed = parse_log_level(level);
  if (!parsed) throw std::invalid_argument("unknown log level: " + level);
  // The plain (not colour) sink: the formatters mark no colour ranges, and journald or a log
  // collector reads stderr in production anyway. It flushes after every line.
  auto logger = std::make_shared<spdlog::logger>("coi-bridge",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(make_formatter(format));
  logger->set_level(*parsed);
  spdlog::set_default_logger(std::move(logger));
}

std::shared_ptr<spdlog::logger> make_logger(std::string name, std::ostream& out, LogFormat format) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out, /*force_flush=*/true);
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_formatter(make_formatter(format));
  logger->set_level(spdlog::level::trace);
  return logger;
}

}  // namespace coibridge::core
