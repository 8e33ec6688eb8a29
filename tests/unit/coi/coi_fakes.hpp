#pragma once
// In-memory stand-ins for what the COI connector reads through and publishes to: a mailbox
// (MailboxSource), the router (EventSink, MessageMap) and its stores. No sockets, no SQL.

#include <boost/asio/awaitable.hpp>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/coi/mailbox_reader.hpp"
#include "core/connector/connector.hpp"
#include "core/store/blob_store.hpp"
#include "core/store/checkpoint_store.hpp"
#include "core/store/conversation_state_store.hpp"

namespace coibridge::connectors::coi::fakes {

// A mailbox of one UIDVALIDITY. A session ends at its first IDLE: by then every mail in the
// box was fetched, and each batch committed or failed.
class FakeMailbox final : public MailboxSource {
 public:
  static constexpr const char* kSessionEnd = "the mailbox session ends";
  std::uint32_t uidvalidity = 7;
  std::map<std::uint32_t, std::string> mails;
  int fetches = 0;

  std::uint32_t add(std::string body) {
    const std::uint32_t uid = mails.empty() ? 1 : mails.rbegin()->first + 1;
    mails[uid] = std::move(body);
    return uid;
  }

  boost::asio::awaitable<core::Result<imap::MailboxState>> select(std::string) override {
    imap::MailboxState state;
    state.uidvalidity = uidvalidity;
    state.exists = static_cast<std::uint32_t>(mails.size());
    co_return state;
  }
  boost::asio::awaitable<core::Result<std::vector<imap::FetchedMessage>>> fetch_from(
      std::uint32_t from_uid, std::size_t max_count) override {
    ++fetches;
    std::vector<imap::FetchedMessage> out;
    for (auto it = mails.lower_bound(from_uid); it != mails.end() && out.size() < max_count; ++it) {
      imap::FetchedMessage message;
      message.uid = it->first;
      message.body = it->second;
      message.size = it->second.size();
      out.push_back(std::move(message));
    }
    co_return out;
  }
  boost::asio::awaitable<core::Result<imap::IdleResult>> idle(std::chrono::seconds) override {
    co_return core::Error::unavailable(kSessionEnd);
  }
};

// The router as the connector sees it: dedupe by origin, every conversation linked. The next
// fail_batches batch publishes fail as an outage would: nothing of them is committed.
class FakeSink final : public core::EventSink {
 public:
  struct Rejected {
    std::string connector;
    std::string reason;
    std::string raw;
  };
  int fail_batches = 0;
  int batch_calls = 0;
  std::vector<core::Event> attempted;  // every event offered, committed or not
  std::vector<core::Event> accepted;   // committed, in order, duplicates left out
  std::vector<Rejected> rejected;

  boost::asio::awaitable<core::Result<core::PublishOutcome>> publish(core::Event event) override {
    attempted.push_back(event);
    co_return commit(std::move(event));
  }

  boost::asio::awaitable<core::Result<std::vector<core::Result<core::PublishOutcome>>>>
  publish_batch(std::span<const core::BatchEvent> events) override {
    ++batch_calls;
    for (const auto& item : events) attempted.push_back(item.event);
    if (fail_batches > 0) {
      --fail_batches;
      co_return core::Error::unavailable("the database is unreachable");
    }
    std::vector<core::Result<core::PublishOutcome>> outcomes;
    for (const auto& item : events) outcomes.push_back(commit(item.event));
    co_return outcomes;
  }

  boost::asio::awaitable<core::Status> reject(std::string connector, std::string reason,
                                              std::string raw) override {
    rejected.push_back({std::move(connector), std::move(reason), std::move(raw)});
    co_return core::Status{};
  }

