#pragma once
// Process-wide logging on spdlog: one stderr logger in text or JSON-lines format.
//
// Text:  [2026-11-27 19:00:00.123] [info] [logger] msg
// JSON:  {"ts":"2026-11-27T19:00:00.123Z","level":"info","logger":"...","msg":"..."}
// Timestamps are UTC in both, so lines from several instances and the database line up.
// Level words are the configuration's: trace, debug, info, warn, error, critical, off.
//
// Modules that want their own logger name take `spdlog::default_logger()->clone("name")`
// after init_logging, which keeps the sink and format. Text that may hold credentials goes
// through redact_secrets (redact.hpp) first.

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace coibridge::core {

enum class LogFormat { kText, kJson };

// "text" or "json" (the config's logging.format); nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view word);
// A config level word; nullopt for anything else (spdlog's own parser maps unknown words to
// "off", which would silently disable logging).
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view word);

// Makes a stderr logger named "coi-bridge" the spdlog default logger. Call once at start-up,
// before other threads log. Throws std::invalid_argument for an unknown level word.
void init_logging(const std::string& level, LogFormat format);

// For tests: a logger at level trace writing (and flushing) every line to `out`, which must
// outlive it. Not registered with spdlog.
std::shared_ptr<spdlog::logger> make_logger(std::string name, std::ostream& out, LogFormat format);

}  // namespace coibridge::core
