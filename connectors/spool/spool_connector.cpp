#include "connectors/spool/spool_connector.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "core/model/event_json.hpp"
#include "core/model/json_limits.hpp"
#include "core/model/media_type.hpp"
#include "core/text/fnv1a.hpp"

namespace coibridge::connectors::spool {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;

// Inbox files above this size are rejected unread.
constexpr std::uintmax_t kMaxInboxFile = 1024 * 1024;
// An attachment file named by an inbox event.
constexpr std::uintmax_t kMaxAttachmentFile = 64 * 1024 * 1024;

// The contents of `path`, or why not: only a regular file itself is read, never what a
// symbolic link points at (O_NOFOLLOW), so a link dropped into the inbox cannot hand the
// bridge a file from elsewhere to relay.
std::optional<std::string> read_regular_file(const fs::path& path, std::uintmax_t limit,
                                             std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) return "is a symbolic link; only regular files are read";
    return std::string("cannot open: ") + std::strerror(errno);
  }
  struct stat st {};
  std::optional<std::string> problem;
  if (::fstat(fd, &st) != 0) {
    problem = std::string("cannot stat: ") + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = "is not a regular file";
  } else if (static_cast<std::uintmax_t>(st.st_size) > limit) {
    problem = "is larger than " + std::to_string(limit) + " bytes";
  } else {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
      const auto n = ::read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    out.resize(done);
  }
  ::close(fd);
  return problem;
}

// Writes data to path only if path does not exist yet: a temporary file, then link(2),
// which fails with EEXIST instead of replacing. Returns false with errno set on failure;
// true with *created=false when the file was there already.
bool write_once(const fs::path& path, const std::string& data, bool* created) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (rc == 0) {
    *created = true;
    return true;
  }
  if (link_errno == EEXIST) {
    *created = false;
    return true;
  }
  errno = link_errno;
  return false;
}

// A file-name-safe, build-independent digest of a conversation id (FNV-1a, 64 bit).
std::string stable_digest(const std::string& text) { return core::hex64(core::fnv1a64(text)); }

void append_line(const fs::path& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << '\n';
}

}  // namespace

SpoolConnector::SpoolConnector(SpoolConnectorConfig config, core::BlobStore& blobs,
                               std::chrono::milliseconds poll_interval)
    : config_(std::move(config)), blobs_(blobs), poll_interval_(poll_interval) {}

awaitable<core::Result<SpoolConnector::StoredFile>> SpoolConnector::store_file(
    std::string_view location, std::string content_type) {
  const std::string name(location.substr(5));
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    co_return core::Error::invalid(
        "location", std::string(location) + " must name a file in the inbox directory");
  }
  const fs::path path = fs::path(config_.inbox_dir) / name;
  std::string data;
  if (auto problem = read_regular_file(path, kMaxAttachmentFile, data)) {
    co_return core::Error::invalid("location", name + " " + *problem);
  }
  if (content_type.empty()) content_type = core::sniff_image_type(data);
  const std::size_t bytes = data.size();
  auto stored = co_await blobs_.put(std::move(content_type), std::move(data));
  if (!stored) co_return stored.error();
  co_return StoredFile{std::move(*stored), bytes};
}

awaitable<core::Status> SpoolConnector::store_files(core::Event& event) {
  // The sender's picture: its media type is what the bytes say.
  if (event.who.avatar.starts_with("file:")) {
    auto stored = co_await store_file(event.who.avatar, "");
    if (!stored) co_return stored.error();
    event.who.avatar = std::move(stored->location);
  }
  auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  for (auto& file : posted->body.attachments) {
    if (!file.location.starts_with("file:")) continue;
    auto stored = co_await store_file(file.location, file.content_type);
    if (!stored) co_return stored.error();
    file.location = std::move(stored->location);
    file.size = stored->size;
  }
  co_return core::Status{};
}

awaitable<core::Result<nlohmann::json>> SpoolConnector::export_attachments(
    const core::Event& event) {
  nlohmann::json files = nlohmann::json::array();
  const auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return files;
  const fs::path dir = fs::path(config_.outbox_dir) / "files";
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const auto& file : posted->body.attachments) {
    if (!core::is_blob_location(file.location)) {
      files.push_back({{"location", file.location}, {"error", "not a stored blob"}});
      continue;
    }
    auto blob = co_await blobs_.get(file.location);
    if (!blob) co_return blob.error();
    const std::string name = file.location.substr(core::kBlobLocationPrefix.size());
    bool created = false;
    if (!write_once(dir / name, blob->data, &created)) {
      co_return core::Error::unavailable("cannot write " + (dir / name).string() + ": " +
                                         std::strerror(errno));
    }
    files.push_back({{"location", file.location}, {"path", "files/" + name}});
  }
  co_return files;
}