 private:
  core::PublishOutcome commit(core::Event event) {
    const auto key = event.origin.connector + "|" + event.origin.remote_id;
    if (!origins_.insert(key).second) return {core::PublishStatus::kDuplicate, event.id, 0};
    accepted.push_back(std::move(event));
    return {core::PublishStatus::kAccepted, accepted.back().id, 1};
  }
  std::set<std::string> origins_;
};

// A message map that knows no message.
class EmptyMessageMap final : public core::MessageMap {
 public:
  boost::asio::awaitable<core::Result<std::optional<core::ConversationRef>>> conversation_of(
      core::RemoteMessageRef) override {
    co_return std::optional<core::ConversationRef>{};
  }
  boost::asio::awaitable<core::Result<std::map<std::string, std::string>>> conversations_of(
      std::string, std::vector<std::string>) override {
    co_return std::map<std::string, std::string>{};
  }
  boost::asio::awaitable<core::Result<std::optional<core::Event>>> event_by_origin(
      core::RemoteMessageRef) override {
    co_return std::optional<core::Event>{};
  }
  boost::asio::awaitable<core::Result<std::optional<core::RemoteMessageRef>>> newest_of(
      std::vector<core::RemoteMessageRef>) override {
    co_return std::optional<core::RemoteMessageRef>{};
  }
  boost::asio::awaitable<core::Result<std::optional<std::string>>> reaction_delivered(
      core::ConversationRef, std::string, core::RemoteMessageRef, std::string) override {
    co_return std::optional<std::string>{};
  }
};

class MemoryCheckpoints final : public core::CheckpointStore {
 public:
  std::map<std::string, core::Checkpoint> saved;  // by "connector/source"

  boost::asio::awaitable<core::Result<std::optional<core::Checkpoint>>> load(
      std::string connector, std::string source) override {
    auto it = saved.find(connector + "/" + source);
    if (it == saved.end()) co_return std::optional<core::Checkpoint>{};
    co_return std::optional<core::Checkpoint>(it->second);
  }
  boost::asio::awaitable<core::Status> save(std::string connector, std::string source,
                                            core::Checkpoint checkpoint) override {
    saved[connector + "/" + source] = checkpoint;
    co_return core::Status{};
  }
};

class MemoryBlobs final : public core::BlobStore {
 public:
  std::map<std::string, core::Blob> blobs;

  boost::asio::awaitable<core::Result<std::string>> put(std::string content_type,
                                                        std::string data) override {
    for (const auto& [location, blob] : blobs) {
      if (blob.data == data) co_return location;
    }
    char digits[65];
    std::snprintf(digits, sizeof digits, "%064zx", blobs.size() + 1);
    std::string location = std::string(core::kBlobLocationPrefix) + digits;
    blobs[location] = core::Blob{std::move(content_type), std::move(data)};
    co_return location;
  }
  boost::asio::awaitable<core::Result<core::Blob>> get(std::string location) override {
    auto it = blobs.find(location);
    if (it == blobs.end()) co_return core::Error::not_found("no blob " + location);
    co_return it->second;
  }
  boost::asio::awaitable<core::Result<std::int64_t>> purge(std::chrono::seconds) override {
    co_return std::int64_t{0};
  }
};

class MemoryConversations final : public core::ConversationStateStore {
 public:
  std::map<std::string, nlohmann::json> states;  // by conversation (one connector)
  std::map<std::string, core::ConversationInfo> infos;
  boost::asio::awaitable<core::Result<std::optional<core::ConversationInfo>>> describe(
      std::string, std::string conversation) override {
    const auto it = infos.find(conversation);
    if (it == infos.end()) co_return std::optional<core::ConversationInfo>{};
    co_return std::optional<core::ConversationInfo>(it->second);
  }
  int saves = 0;

  boost::asio::awaitable<core::Result<std::optional<nlohmann::json>>> load(
      std::string, std::string conversation) override {
    auto it = states.find(conversation);
    if (it == states.end()) co_return std::optional<nlohmann::json>{};
    co_return std::optional<nlohmann::json>(it->second);
  }
  boost::asio::awaitable<core::Status> save(std::string, std::string conversation,
                                            nlohmann::json state,
                                            std::optional<core::ConversationInfo> info) override {
    ++saves;
    states[conversation] = std::move(state);
    if (info) infos[conversation] = std::move(*info);
    co_return core::Status{};
  }
  boost::asio::awaitable<core::Result<std::vector<std::string>>> find_by_key(
      std::string, std::string match_key) override {
    std::vector<std::string> out;
    for (const auto& [conversation, info] : infos) {
      if (!match_key.empty() && info.match_key == match_key) out.push_back(conversation);
    }
    co_return out;
  }
  boost::asio::awaitable<core::Result<std::string>> merge(std::string, std::string a,
                                                          std::string) override {
    co_return a;
  }
};

}  // namespace coibridge::connectors::coi::fakes
