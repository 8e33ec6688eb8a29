#include "tests/seam/notes/notes_connector.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace coibridge::tests::notes {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class NotesConnector final : public core::Connector {
 public:
  explicit NotesConnector(NotesConfig config) : config_(std::move(config)) {}

  std::string_view name() const override { return config_.name; }
  core::Capabilities capabilities() const override { return {}; }

  asio::awaitable<void> run(core::ConnectorContext& ctx) override {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
      co_await take_new_files(ctx);
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

  asio::awaitable<core::Result<core::RemoteMessageRef>> deliver(
      const core::Delivery& delivery) override {
    const auto* posted = std::get_if<core::MessagePosted>(&delivery.event.payload);
    if (posted == nullptr) co_return core::Error::permanent("notes carry messages only");
    const fs::path dir = fs::path(config_.dir) / delivery.target.remote_id;
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path file = dir / (delivery.event_id.value + ".out");
    std::ofstream(file, std::ios::binary)
        << delivery.event.who.display_name << ": " << posted->body.text;
    if (!fs::exists(file)) co_return core::Error::unavailable("cannot write " + file.string());
    co_return core::RemoteMessageRef{config_.name, delivery.event_id.value};
  }

 private:
  asio::awaitable<void> take_new_files(core::ConnectorContext& ctx) {
    std::error_code ec;
    for (const auto& conversation : fs::directory_iterator(config_.dir, ec)) {
      if (!conversation.is_directory()) continue;
      for (const auto& file : fs::directory_iterator(conversation.path(), ec)) {
        if (file.path().extension() != ".in") continue;
        const std::string id = file.path().stem().string();
        core::MessagePosted posted;
        posted.body.text = read_all(file.path());
        core::Event event;
        event.id = core::new_event_id();
        event.where = {config_.name, conversation.path().filename().string()};
        event.who = {config_.name, config_.author, config_.author};
        event.origin = {config_.name, id};
        event.at = std::chrono::system_clock::now();
        event.payload = std::move(posted);
        auto outcome = co_await ctx.sink.publish(std::move(event));
        if (!outcome) co_return;  // tried again on the next pass
        fs::rename(file.path(), fs::path(file.path()).replace_extension(".done"), ec);
      }
    }
  }

  NotesConfig config_;
};

std::shared_ptr<core::ConnectorConfig> parse_notes(core::ConfigSection& section) {
  auto config = std::make_shared<NotesConfig>();
  auto dir = section.text("dir", core::ConfigSection::Need::kRequired);
  if (auto author = section.text("author")) config->author = *author;
  if (!dir) return nullptr;
  config->dir = *dir;
  return config;
}

int print_dirs(const std::vector<const core::ConnectorConfig*>& instances) {
  for (const auto* instance : instances) {
    std::printf("%s %s\n", instance->name.c_str(),
                dynamic_cast<const NotesConfig&>(*instance).dir.c_str());
  }
  return 0;
}

}  // namespace

core::ConnectorType connector_type() {
  return core::ConnectorType{
      .key = "notes",
      .parse = parse_notes,
      .create = core::create_with<NotesConfig>(
          [](const NotesConfig& config, const core::ConnectorServices&) {
            return std::make_shared<NotesConnector>(config);
          }),
      .verbs = {{.name = "notes-dirs",
                 .summary = "print each notes connector's directory",
                 .run = print_dirs}},
  };
}

}  // namespace coibridge::tests::notes
