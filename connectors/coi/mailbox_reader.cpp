#include "connectors/coi/mailbox_reader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <deque>
#include <iterator>
#include <map>
#include <span>

#include "connectors/coi/group_threads.hpp"
#include "connectors/coi/inbound_mail.hpp"
#include "core/async/offload.hpp"
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
// An MTA delivers a burst in parallel, so a group's mails reach the mailbox out of order. An
// ad-hoc group mail that names only messages not read yet waits for them this long, and at
// most this many mails and bytes wait at once (the oldest gives up first), before it is
// placed by its group's name and members or becomes a group of its own (group_threads.hpp).
// The checkpoint stays before the oldest waiting mail, so a restart reads it again.
constexpr std::chrono::seconds kHoldFor{20};
constexpr std::size_t kMaxHeld = 500;
constexpr std::size_t kMaxHeldBytes = std::size_t{64} << 20;

}  // namespace

MailboxReader::MailboxReader(const CoiConnectorConfig& config, const AddressBook& addresses,
                             Stores stores, core::MetricsRegistry& metrics)
    : config_(config),
      addresses_(addresses),
      checkpoints_(stores.checkpoints),
      blobs_(stores.blobs),
      conversations_(stores.conversations),
      metrics_(metrics) {}

// A mail waiting for the messages it names.
struct MailboxReader::HeldMail {
  imap::FetchedMessage message;
  MappedMail mapped;
  std::chrono::steady_clock::time_point since;
};

// What one mailbox session holds back, and how far it has read.
struct MailboxReader::Holding {
  std::deque<HeldMail> mails;  // ascending UID
  std::size_t bytes = 0;
  std::uint32_t last_read = 0;  // the highest UID read in this session
  // When the oldest held mail stops waiting.
  std::optional<std::chrono::steady_clock::time_point> due() const {
    if (mails.empty()) return std::nullopt;
    return mails.front().since + kHoldFor;
  }
  bool over_bounds() const { return mails.size() > kMaxHeld || bytes > kMaxHeldBytes; }
};

struct MailboxReader::Batch {
  std::vector<imap::FetchedMessage> fetched;
  std::vector<PreparedMail> prepared;  // one per fetched mail, once prepare() ran
};

// The events one batch becomes, in publishing order, each with the mail it came from.
struct MailboxReader::Pending {
  std::vector<core::BatchEvent> events;
  std::vector<const imap::FetchedMessage*> source;  // in the batch, or in `released`
  // Conversation of each mail placed in this commit by Message-ID: a later mail can answer
  // into an ad-hoc group its first mail opened, before that mail is committed.
  std::map<std::string, std::string> conversation_of;
  // What the message map knew of the messages the ad-hoc group mails name, read once.
  std::map<std::string, std::string> known;
  // Group states this commit touches, loaded once and saved after its events are published.
  std::map<std::string, GroupState> groups;
  // Held mails placed in this commit; their events point here until they are published.
  std::deque<HeldMail> released;
};

namespace {

// In a direct chat every mail the bridge reads comes from the one contact, whose Delta Chat
// gives each message its own Date second, later than the one before (chatmail core,
// create_smeared_timestamp). The mail server may still deliver mails sent moments apart in
// another order (Postfix delivers a burst in parallel), so within a batch a direct chat's
// events go out by Date; equal Dates keep their mailbox order. Groups keep mailbox order:
// their members' clocks disagree, and their thread order is placed already.
void order_direct_chats_by_date(std::vector<core::BatchEvent>& events,
                                std::vector<const imap::FetchedMessage*>& source) {
  std::map<std::string, std::vector<std::size_t>> slots;  // direct chat -> its positions
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& where = events[i].event.where.remote_id;
    if (dm_peer(where)) slots[where].push_back(i);
  }
  for (const auto& [conversation, positions] : slots) {
    auto sorted = positions;
    std::stable_sort(sorted.begin(), sorted.end(), [&](std::size_t a, std::size_t b) {
      return events[a].event.at < events[b].event.at;
    });
    if (sorted == positions) continue;
    std::vector<core::BatchEvent> moved_events;
    std::vector<const imap::FetchedMessage*> moved_source;
    for (auto i : sorted) {
      moved_events.push_back(std::move(events[i]));
      moved_source.push_back(source[i]);
    }
    for (std::size_t k = 0; k < positions.size(); ++k) {
      events[positions[k]] = std::move(moved_events[k]);
      source[positions[k]] = moved_source[k];
    }
  }
}

}  // namespace

void MailboxReader::order_direct_chats_by_date(Pending& pending) {
  coi::order_direct_chats_by_date(pending.events, pending.source);
}

