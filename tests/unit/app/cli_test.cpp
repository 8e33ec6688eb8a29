#include "core/app/cli.hpp"

#include <gtest/gtest.h>

namespace coibridge::app {
namespace {

// A connector type's command, as the connector types hand theirs to the command line.
const std::vector<VerbHelp> kVerbs = {{"make-thing", "makes a thing\nover two lines"}};

CliParse parse(std::vector<std::string> args, const char* env = nullptr) {
  return parse_cli(args, env, kVerbs);
}

TEST(Cli, DefaultsToRunWithDefaultConfig) {
  auto p = parse({});
  EXPECT_TRUE(p.error.empty());
  EXPECT_EQ(p.options.command, Command::kRun);
  EXPECT_EQ(p.options.config_path, kDefaultConfigPath);
}

TEST(Cli, CommandsAndConfig) {
  EXPECT_EQ(parse({"migrate"}).options.command, Command::kMigrate);
  EXPECT_EQ(parse({"check-config"}).options.command, Command::kCheckConfig);
  EXPECT_EQ(parse({"version"}).options.command, Command::kVersion);
  EXPECT_EQ(parse({"--help"}).options.command, Command::kHelp);
  EXPECT_EQ(parse({"run", "-h"}).options.command, Command::kHelp);
  auto p = parse({"--config", "/x.yaml", "migrate"});
  EXPECT_EQ(p.options.command, Command::kMigrate);
  EXPECT_EQ(p.options.config_path, "/x.yaml");
  EXPECT_EQ(parse({"run", "--config=/y.yaml"}).options.config_path, "/y.yaml");
  EXPECT_EQ(parse({}, "/env.yaml").options.config_path, "/env.yaml");
  EXPECT_EQ(parse({"--config", "/flag.yaml"}, "/env.yaml").options.config_path, "/flag.yaml");
}

TEST(Cli, ConnectorVerbsAreCommands) {
  const auto p = parse({"make-thing", "--config", "/c.yaml"});
  EXPECT_TRUE(p.error.empty());
  EXPECT_EQ(p.options.command, Command::kConnectorVerb);
  EXPECT_EQ(p.options.verb, "make-thing");
  EXPECT_NE(parse_cli({"make-thing"}, nullptr, {}).error.find("unknown command"),
            std::string::npos);
}

TEST(Cli, BadUsageIsAnError) {
  EXPECT_NE(parse({"frobnicate"}).error.find("unknown command"), std::string::npos);
  EXPECT_NE(parse({"--verbose"}).error.find("unknown option"), std::string::npos);
  EXPECT_NE(parse({"--config"}).error.find("needs a path"), std::string::npos);
  EXPECT_NE(parse({"--config="}).error.find("needs a path"), std::string::npos);
  EXPECT_NE(parse({"run", "migrate"}).error.find("unexpected argument"), std::string::npos);
}

TEST(Cli, UsageNamesEveryCommand) {
  const auto text = usage_text(kVerbs);
  for (const char* word : {"run", "migrate", "check-config", "version", "--config", "--help"}) {
    EXPECT_NE(text.find(word), std::string::npos) << word;
  }
  // A connector's command and its summary, every line in the summary column.
  EXPECT_NE(text.find("  make-thing     makes a thing\n                 over two lines\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace coibridge::app
