// The reading half of the COI connector: a mailbox drained as a pipeline of batches, each
// batch published in one transaction, then IDLE.

#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <iterator>
#include <map>
#include <span>

#include "connectors/coi/coi_connector.hpp"
#include "connectors/coi/inbound_mail.hpp"
#include "core/connector/offload.hpp"
#include "core/model/media_type.hpp"

namespace coibridge::connectors::coi {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

// RFC 2177 §3: re-issue IDLE at least every 29 minutes so servers do not drop the session.
constexpr std::chrono::minutes kIdleRefresh{25};
// Mails per UID FETCH, and so per publishing transaction.
constexpr std::size_t kFetchBatch = 50;

}  // namespace

struct CoiConnector::Batch {
  std::vector<imap::FetchedMessage> fetched;
  std::vector<PreparedMail> prepared;  // one per fetched mail, once prepare() ran
};

// The events one batch becomes, in publishing order, each with the mail it came from.
struct CoiConnector::Pending {
  std::vector<core::BatchEvent> events;
  std::vector<std::size_t> source;  // index into Batch::fetched
  // Conversation of each mail of the batch by Message-ID: a later mail of the same batch
  // can answer into an ad-hoc group its first mail opened, before that mail is committed.
  std::map<std::string, std::string> conversation_of;
};

awaitable<core::Status> CoiConnector::watch(core::ConnectorContext& ctx, imap::ImapSession& session,
                                            const std::string& mailbox) {
  auto state = co_await session.select(mailbox);
  if (!state) co_return state.error();
  auto saved = co_await checkpoints_.load(config_.name, mailbox);
  if (!saved) co_return saved.error();
  std::uint64_t last = 0;
  if (*saved && (*saved)->uidvalidity == state->uidvalidity) {
    last = (*saved)->last_uid;
  } else if (*saved) {
    // RFC 3501 §2.3.1.1: UIDs of the old UIDVALIDITY mean nothing now. Re-read everything;
    // Message-ID dedupe keeps what was relayed from being relayed again.
    spdlog::warn("coi {}: UIDVALIDITY of {} changed ({} -> {}); resynchronising", config_.name, mailbox,
                 (*saved)->uidvalidity, state->uidvalidity);
  }
  spdlog::info("coi {}: watching {} from UID {}", config_.name, mailbox, last + 1);

  auto next_uid = static_cast<std::uint32_t>(last + 1);
  bool more = true;                  // the last fetch filled a whole batch: there may be more
  std::optional<Batch> fetched;      // waiting to be prepared
  std::optional<Batch> prepared;     // waiting to be committed
  for (;;) {
    if (!more && !fetched && !prepared) {
      auto idle = co_await session.idle(std::chrono::duration_cast<std::chrono::seconds>(kIdleRefresh));
      if (!idle) co_return idle.error();
      more = true;
    }
    std::optional<Batch> incoming;
    auto fetch = [&]() -> awaitable<core::Status> {
      if (!more) co_return core::Status{};
      auto batch = co_await session.fetch_from(next_uid, kFetchBatch);
      if (!batch) co_return batch.error();
      more = batch->size() == kFetchBatch;
      if (batch->empty()) co_return core::Status{};
      next_uid = batch->back().uid + 1;
      incoming.emplace(Batch{std::move(*batch), {}});
      co_return core::Status{};
    };
    auto parse = [&]() -> awaitable<core::Status> {
      if (!fetched) co_return core::Status{};
      co_return co_await prepare(ctx, *fetched);
    };
    auto publish = [&]() -> awaitable<core::Status> {
      if (!prepared) co_return core::Status{};
      co_return co_await commit(ctx, *prepared, mailbox, state->uidvalidity);
    };
    // The three stages of three batches at once. Each lambda outlives its coroutine (both
    // end with this iteration), and a failing stage lets the others finish: its batch and
    // the later ones are read again after the reconnect, from the checkpoint.
    auto fetching = fetch();
    auto parsing = parse();
    auto publishing = publish();
    auto [fetched_ok, parsed_ok, committed_ok] =
        co_await (std::move(fetching) && std::move(parsing) && std::move(publishing));
    if (!committed_ok) co_return committed_ok;
    if (!parsed_ok) co_return parsed_ok;
    if (!fetched_ok) co_return fetched_ok;
    prepared = std::move(fetched);
    fetched = std::move(incoming);
  }
}

