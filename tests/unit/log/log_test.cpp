#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/log/logging.hpp"
#include "core/log/redact.hpp"

namespace coibridge::core {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

// 2026-11-27 19:00:00.123 UTC.
spdlog::log_clock::time_point fixed_time() {
  using namespace std::chrono;
  return sys_days{year{2026} / 11 / 27} + hours{19} + milliseconds{123};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

nlohmann::json parse_single_json_line(const std::string& output) {
  EXPECT_FALSE(output.empty());
  EXPECT_EQ(output.back(), '\n');
  EXPECT_EQ(output.find('\n'), output.size() - 1) << "one event must be one line";
  return nlohmann::json::parse(output);
}

TEST(LogTest, TextLineShape) {
  std::ostringstream out;
  auto logger = make_logger("router", out, LogFormat::kText);
  logger->info("hello {}", 42);
  const std::regex shape(
      R"(\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] \[info\] \[router\] hello 42\n)");
  EXPECT_TRUE(std::regex_match(out.str(), shape)) << out.str();
}

TEST(LogTest, TextTimestampIsUtcWithMilliseconds) {
  std::ostringstream out;
  auto logger = make_logger("t", out, LogFormat::kText);
  logger->log(fixed_time(), spdlog::source_loc{}, spdlog::level::warn, "x");
  EXPECT_EQ(out.str(), "[2026-11-27 19:00:00.123] [warn] [t] x\n");
}

TEST(LogTest, TextUsesConfigLevelWords) {
  std::ostringstream out;
  auto logger = make_logger("t", out, LogFormat::kText);
  logger->trace("m");
  logger->debug("m");
  logger->info("m");
  logger->warn("m");
  logger->error("m");
  logger->critical("m");
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 6u);
  const char* words[] = {"trace", "debug", "info", "warn", "error", "critical"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_THAT(lines[i], HasSubstr(std::string("] [") + words[i] + "] [t] m"));
  }
}

TEST(LogTest, TextEscapesControlCharactersSoLinesCannotBeForged) {
  std::ostringstream out;
  auto logger = make_logger("t", out, LogFormat::kText);
  logger->info("subject: a\n[2026-01-01 00:00:00.000] [info] [admin] forged\r\x01\x7f\tend");
  const std::string text = out.str();
  EXPECT_EQ(lines_of(text).size(), 1u);
  EXPECT_THAT(text, HasSubstr("a\\n[2026-01-01 00:00:00.000] [info] [admin] forged\\r\\x01\\x7f\t"
                              "end\n"));
}

TEST(LogTest, JsonLineFields) {
  std::ostringstream out;
  auto logger = make_logger("store", out, LogFormat::kJson);
  logger->log(fixed_time(), spdlog::source_loc{}, spdlog::level::warn, "disk {}% full");
  EXPECT_EQ(out.str(), R"({"ts":"2026-11-27T19:00:00.123Z","level":"warn","logger":"store",)"
                       R"("msg":"disk {}% full"})"
                       "\n");
}

TEST(LogTest, JsonEscapesAnyMessage) {
  const std::string message =
      "quote \" backslash \\ newline \n cr \r tab \t ctl \x01 \x1f utf8 \xc3\xa9 \xe2\x82\xac";
  std::ostringstream out;
  auto logger = make_logger("t", out, LogFormat::kJson);
  logger->error("{}", message);
  const auto json = parse_single_json_line(out.str());
  EXPECT_EQ(json.at("msg"), message);
  EXPECT_EQ(json.at("level"), "error");
  EXPECT_EQ(json.at("logger"), "t");
  EXPECT_TRUE(std::regex_match(json.at("ts").get<std::string>(),
                               std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")));
}

TEST(LogTest, JsonReplacesInvalidUtf8) {
  std::ostringstream out;
  auto logger = make_logger("t", out, LogFormat::kJson);
  logger->info("bad \xff\xfe end, truncated \xe2\x82");
  const auto json = parse_single_json_line(out.str());
  const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_EQ(json.at("msg"), "bad " + replacement + replacement + " end, truncated " + replacement);
}

TEST(LogTest, ClonedLoggerKeepsSinkAndFormat) {
  std::ostringstream out;
  auto logger = make_logger("base", out, LogFormat::kJson);
  logger->clone("child")->info("from child");
  EXPECT_EQ(parse_single_json_line(out.str()).at("logger"), "child");
}

TEST(LogTest, LevelFilters) {
  std::ostringstream out;
  auto logger = make_logger("t", out, LogFormat::kText);
  logger->set_level(spdlog::level::warn);
  logger->info("hidden");
  logger->warn("shown");
  EXPECT_THAT(out.str(), Not(HasSubstr("hidden")));
  EXPECT_THAT(out.str(), HasSubstr("shown"));
}

TEST(LogTest, ParseWords) {
  EXPECT_THAT(parse_log_format("text"), Optional(LogFormat::kText));
  EXPECT_THAT(parse_log_format("json"), Optional(LogFormat::kJson));
  EXPECT_EQ(parse_log_format("JSON"), std::nullopt);
  EXPECT_THAT(parse_log_level("warn"), Optional(spdlog::level::warn));
  EXPECT_THAT(parse_log_level("error"), Optional(spdlog::level::err));
  EXPECT_THAT(parse_log_level("off"), Optional(spdlog::level::off));
  EXPECT_EQ(parse_log_level("warning"), std::nullopt);
  EXPECT_EQ(parse_log_level("loud"), std::nullopt);
}

TEST(LogTest, InitLoggingRejectsUnknownLevel) {
  EXPECT_THROW(init_logging("verbose", LogFormat::kText), std::invalid_argument);
}

TEST(LogTest, InitLoggingInstallsStderrDefaultLogger) {
  const auto previous = spdlog::default_logger();
  ::testing::internal::CaptureStderr();
  init_logging("warn", LogFormat::kJson);
  spdlog::info("hidden");
  spdlog::warn("shown {}", 1);
  spdlog::default_logger()->clone("router")->error("from router");
  const std::string output = ::testing::internal::GetCapturedStderr();
  spdlog::set_default_logger(previous);

  const auto lines = lines_of(output);
  ASSERT_EQ(lines.size(), 2u) << output;
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first.at("level"), "warn");
  EXPECT_EQ(first.at("logger"), "coi-bridge");
  EXPECT_EQ(first.at("msg"), "shown 1");
  EXPECT_EQ(nlohmann::json::parse(lines[1]).at("logger"), "router");
}

struct RedactCase {
  const char* input;
  const char* expected;
};

class LogRedactTest : public ::testing::TestWithParam<RedactCase> {};

TEST_P(LogRedactTest, Masks) {
  EXPECT_EQ(redact_secrets(GetParam().input), GetParam().expected);
  // Redacting twice changes nothing more.
  EXPECT_EQ(redact_secrets(redact_secrets(GetParam().input)), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    UrlPasswords, LogRedactTest,
    ::testing::Values(
        RedactCase{"postgresql://user:secret@host/db", "postgresql://user:***@host/db"},
        RedactCase{"connecting to postgres://bridge:s3cr3t@db.example.org:5432/coi?sslmode=require",
                   "connecting to postgres://bridge:***@db.example.org:5432/coi?sslmode=require"},
        RedactCase{"imaps://bob%40example.org:p%40ss@mail.example.org:993/INBOX",
                   "imaps://bob%40example.org:***@mail.example.org:993/INBOX"},
        RedactCase{"redis://:pw@cache", "redis://:***@cache"},
        RedactCase{"smtp://u:unescaped@at@mx", "smtp://u:***@mx"},
        RedactCase{"a http://x:1@h b https://y:2@i", "a http://x:***@h b https://y:***@i"},
        RedactCase{"url=\"https://u:pw@h/p\"", "url=\"https://u:***@h/p\""}));

INSTANTIATE_TEST_SUITE_P(
    Conninfo, LogRedactTest,
    ::testing::Values(RedactCase{"host=db user=bridge password=secret dbname=coi",
                                 "host=db user=bridge password=*** dbname=coi"},
                      RedactCase{"password='se cret' host=db", "password=*** host=db"},
                      RedactCase{"password = 'it\\'s here' port=5432", "password = *** port=5432"},
                      RedactCase{"PASSWORD=a&b;c host=x", "PASSWORD=*** host=x"},
                      RedactCase{"password='unterminated", "password=***"},
                      RedactCase{"PGPASSWORD=hunter2 psql", "PGPASSWORD=*** psql"}));

INSTANTIATE_TEST_SUITE_P(
    HeadersAndQueries, LogRedactTest,
    ::testing::Values(RedactCase{"Authorization: Bearer xyz", "Authorization: Bearer ***"},
                      RedactCase{"authorization:basic dXNlcjpwYXNz\r\nHost: h",
                                 "authorization:basic ***\r\nHost: h"},
                      RedactCase{"Authorization: abcdef123", "Authorization: ***"},
                      RedactCase{R"({"Authorization": "Bearer syt_abc"})",
                                 R"({"Authorization": "Bearer ***"})"},
                      RedactCase{"401 for token Bearer abc.def-ghi", "401 for token Bearer ***"},
                      RedactCase{"GET /_matrix/client/v3/sync?access_token=xyz&since=s1 HTTP/1.1",
                                 "GET /_matrix/client/v3/sync?access_token=***&since=s1 HTTP/1.1"},
                      RedactCase{"/x?since=1&access_token=xyz", "/x?since=1&access_token=***"},
                      RedactCase{"hs_token=abc as_token=def client_secret=ghi",
                                 "hs_token=*** as_token=*** client_secret=***"}));

INSTANTIATE_TEST_SUITE_P(
    Unchanged, LogRedactTest,
    ::testing::Values(RedactCase{"", ""}, RedactCase{"hello world", "hello world"},
                      RedactCase{"delivered 3 events to matrix", "delivered 3 events to matrix"},
                      RedactCase{"https://example.org:8448/path?x=1&y=2",
                                 "https://example.org:8448/path?x=1&y=2"},
                      RedactCase{"http://user@host/a", "http://user@host/a"},
                      RedactCase{"http://host:8080/a@b", "http://host:8080/a@b"},
                      RedactCase{"max_tokens=5 token_type=bearer",
                                 "max_tokens=5 token_type=bearer"},
                      RedactCase{"time 12:30, ratio a=b", "time 12:30, ratio a=b"},
                      RedactCase{"Authorization: Bearer", "Authorization: Bearer"},
                      RedactCase{"password=", "password="},
                      RedactCase{"utf8 \xc3\xa9 stays", "utf8 \xc3\xa9 stays"}));

}  // namespace
}  // namespace coibridge::core