awaitable<core::Status> MailboxReader::watch(core::ConnectorContext& ctx, MailboxSource& session,
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
    spdlog::warn("coi {}: UIDVALIDITY of {} changed ({} -> {}); resynchronising", config_.name,
                 mailbox, (*saved)->uidvalidity, state->uidvalidity);
  }
  spdlog::info("coi {}: watching {} from UID {}", config_.name, mailbox, last + 1);

  auto next_uid = static_cast<std::uint32_t>(last + 1);
  bool more = true;               // the last fetch filled a whole batch: there may be more
  std::optional<Batch> fetched;   // waiting to be prepared
  std::optional<Batch> prepared;  // waiting to be committed
  Holding holding;
  for (;;) {
    if (!more && !fetched && !prepared) {
      auto wait = std::chrono::duration_cast<std::chrono::seconds>(kIdleRefresh);
      if (const auto due = holding.due()) {
        const auto now = std::chrono::steady_clock::now();
        if (*due <= now) {
          // Held mails stop waiting: placed with nothing new read.
          Batch none;
          if (auto st = co_await commit(ctx, none, mailbox, state->uidvalidity, holding); !st)
            co_return st;
          continue;
        }
        wait = std::min(wait, std::chrono::ceil<std::chrono::seconds>(*due - now));
      }
      auto idle = co_await session.idle(wait);
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
      co_return co_await commit(ctx, *prepared, mailbox, state->uidvalidity, holding);
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

awaitable<core::Status> MailboxReader::prepare(core::ConnectorContext& ctx, Batch& batch) {
  // MIME parsing and mapping are the costly part of a backlog; off the I/O thread they run
  // beside the next fetch and the previous commit, each half of the batch on its own thread.
  const std::size_t max_bytes = config_.max_message_bytes;
  auto part = [this, &batch, max_bytes](std::size_t from, std::size_t to) {
    std::vector<PreparedMail> out;
    out.reserve(to - from);
    const auto context = mapping();
    for (std::size_t i = from; i < to; ++i)
      out.push_back(prepare_mail(batch.fetched[i], context, max_bytes));
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

awaitable<core::Status> MailboxReader::commit(core::ConnectorContext& ctx, Batch& batch,
                                              const std::string& mailbox, std::uint32_t uidvalidity,
                                              Holding& holding) {
  Pending pending;
  {
    // One lookup for every message that the batch's and the held ad-hoc group mails name.
    std::vector<std::string> ids;
    const auto add_named = [&ids](const MappedMail& mapped) {
      if (!adhoc_root_of(mapped.event.where.remote_id)) return;
      for (auto& id : named_messages(mapped.mail)) ids.push_back(std::move(id));
    };
    for (const auto& item : batch.prepared) {
      if (const auto* mapped = std::get_if<MappedMail>(&item.result)) add_named(*mapped);
    }
    for (const auto& held : holding.mails) add_named(held.mapped);
    if (!ids.empty()) {
      auto known = co_await ctx.messages.conversations_of(config_.name, std::move(ids));
      if (!known) co_return known.error();
      pending.known = std::move(*known);
    }
  }
  for (std::size_t i = 0; i < batch.prepared.size(); ++i) {
    auto& item = batch.prepared[i];
    auto& message = batch.fetched[i];
    if (const auto* rejected = std::get_if<RejectedMail>(&item.result)) {
      auto st = co_await ctx.sink.reject(config_.name, rejected->reason, message.body);
      if (!st) co_return st;
      continue;
    }
    if (const auto* skip = std::get_if<Skip>(&item.result)) {
      spdlog::debug("coi {}: UID {} not relayed: {}", config_.name, item.uid, skip->reason);
      metrics_
          .counter("coibridge_coi_skipped_total", "Mails read but not relayed",
                   {{"connector", config_.name}})
          .inc();
      continue;
    }
    auto& mapped = std::get<MappedMail>(item.result);
    auto& [mail, event] = mapped;
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
      if (*known && (*known)->connector == config_.name)
        event.where.remote_id = (*known)->remote_id;
    }
    if (adhoc_root_of(event.where.remote_id)) {
      auto group = co_await adhoc_group_of(pending, mail, false);
      if (!group) co_return group.error();
      if (!*group) {
        holding.bytes += message.body.size();
        holding.mails.push_back(
            HeldMail{std::move(message), std::move(mapped), std::chrono::steady_clock::now()});
        metrics_
            .counter("coibridge_coi_held_total",
                     "Group mails held until the messages they name arrive",
                     {{"connector", config_.name}})
            .inc();
        continue;
      }
      event.where.remote_id = std::move(**group);
    }
    if (auto st = co_await place(pending, mapped, &message); !st) co_return st;
  }
  if (auto st = co_await release_held(pending, holding); !st) co_return st;
  order_direct_chats_by_date(pending);
  if (auto st = co_await publish_pending(ctx, pending); !st) co_return st;
  // The group states after the events: a state saved before a publish that then failed would
  // already hold the members the re-read mail adds, and their MemberJoined would be lost. The
  // other way round, a re-read after a failed save publishes nothing twice (the events'
  // origins deduplicate) and saves the state.
  for (const auto& [conversation, state] : pending.groups) {
    core::ConversationInfo info{"group", state.name, state.members, ""};
    if (adhoc_root_of(conversation)) info.match_key = group_match_key(state);
    if (auto st = co_await conversations_.save(config_.name, conversation, to_json(state),
                                               std::move(info));
        !st) {
      co_return st;
    }
  }
  if (!batch.fetched.empty())
    holding.last_read = std::max(holding.last_read, batch.fetched.back().uid);
  // Read up to the oldest held mail: it is read again after a restart.
  const std::uint32_t upto =
      holding.mails.empty() ? holding.last_read : holding.mails.front().message.uid - 1;
  if (upto == 0) co_return core::Status{};
  co_return co_await checkpoints_.save(config_.name, mailbox, {uidvalidity, upto});
}

awaitable<core::Status> MailboxReader::release_held(Pending& pending, Holding& holding) {
  const auto release = [&](std::deque<HeldMail>::iterator it,
                           std::string conversation) -> awaitable<core::Status> {
    holding.bytes -= std::min(holding.bytes, it->message.body.size());
    auto& released = pending.released.emplace_back(std::move(*it));
    holding.mails.erase(it);
    released.mapped.event.where.remote_id = std::move(conversation);
    co_return co_await place(pending, released.mapped, &released.message);
  };
  // Until nothing moves: a mail placed by name and members, or after waiting in vain, may be
  // the parent another held mail waits for.
  for (bool moved = true; moved;) {
    moved = false;
    // Mails whose named messages are known now, in the order of their chain: first a mail
    // whose In-Reply-To (the previous message of its chat, for Delta Chat) is placed, else
    // one naming any placed message. Each placed mail may let another go.
    for (;;) {
      auto next = holding.mails.end();
      for (auto it = holding.mails.begin(); it != holding.mails.end(); ++it) {
        const auto& parent = it->mapped.mail.in_reply_to;
        if (!parent.empty() && (pending.conversation_of.contains(parent.front()) ||
                                pending.known.contains(parent.front()))) {
          next = it;
          break;
        }
      }
      std::vector<std::string> found;
      if (next != holding.mails.end()) found = chain_groups(pending, next->mapped.mail);
      for (auto it = holding.mails.begin(); found.empty() && it != holding.mails.end(); ++it) {
        found = chain_groups(pending, it->mapped.mail);
        next = it;
      }
      if (found.empty()) break;
      auto group = co_await unite(pending, std::move(found));
      if (!group) co_return group.error();
      if (auto st = co_await release(next, std::move(*group)); !st) co_return st;
    }
    // Mails of a group this commit knows by name and members; and those that stop waiting.
    const auto now = std::chrono::steady_clock::now();
    for (auto it = holding.mails.begin(); it != holding.mails.end();) {
      const bool give_up = it->since + kHoldFor <= now || holding.over_bounds();
      std::optional<std::string> group;
      for (const auto& [conversation, state] : pending.groups) {
        if (adhoc_root_of(conversation) && same_group(state, it->mapped.mail)) {
          group = conversation;
          break;
        }
      }
      if (!group && give_up) {
        auto placed = co_await adhoc_group_of(pending, it->mapped.mail, true);
        if (!placed) co_return placed.error();
        group = std::move(*placed);
        metrics_
            .counter("coibridge_coi_held_gave_up_total",
                     "Held group mails whose named messages never arrived in time",
                     {{"connector", config_.name}})
            .inc();
      }
      if (!group) {
        ++it;
        continue;
      }
      const auto index = it - holding.mails.begin();
      if (auto st = co_await release(it, std::move(*group)); !st) co_return st;
      it = holding.mails.begin() + index;
      moved = true;
    }
  }
  co_return core::Status{};
}

std::vector<std::string> MailboxReader::chain_groups(const Pending& pending,
                                                     const mime::ParsedMail& mail) const {
  std::vector<std::string> out;
  for (const auto& id : named_messages(mail)) {
    const std::string* group = nullptr;
    if (auto it = pending.conversation_of.find(id); it != pending.conversation_of.end()) {
      group = &it->second;
    } else if (auto known = pending.known.find(id); known != pending.known.end()) {
      group = &known->second;
    }
    if (group == nullptr || !adhoc_root_of(*group)) continue;
    if (std::find(out.begin(), out.end(), *group) == out.end()) out.push_back(*group);
  }
  return out;
}

awaitable<core::Result<std::optional<std::string>>> MailboxReader::adhoc_group_of(
    Pending& pending, const mime::ParsedMail& mail, bool give_up) {
  using Found = std::optional<std::string>;
  auto found = chain_groups(pending, mail);
  if (!found.empty()) {
    auto group = co_await unite(pending, std::move(found));
    if (!group) co_return group.error();
    co_return Found(std::move(*group));
  }
  // It names nothing but itself: the first mail of a group.
  if (named_messages(mail).empty()) co_return Found(adhoc_conversation(mail.message_id));
  if (mail.group_name) {
    // Delta Chat's own rule for a mail without a known parent: the ad-hoc group with this
    // name and exactly these members. Groups this commit touched first: their keys may not be
    // stored yet.
    for (const auto& [conversation, state] : pending.groups) {
      if (adhoc_root_of(conversation) && same_group(state, mail)) co_return Found(conversation);
    }
    auto candidates = co_await conversations_.find_by_key(
        config_.name, group_match_key(*mail.group_name, addressed_members(mail)));
    if (!candidates) co_return candidates.error();
    for (const auto& candidate : *candidates) {
      if (!adhoc_root_of(candidate)) continue;
      auto state = co_await group_state(pending, candidate);
      if (!state) co_return state.error();
      if (same_group(**state, mail)) co_return Found(candidate);
    }
  }
  if (!give_up) co_return Found{};
  co_return Found(fallback_conversation(mail));
}

awaitable<core::Result<std::string>> MailboxReader::unite(Pending& pending,
                                                          std::vector<std::string> groups) {
  std::string survivor = groups.front();
  for (std::size_t k = 1; k < groups.size(); ++k) {
    // One mail names messages of two conversations: they are one group the bridge saw as
    // two (its first mails were read out of order, or a chain broke and healed).
    auto merged = co_await conversations_.merge(config_.name, survivor, groups[k]);
    if (!merged) {
      if (merged.error().kind != core::ErrorKind::kConflict) co_return merged.error();
      spdlog::warn("coi {}: {}; the mail stays in {}", config_.name, merged.error().message,
                   survivor);
      metrics_
          .counter("coibridge_coi_group_merges_total", "Ad-hoc groups found to be one, by result",
                   {{"connector", config_.name}, {"result", "conflict"}})
          .inc();
      continue;
    }
    const std::string gone = *merged == survivor ? groups[k] : survivor;
    survivor = std::move(*merged);
    spdlog::info("coi {}: {} is the group {}; merged", config_.name, gone, survivor);
    metrics_
        .counter("coibridge_coi_group_merges_total", "Ad-hoc groups found to be one, by result",
                 {{"connector", config_.name}, {"result", "merged"}})
        .inc();
    // What this commit placed in the merged conversation goes to the survivor.
    for (auto& item : pending.events) {
      if (item.event.where.connector == config_.name && item.event.where.remote_id == gone) {
        item.event.where.remote_id = survivor;
      }
    }
    for (auto* map : {&pending.conversation_of, &pending.known}) {
      for (auto& [id, conversation] : *map) {
        if (conversation == gone) conversation = survivor;
      }
    }
    auto into = co_await group_state(pending, survivor);
    if (!into) co_return into.error();
    auto from = co_await group_state(pending, gone);
    if (!from) co_return from.error();
    merge_group_state(**into, **from);
    pending.groups.erase(gone);
  }
  co_return survivor;
}

awaitable<core::Result<GroupState*>> MailboxReader::group_state(Pending& pending,
                                                                const std::string& conversation) {
  auto [slot, fresh] = pending.groups.try_emplace(conversation);
  if (fresh) {
    auto saved = co_await conversations_.load(config_.name, conversation);
    if (!saved) {
      pending.groups.erase(slot);
      co_return saved.error();
    }
    if (*saved) slot->second = group_state_from_json(**saved);
    if (auto root = adhoc_root_of(conversation)) slot->second.root = *root;
  }
  co_return &slot->second;
}

awaitable<core::Status> MailboxReader::place(Pending& pending, MappedMail& mapped,
                                             const imap::FetchedMessage* source) {
  auto& [mail, event] = mapped;
  if (is_group_conversation(event.where.remote_id)) {
    auto state = co_await group_state(pending, event.where.remote_id);
    if (!state) co_return state.error();
    for (const auto& member : observe_group_mail(**state, mail)) {
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
      pending.source.push_back(source);
    }
  }
  pending.conversation_of[mail.message_id] = event.where.remote_id;
  const bool direct = dm_puppet(event.where.remote_id).has_value();
  pending.events.push_back(core::BatchEvent{std::move(event), direct});
  pending.source.push_back(source);
  co_return core::Status{};
}

awaitable<core::Status> MailboxReader::publish_pending(core::ConnectorContext& ctx,
                                                       Pending& pending) {
  std::size_t next = 0;
  while (next < pending.events.size()) {
    // The store ends a batch at an unlinked mail to a puppet: that event is published again
    // once its chat is settled, and what follows it in the next round.
    const auto rest = std::span<const core::BatchEvent>(pending.events).subspan(next);
    auto outcomes = co_await ctx.sink.publish_batch(rest);
    if (!outcomes) co_return outcomes.error();
    if (outcomes->empty())
      co_return core::Error::internal("the router answered a batch with no outcome");
    for (std::size_t k = 0; k < outcomes->size(); ++k) {
      const auto& outcome = (*outcomes)[k];
      const auto index = next + k;
      const auto& message = *pending.source[index];
      if (!outcome) {
        if (auto st = co_await refused(ctx, outcome.error(), message); !st) co_return st;
      } else if (outcome->status == core::PublishStatus::kUnlinked &&
                 pending.events[index].stop_if_unlinked) {
        if (auto st = co_await publish_direct(ctx, pending.events[index].event, message); !st)
          co_return st;
      } else if (outcome->status != core::PublishStatus::kEcho) {
        if (auto st = co_await describe_direct_chat(pending.events[index].event); !st) co_return st;
      }
    }
    next += outcomes->size();
  }
  co_return core::Status{};
}

awaitable<core::Status> MailboxReader::describe_direct_chat(const core::Event& event) {
  const auto peer = dm_peer(event.where.remote_id);
  if (!peer || described_.contains(event.where.remote_id)) co_return core::Status{};
  // The person who wrote: the peer, by the mail's From name.
  const std::string title =
      event.who.display_name.empty() ? *peer : event.who.display_name + " <" + *peer + ">";
  core::ConversationInfo info{"direct", title, {*peer}, ""};
  if (auto st = co_await conversations_.save(config_.name, event.where.remote_id,
                                             nlohmann::json::object(), std::move(info));
      !st) {
    co_return st;
  }
  described_.insert(event.where.remote_id);
  co_return core::Status{};
}

awaitable<core::Status> MailboxReader::publish_direct(core::ConnectorContext& ctx,
                                                      core::Event event,
                                                      const imap::FetchedMessage& message) {
  // Not linked yet: a direct chat is opened on the puppet's network when it has them; else,
  // when the chat with the bridge account is linked (a room whose people all write through
  // puppets), the mail goes there.
  const auto puppet = addresses_.parse_puppet(*dm_puppet(event.where.remote_id));
  bool opened = false;
  if (puppet && ctx.direct_chats != nullptr && puppet->connector != config_.name) {
    auto linked = co_await ctx.direct_chats->link(event.where, event.who, puppet->connector,
                                                  puppet->remote_id);
    opened = linked.ok() || linked.error().kind == core::ErrorKind::kConflict;
    if (!linked && linked.error().kind == core::ErrorKind::kUnavailable) co_return linked.error();
    if (!linked)
      spdlog::debug("coi {}: no direct chat with {}: {}", config_.name, puppet->remote_id,
                    linked.error().message);
  }
  if (!opened) event.where.remote_id = dm_conversation(*dm_peer(event.where.remote_id));
  auto outcome = co_await ctx.sink.publish(event);
  if (!outcome) co_return co_await refused(ctx, outcome.error(), message);
  co_return co_await describe_direct_chat(event);
}

awaitable<core::Status> MailboxReader::store_attachments(core::Event& event,
                                                         const mime::ParsedMail& mail) {
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

awaitable<core::Status> MailboxReader::refused(core::ConnectorContext& ctx,
                                               const core::Error& error,
                                               const imap::FetchedMessage& message) {
  if (error.kind != core::ErrorKind::kInvalidArgument) co_return error;
  co_return co_await ctx.sink.reject(config_.name, error.message, message.body);
}

}  // namespace coibridge::connectors::coi