awaitable<core::Status> CoiConnector::prepare(core::ConnectorContext& ctx, Batch& batch) {
  // MIME parsing and mapping are the costly part of a backlog; off the I/O thread they run
  // beside the next fetch and the previous commit, each half of the batch on its own thread.
  const std::size_t max_bytes = config_.max_message_bytes;
  auto part = [this, &batch, max_bytes](std::size_t from, std::size_t to) {
    std::vector<PreparedMail> out;
    out.reserve(to - from);
    const auto context = mapping();
    for (std::size_t i = from; i < to; ++i) out.push_back(prepare_mail(batch.fetched[i], context, max_bytes));
    return out;
  };
  const std::size_t n = batch.fetched.size();
  const std::size_t half = n / 2;
  // Named before the co_await: g++ 12 mishandles temporaries inside a co_await expression.
  auto front = [&part, half] { return part(0, half); };
  auto back = [&part, half, n] { return part(half, n); };
  auto front_done = core::offload(ctx.compute, front);
  auto back_done = core::offload(ctx.compute, back);
  auto [first, second] = co_await (std::move(front_done) && std::move(back_done));
  batch.prepared = std::move(first);
  batch.prepared.insert(batch.prepared.end(), std::make_move_iterator(second.begin()),
                        std::make_move_iterator(second.end()));
  co_return core::Status{};
}

awaitable<core::Status> CoiConnector::commit(core::ConnectorContext& ctx, Batch& batch, const std::string& mailbox,
                                             std::uint32_t uidvalidity) {
  Pending pending;
  // Group states this batch touches, loaded once and saved before its events are published.
  std::map<std::string, GroupState> groups;
  for (std::size_t i = 0; i < batch.prepared.size(); ++i) {
    auto& item = batch.prepared[i];
    const auto& message = batch.fetched[i];
    if (const auto* rejected = std::get_if<RejectedMail>(&item.result)) {
      auto st = co_await ctx.sink.reject(config_.name, rejected->reason, message.body);
      if (!st) co_return st;
      continue;
    }
    if (const auto* skip = std::get_if<Skip>(&item.result)) {
      spdlog::debug("coi {}: UID {} not relayed: {}", config_.name, item.uid, skip->reason);
      metrics_.counter("coibridge_coi_skipped_total", "Mails read but not relayed", {{"connector", config_.name}})
          .inc();
      continue;
    }
    auto& [mail, event] = std::get<MappedMail>(item.result);
    if (auto st = co_await store_attachments(event, mail); !st) co_return st;
    if (auto* read = std::get_if<core::ReadUpTo>(&event.payload)) {
      // Delta Chat acknowledges several messages in one MDN (Additional-Message-IDs); the
      // reader has read up to the newest of them.
      if (!mail.additional_targets.empty()) {
        std::vector<core::RemoteMessageRef> named{read->target};
        for (const auto& id : mail.additional_targets) named.push_back({config_.name, id});
        auto newest = co_await ctx.messages.newest_of(std::move(named));
        if (!newest) co_return newest.error();
        if (*newest) read->target = **newest;
      }
      // A receipt belongs to the chat of the message it names, which the message map knows.
      // Its headers cannot say: Delta Chat's MDNs carry no To, only the envelope names the
      // puppet they answer, and a group member's receipt is addressed to the sender alone.
      const core::RemoteMessageRef target = read->target;  // named: g++ 12 and co_await
      auto known = co_await ctx.messages.conversation_of(target);
      if (!known) co_return known.error();
      if (*known && (*known)->connector == config_.name) event.where.remote_id = (*known)->remote_id;
    }
    if (adhoc_root_of(event.where.remote_id)) {
      // Delta Chat's References name the parent chain, not always the group's first mail: the
      // group is the one a referenced mail belongs to, newest reference first.
      std::vector<std::string> ids = mail.in_reply_to;
      ids.insert(ids.end(), mail.references.rbegin(), mail.references.rend());
      for (const auto& id : ids) {
        std::optional<std::string> group;
        if (auto it = pending.conversation_of.find(id); it != pending.conversation_of.end()) {
          group = it->second;
        } else {
          const core::RemoteMessageRef ref{config_.name, id};  // named: g++ 12 and co_await
          auto known = co_await ctx.messages.conversation_of(ref);
          if (!known) co_return known.error();
          if (*known) group = (*known)->remote_id;
        }
        if (group && adhoc_root_of(*group)) {
          event.where.remote_id = *group;
          break;
        }
      }
    }
    if (is_group_conversation(event.where.remote_id)) {
      auto [slot, fresh] = groups.try_emplace(event.where.remote_id);
      if (fresh) {
        auto saved = co_await conversations_.load(config_.name, event.where.remote_id);
        if (!saved) co_return saved.error();
        if (*saved) slot->second = group_state_from_json(**saved);
        if (auto root = adhoc_root_of(event.where.remote_id)) slot->second.root = *root;
      }
      for (const auto& member : observe_group_mail(slot->second, mail)) {
        if (addresses_.is_ours(member)) continue;
        // One event per member this mail addressed first; its origin is derived from the
        // mail, so a re-read publishes nothing twice.
        core::Event joined;
        joined.where = event.where;
        joined.who = event.who;
        joined.origin = {config_.name, mail.message_id + "#joined:" + member};
        joined.at = event.at;
        joined.payload = core::MemberJoined{core::ActorRef{config_.name, member, ""}};
        pending.events.push_back(core::BatchEvent{std::move(joined), false});
        pending.source.push_back(i);
      }
    }
    pending.conversation_of[mail.message_id] = event.where.remote_id;
    const bool direct = dm_puppet(event.where.remote_id).has_value();
    pending.events.push_back(core::BatchEvent{std::move(event), direct});
    pending.source.push_back(i);
  }
  for (const auto& [conversation, state] : groups) {
    if (auto st = co_await conversations_.save(config_.name, conversation, to_json(state)); !st) co_return st;
  }
  if (auto st = co_await publish_pending(ctx, batch, pending); !st) co_return st;
  if (batch.fetched.empty()) co_return core::Status{};
  co_return co_await checkpoints_.save(config_.name, mailbox, {uidvalidity, batch.fetched.back().uid});
}