awaitable<void> SpoolConnector::run(core::ConnectorContext& ctx) {
  boost::asio::steady_timer timer(ctx.executor);
  for (;;) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(config_.inbox_dir, ec)) {
      // A symbolic link named *.json is taken too, and refused as a dead letter: read, it
      // would relay a file from outside the inbox.
      const auto status = entry.symlink_status(ec);
      const bool candidate = fs::is_regular_file(status) || fs::is_symlink(status);
      if (candidate && entry.path().extension() == ".json") files.push_back(entry.path());
    }
    // Names order the files, so a script can sequence what it drops in.
    std::sort(files.begin(), files.end());
    for (const auto& file : files) co_await take_inbox_file(ctx, file);
    timer.expires_after(poll_interval_);
    co_await timer.async_wait(boost::asio::use_awaitable);  // cancellation ends the connector
  }
}

awaitable<void> SpoolConnector::take_inbox_file(core::ConnectorContext& ctx, const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(file, ec))) co_return;  // gone meanwhile
  std::string text;
  std::string problem;
  if (auto why = read_regular_file(file, kMaxInboxFile, text)) problem = "file " + *why;

  std::optional<core::Event> event;
  if (problem.empty()) {
    auto parsed_json = core::parse_json_limited(text);
    if (!parsed_json) {
      problem = parsed_json.error().message;
    } else if (!parsed_json->is_object()) {
      problem = "not a JSON object";
    } else {
      auto& json = *parsed_json;
      // The spool owns these fields; a file need not repeat them.
      if (!json.contains("id")) json["id"] = core::new_event_id().value;
      if (!json.contains("at"))
        json["at"] = core::format_timestamp(std::chrono::system_clock::now());
      if (json.contains("where") && json["where"].is_object())
        json["where"]["connector"] = config_.name;
      if (json.contains("origin") && json["origin"].is_object())
        json["origin"]["connector"] = config_.name;
      auto parsed = core::event_from_json(json);
      if (parsed) {
        event = std::move(parsed).value();
      } else {
        problem = parsed.error().message;
      }
    }
  }

  if (event) {
    auto stored = co_await store_files(*event);
    if (!stored && stored.error().kind == core::ErrorKind::kUnavailable) {
      co_return;  // database trouble: keep the file, try again on the next pass
    }
    if (!stored) {
      problem = stored.error().message;
      event.reset();
    }
  }
  if (!event) {
    auto st =
        co_await ctx.sink.reject(config_.name, file.filename().string() + ": " + problem, text);
    if (st) fs::remove(file, ec);
    co_return;
  }
  auto outcome = co_await ctx.sink.publish(std::move(*event));
  if (!outcome) {
    // Only a transient failure can end differently next time; any other would hold the file
    // in the inbox, retried on every pass, forever.
    if (outcome.error().kind != core::ErrorKind::kUnavailable) {
      auto st = co_await ctx.sink.reject(
          config_.name, file.filename().string() + ": " + outcome.error().message, text);
      if (st) fs::remove(file, ec);
    }
    co_return;  // database trouble: keep the file, try again on the next pass
  }
  // Acknowledge only now that the event is committed.
  fs::remove(file, ec);
  spdlog::debug("spool {}: {} -> {}", config_.name, file.filename().string(),
                core::to_string(outcome->status));
}

awaitable<core::Result<core::RemoteMessageRef>> SpoolConnector::deliver(
    const core::Delivery& delivery) {
  const fs::path dir(config_.outbox_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    co_return core::Error::unavailable("spool outbox " + dir.string() + " is not a directory");
  }
  nlohmann::json out{
      {"event_id", delivery.event_id.value},
      {"target",
       {{"connector", delivery.target.connector}, {"remote_id", delivery.target.remote_id}}},
      {"attempt", delivery.attempt},
      {"event", core::to_json(delivery.event)}};
  auto files = co_await export_attachments(delivery.event);
  if (!files) co_return files.error();
  if (!files->empty()) out["files"] = std::move(*files);
  const std::string file_name =
      delivery.event_id.value + "--" + stable_digest(delivery.target.remote_id) + ".json";
  bool created = false;
  if (!write_once(dir / file_name, out.dump(2) + "\n", &created)) {
    co_return core::Error::unavailable("cannot write to spool outbox " + dir.string() + ": " +
                                       std::strerror(errno));
  }
  append_line(dir / "deliveries.log", delivery.event_id.value + " " + delivery.target.remote_id +
                                          (created ? " written" : " already-present"));
  co_return core::RemoteMessageRef{config_.name, file_name};
}

}  // namespace coibridge::connectors::spool