awaitable<core::Status> CoiConnector::publish_pending(core::ConnectorContext& ctx, Batch& batch, Pending& pending) {
  std::size_t next = 0;
  while (next < pending.events.size()) {
    // The store ends a batch at an unlinked mail to a puppet: that event is published again
    // once its chat is settled, and what follows it in the next round.
    const auto rest = std::span<const core::BatchEvent>(pending.events).subspan(next);
    auto outcomes = co_await ctx.sink.publish_batch(rest);
    if (!outcomes) co_return outcomes.error();
    if (outcomes->empty()) co_return core::Error::internal("the router answered a batch with no outcome");
    for (std::size_t k = 0; k < outcomes->size(); ++k) {
      const auto& outcome = (*outcomes)[k];
      const auto index = next + k;
      const auto& message = batch.fetched[pending.source[index]];
      if (!outcome) {
        if (auto st = co_await refused(ctx, outcome.error(), message); !st) co_return st;
      } else if (outcome->status == core::PublishStatus::kUnlinked && pending.events[index].stop_if_unlinked) {
        if (auto st = co_await publish_direct(ctx, pending.events[index].event, message); !st) co_return st;
      }
    }
    next += outcomes->size();
  }
  co_return core::Status{};
}

awaitable<core::Status> CoiConnector::publish_direct(core::ConnectorContext& ctx, core::Event event,
                                                     const imap::FetchedMessage& message) {
  // Not linked yet: a direct chat is opened on the puppet's network when it has them; else,
  // when the chat with the bridge account is linked (a room whose people all write through
  // puppets), the mail goes there.
  const auto puppet = addresses_.parse_puppet(*dm_puppet(event.where.remote_id));
  bool opened = false;
  if (puppet && ctx.direct_chats != nullptr && puppet->connector != config_.name) {
    auto linked = co_await ctx.direct_chats->link(event.where, event.who, puppet->connector, puppet->remote_id);
    opened = linked.ok() || linked.error().kind == core::ErrorKind::kConflict;
    if (!linked && linked.error().kind == core::ErrorKind::kUnavailable) co_return linked.error();
    if (!linked) spdlog::debug("coi {}: no direct chat with {}: {}", config_.name, puppet->remote_id, linked.error().message);
  }
  if (!opened) event.where.remote_id = dm_conversation(*dm_peer(event.where.remote_id));
  auto outcome = co_await ctx.sink.publish(std::move(event));
  if (!outcome) co_return co_await refused(ctx, outcome.error(), message);
  co_return core::Status{};
}

awaitable<core::Status> CoiConnector::store_attachments(core::Event& event, const mime::ParsedMail& mail) {
  if (event.who.avatar == kAvatarPart && mail.avatar) {
    auto location = co_await blobs_.put(core::sniff_image_type(*mail.avatar), *mail.avatar);
    if (!location) co_return location.error();
    event.who.avatar = std::move(*location);
  }
  auto* posted = std::get_if<core::MessagePosted>(&event.payload);
  if (posted == nullptr) co_return core::Status{};
  for (auto& file : posted->body.attachments) {
    const auto index = mail_part_index(file.location);
    if (!index || *index >= mail.attachments.size()) continue;
    const auto& part = mail.attachments[*index];
    auto location = co_await blobs_.put(part.content_type, part.data);
    if (!location) co_return location.error();  // the checkpoint stays; the mail is read again
    file.location = std::move(*location);
  }
  co_return core::Status{};
}

awaitable<core::Status> CoiConnector::refused(core::ConnectorContext& ctx, const core::Error& error,
                                              const imap::FetchedMessage& message) {
  if (error.kind != core::ErrorKind::kInvalidArgument) co_return error;
  co_return co_await ctx.sink.reject(config_.name, error.message, message.body);
}

}  // namespace coibridge::connectors::coi
