#include "core/store/pg/pg_stores.hpp"

// A read of one statement runs as pqxx::nontransaction (autocommit): a read_transaction would
// add BEGIN, SET TRANSACTION READ ONLY and COMMIT, three round trips for nothing. Reads of
// several statements keep their read_transaction, for one snapshot.

#include <map>

#include "core/model/event_json.hpp"
#include "core/store/pg/statements.hpp"

namespace coibridge::core::pg {
namespace {

using boost::asio::awaitable;

Timestamp from_ms(std::int64_t ms) { return Timestamp{std::chrono::milliseconds(ms)}; }
std::int64_t to_ms(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Bridge bridge_from(const pqxx::row& r) {
  return {r[0].as<std::int64_t>(), r[1].as<std::string>(), from_ms(r[2].as<std::int64_t>()),
          from_ms(r[3].as<std::int64_t>())};
}

Link link_from(const pqxx::row& r) {
  Link l;
  l.id = r[0].as<std::int64_t>();
  l.bridge_id = r[1].as<std::int64_t>();
  l.connector = r[2].as<std::string>();
  l.remote_id = r[3].as<std::string>();
  l.options = nlohmann::json::parse(r[4].as<std::string>());
  l.created_at = from_ms(r[5].as<std::int64_t>());
  return l;
}

void audit(pqxx::work& tx, const std::string& actor, const char* action, const std::string& target,
           const nlohmann::json& details) {
  tx.exec_prepared("audit_insert", actor, std::string(action), target, details.dump());
}

std::string bridge_target(std::int64_t id) { return "bridge/" + std::to_string(id); }

ConversationSummary conversation_from(const pqxx::row& r) {
  ConversationSummary s;
  s.id = r[0].as<std::int64_t>();
  s.connector = r[1].as<std::string>();
  s.remote_id = r[2].as<std::string>();
  s.kind = r[3].as<std::string>();
  s.title = r[4].as<std::string>();
  const auto members = nlohmann::json::parse(r[5].as<std::string>(), nullptr, false);
  if (members.is_array()) {
    for (const auto& m : members) {
      if (m.is_string()) s.members.push_back(m.get<std::string>());
    }
  }
  s.messages = r[6].as<std::int64_t>();
  s.unlinked_events = r[7].as<std::int64_t>();
  if (!r[8].is_null()) s.bridge_id = r[8].as<std::int64_t>();
  s.first_seen = from_ms(r[9].as<std::int64_t>());
  s.last_activity = from_ms(r[10].as<std::int64_t>());
  return s;
}

}  // namespace

// ---------------------------------------------------------------- bridges

awaitable<Result<Bridge>> PgBridgeStore::create_bridge(std::string name, std::string actor) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<Bridge> {
    try {
      pqxx::work tx(c);
      Bridge b = bridge_from(tx.exec_prepared1("bridge_insert", name));
      audit(tx, actor, "bridge.create", bridge_target(b.id), {{"name", name}});
      tx.commit();
      return b;
    } catch (const pqxx::unique_violation&) {
      return Error::conflict("a bridge named '" + name + "' exists already");
    }
  });
}

awaitable<Result<BridgePage>> PgBridgeStore::list_bridges(std::int64_t after, int limit) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<BridgePage> {
    pqxx::nontransaction tx(c);
    // One extra row tells whether another page exists.
    auto rows = tx.exec_prepared("bridge_list", after, limit + 1);
    BridgePage page;
    for (const auto& r : rows) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_after = page.items.back().id;
        break;
      }
      page.items.push_back(bridge_from(r));
    }
    return page;
  });
}

awaitable<Result<Bridge>> PgBridgeStore::get_bridge(std::int64_t id) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<Bridge> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("bridge_get", id);
    if (rows.empty()) return Error::not_found("no bridge with id " + std::to_string(id));
    return bridge_from(rows[0]);
  });
}

awaitable<Result<Bridge>> PgBridgeStore::rename_bridge(std::int64_t id, std::string name,
                                                       std::string actor) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<Bridge> {
    try {
      pqxx::work tx(c);
      auto rows = tx.exec_prepared("bridge_rename", id, name);
      if (rows.empty()) return Error::not_found("no bridge with id " + std::to_string(id));
      audit(tx, actor, "bridge.rename", bridge_target(id), {{"name", name}});
      tx.commit();
      return bridge_from(rows[0]);
    } catch (const pqxx::unique_violation&) {
      return Error::conflict("a bridge named '" + name + "' exists already");
    }
  });
}

awaitable<Status> PgBridgeStore::delete_bridge(std::int64_t id, std::string actor) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("bridge_outbox_to_dead", id, std::string("bridge deleted"));
    auto r = tx.exec_prepared("bridge_delete", id);
    if (r.affected_rows() == 0) return Error::not_found("no bridge with id " + std::to_string(id));
    audit(tx, actor, "bridge.delete", bridge_target(id), nlohmann::json::object());
    tx.commit();
    return {};
  });
}

awaitable<Result<Link>> PgBridgeStore::add_link(std::int64_t bridge_id, std::string connector,
                                                std::string remote_id, nlohmann::json options,
                                                std::string actor) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<Link> {
    try {
      pqxx::work tx(c);
      if (tx.exec_prepared("bridge_get", bridge_id).empty()) {
        return Error::not_found("no bridge with id " + std::to_string(bridge_id));
      }
      Link l = link_from(
          tx.exec_prepared1("link_insert", bridge_id, connector, remote_id, options.dump()));
      audit(tx, actor, "link.add", bridge_target(bridge_id),
            {{"link_id", l.id}, {"connector", connector}, {"remote_id", remote_id}});
      tx.commit();
      return l;
    } catch (const pqxx::unique_violation&) {
      return Error::conflict("conversation " + connector + ":" + remote_id +
                             " is linked to a bridge already");
    }
  });
}

awaitable<Result<std::optional<std::int64_t>>> PgBridgeStore::bridge_of(std::string connector,
                                                                        std::string remote_id) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<std::int64_t>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("link_bridge_of", connector, remote_id);
    if (rows.empty()) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>(rows[0][0].as<std::int64_t>());
  });
}

awaitable<Result<ConversationPage>> PgBridgeStore::list_conversations(ConversationFilter filter) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<ConversationPage> {
    pqxx::nontransaction tx(c);
    const std::string linked = !filter.linked ? "" : *filter.linked ? "true" : "false";
    // One extra row tells whether another page exists.
    auto rows = tx.exec_prepared("conversation_list", filter.after, filter.connector, linked,
                                 filter.query, filter.limit + 1, filter.with_unlinked_events);
    ConversationPage page;
    for (const auto& r : rows) {
      if (static_cast<int>(page.items.size()) == filter.limit) {
        page.next_after = page.items.back().id;
        break;
      }
      page.items.push_back(conversation_from(r));
    }
    return page;
  });
}

awaitable<Result<std::vector<Link>>> PgBridgeStore::list_links(std::int64_t bridge_id) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::vector<Link>> {
    pqxx::read_transaction tx(c);
    if (tx.exec_prepared("bridge_get", bridge_id).empty()) {
      return Error::not_found("no bridge with id " + std::to_string(bridge_id));
    }
    std::vector<Link> out;
    for (const auto& r : tx.exec_prepared("link_list", bridge_id)) out.push_back(link_from(r));
    return out;
  });
}

awaitable<Status> PgBridgeStore::remove_link(std::int64_t bridge_id, std::int64_t link_id,
                                             std::string actor) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto rows = tx.exec_prepared("link_delete", bridge_id, link_id);
    if (rows.empty()) {
      return Error::not_found("no link " + std::to_string(link_id) + " in bridge " +
                              std::to_string(bridge_id));
    }
    const auto connector = rows[0][0].as<std::string>();
    const auto remote_id = rows[0][1].as<std::string>();
    // Deliveries still queued for the unlinked conversation have nowhere to go.
    tx.exec_prepared("link_outbox_to_dead", connector, remote_id, std::string("link removed"));
    audit(tx, actor, "link.remove", bridge_target(bridge_id),
          {{"link_id", link_id}, {"connector", connector}, {"remote_id", remote_id}});
    tx.commit();
    return {};
  });
}

// ---------------------------------------------------------------- events

awaitable<Result<std::vector<PublishOutcome>>> PgEventStore::publish_batch(
    const std::vector<BatchEvent>& events, const FanoutPlanner& planner) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::vector<PublishOutcome>> {
    pqxx::work tx(c);
    std::vector<PublishOutcome> outcomes;
    outcomes.reserve(events.size());
    // A backlog mostly repeats a few conversations: their bridge and links are read once.
    struct Linked {
      std::int64_t bridge_id = 0;  // 0: linked to nothing
      std::vector<Link> links;
    };
    std::map<ConversationRef, Linked> linked;
    struct Counts {
      std::int64_t messages = 0;
      std::int64_t unlinked = 0;
    };
    std::map<ConversationRef, Counts> counted;
    for (const auto& item : events) {
      const Event& event = item.event;
      PublishOutcome& out = outcomes.emplace_back();
      // Published before (in this batch too: the transaction sees its own rows), or our own
      // delivery coming back (the copy of a sent mail, our own Matrix event).
      const auto seen =
          tx.exec_prepared1("origin_status", event.origin.connector, event.origin.remote_id);
      if (!seen[0].is_null()) {
        out.status = PublishStatus::kDuplicate;
        out.event_id = EventId{seen[0].as<std::string>()};
        continue;
      }
      if (seen[1].as<bool>()) {
        out.status = PublishStatus::kEcho;
        continue;
      }
      auto [where, fresh] = linked.try_emplace(event.where);
      if (fresh) {
        auto bridge =
            tx.exec_prepared("link_bridge_of", event.where.connector, event.where.remote_id);
        if (!bridge.empty()) {
          where->second.bridge_id = bridge[0][0].as<std::int64_t>();
          for (const auto& r : tx.exec_prepared("link_list", where->second.bridge_id)) {
            where->second.links.push_back(link_from(r));
          }
        }
      }
      const std::string kind = payload_kind(event.payload);
      auto& counts = counted[event.where];
      if (where->second.bridge_id == 0) {
        out.status = PublishStatus::kUnlinked;
        if (item.stop_if_unlinked) break;
        // Kept without outbox rows: the origin deduplicates, and says which conversation it
        // belongs to (a mail answering into a group names earlier mails only). Typing says
        // nothing later.
        if (std::holds_alternative<Typing>(event.payload)) continue;
        auto kept = tx.exec_prepared("message_insert_unlinked", event.id.value,
                                     event.origin.connector, event.origin.remote_id,
                                     event.where.remote_id, kind, to_json(event).dump());
        if (kept.empty()) {
          out.status = PublishStatus::kDuplicate;
          continue;
        }
        out.event_id = event.id;
        ++counts.unlinked;
        if (std::holds_alternative<MessagePosted>(event.payload)) ++counts.messages;
        continue;
      }
      const std::string body = to_json(event).dump();
      auto inserted = tx.exec_prepared("message_insert", event.id.value, where->second.bridge_id,
                                       event.origin.connector, event.origin.remote_id,
                                       event.where.remote_id, kind, body);
      if (inserted.empty()) {
        // A concurrent publish of the same origin won the race (ON CONFLICT DO NOTHING waited
        // for it); nothing of this event was written.
        out.status = PublishStatus::kDuplicate;
        continue;
      }
      for (const auto& target : planner(event, where->second.links)) {
        tx.exec_prepared("outbox_insert", event.id.value, where->second.bridge_id, target.connector,
                         target.remote_id, body);
        ++out.targets;
      }
      out.status = PublishStatus::kAccepted;
      out.event_id = event.id;
      if (std::holds_alternative<MessagePosted>(event.payload)) ++counts.messages;
    }
    // The directory's counts, one statement per conversation, in key order (a concurrent
    // batch locks the same rows in the same order).
    for (const auto& [conversation, n] : counted) {
      if (n.messages == 0 && n.unlinked == 0) continue;
      tx.exec_prepared("conversation_count", conversation.connector, conversation.remote_id,
                       n.messages, n.unlinked);
    }
    tx.commit();
    return outcomes;
  });
}

awaitable<Result<std::vector<EventStore::QueueHead>>> PgEventStore::queue_heads() {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::vector<QueueHead>> {
    pqxx::nontransaction tx(c);
    std::vector<QueueHead> out;
    for (const auto& r : tx.exec_prepared("outbox_heads")) {
      out.push_back(
          {{r[0].as<std::string>(), r[1].as<std::string>()}, from_ms(r[2].as<std::int64_t>())});
    }
    return out;
  });
}

awaitable<Result<std::vector<OutboxItem>>> PgEventStore::queue_of(ConversationRef target,
                                                                  int limit) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::vector<OutboxItem>> {
    pqxx::nontransaction tx(c);
    std::vector<OutboxItem> out;
    for (const auto& r :
         tx.exec_prepared("outbox_queue_of", target.connector, target.remote_id, limit)) {
      OutboxItem item;
      item.id = r[0].as<std::int64_t>();
      item.target = target;
      auto event = event_from_json(nlohmann::json::parse(r[1].as<std::string>()));
      if (!event)
        return Error::internal("outbox row " + std::to_string(item.id) + ": " +
                               event.error().message);
      item.event = std::move(event).value();
      item.attempts = r[2].as<int>();
      item.next_attempt_at = from_ms(r[3].as<std::int64_t>());
      item.last_error = r[4].as<std::string>();
      out.push_back(std::move(item));
    }
    return out;
  });
}

awaitable<Status> PgEventStore::mark_delivered(std::int64_t outbox_id, EventId event_id,
                                               ConversationRef target, RemoteMessageRef remote) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("outbox_delete", outbox_id);
    if (!remote.remote_id.empty()) {
      tx.exec_prepared("part_insert", event_id.value, target.connector, target.remote_id,
                       remote.remote_id);
    }
    tx.commit();
    return {};
  });
}

awaitable<Status> PgEventStore::mark_failed(std::int64_t outbox_id, std::string error,
                                            Timestamp next_attempt_at) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("outbox_failed", outbox_id, error, to_ms(next_attempt_at));
    tx.commit();
    return {};
  });
}

awaitable<Status> PgEventStore::mark_waiting(std::int64_t outbox_id, std::string error,
                                             Timestamp next_attempt_at) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("outbox_waiting", outbox_id, error, to_ms(next_attempt_at));
    tx.commit();
    return {};
  });
}

awaitable<Status> PgEventStore::dead_letter(std::int64_t outbox_id, std::string reason) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("outbox_to_dead", outbox_id, reason);
    tx.commit();
    return {};
  });
}

awaitable<Status> PgEventStore::dead_letter_inbound(std::string connector, std::string reason,
                                                    std::string raw) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    // Stored as a JSON string; dump() replaces invalid UTF-8 so any input can be parked.
    // jsonb cannot hold U+0000, so NUL bytes become U+FFFD as well.
    std::string text;
    text.reserve(raw.size());
    for (char ch : raw) {
      if (ch == '\0') {
        text += "\xEF\xBF\xBD";
      } else {
        text += ch;
      }
    }
    const auto raw_json =
        nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    tx.exec_prepared("inbound_to_dead", connector, raw_json, reason);
    tx.commit();
    return {};
  });
}

awaitable<Result<std::optional<Event>>> PgEventStore::event_by_origin(RemoteMessageRef ref) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<Event>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("event_by_origin", ref.connector, ref.remote_id);
    if (rows.empty() || rows[0][0].is_null()) return std::optional<Event>{};
    auto event = event_from_json(nlohmann::json::parse(rows[0][0].as<std::string>()));
    if (!event) return event.error();
    return std::optional<Event>(std::move(*event));
  });
}

awaitable<Result<int>> PgEventStore::backfill(std::int64_t bridge_id, int messages,
                                              const FanoutPlanner& planner) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<int> {
    pqxx::work tx(c);
    std::vector<Link> links;
    for (const auto& r : tx.exec_prepared("link_list", bridge_id)) links.push_back(link_from(r));
    if (links.empty()) return Error::not_found("no bridge with id " + std::to_string(bridge_id));
    int queued = 0;
    for (const auto& r : tx.exec_prepared("backfill_candidates", bridge_id, messages)) {
      auto event = event_from_json(nlohmann::json::parse(r[1].as<std::string>()));
      if (!event) continue;  // written by this store; unreadable only if edited by hand
      // The message's conversation may have been merged into the linked one since.
      event->where.remote_id = r[2].as<std::string>();
      // A concurrent backfill or publish took it: it is queued there, not twice.
      if (tx.exec_prepared("message_join_bridge", r[0].as<std::string>(), bridge_id)
              .affected_rows() == 0) {
        continue;
      }
      const std::string body = to_json(*event).dump();
      for (const auto& target : planner(*event, links)) {
        tx.exec_prepared("outbox_insert", event->id.value, bridge_id, target.connector,
                         target.remote_id, body);
        ++queued;
      }
    }
    tx.commit();
    return queued;
  });
}

awaitable<Result<std::optional<Event>>> PgEventStore::event_of(RemoteMessageRef ref) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<Event>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("event_of_message", ref.connector, ref.remote_id);
    if (rows.empty() || rows[0][0].is_null()) return std::optional<Event>{};
    auto event = event_from_json(nlohmann::json::parse(rows[0][0].as<std::string>()));
    if (!event) return event.error();
    return std::optional<Event>(std::move(*event));
  });
}

awaitable<Result<std::optional<std::string>>> PgEventStore::reaction_delivered(
    ConversationRef where, std::string who, RemoteMessageRef target, std::string target_connector) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<std::string>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("reaction_part", where.connector, where.remote_id, who,
                                 target.remote_id, target_connector);
    if (rows.empty()) return std::optional<std::string>{};
    return std::optional<std::string>(rows[0][0].as<std::string>());
  });
}

awaitable<Result<std::optional<ConversationRef>>> PgEventStore::conversation_of(
    RemoteMessageRef ref) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<ConversationRef>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("conversation_of_message", ref.connector, ref.remote_id);
    if (rows.empty()) return std::optional<ConversationRef>{};
    return std::optional<ConversationRef>(
        ConversationRef{ref.connector, rows[0][0].as<std::string>()});
  });
}

awaitable<Result<std::map<std::string, std::string>>> PgEventStore::conversations_of(
    std::string connector, std::vector<std::string> ids) {
  if (ids.empty()) co_return std::map<std::string, std::string>{};
  co_return co_await db_.run(
      [&](pqxx::connection& c) -> Result<std::map<std::string, std::string>> {
        pqxx::nontransaction tx(c);
        std::map<std::string, std::string> out;
        for (const auto& r :
             tx.exec_prepared("conversations_of_messages", connector, text_array(ids))) {
          out.emplace(r[0].as<std::string>(), r[1].as<std::string>());
        }
        return out;
      });
}

awaitable<Result<std::int64_t>> PgEventStore::prune_unlinked(std::chrono::seconds age) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::int64_t> {
    pqxx::work tx(c);
    auto r = tx.exec_prepared("prune_unlinked", static_cast<std::int64_t>(age.count()));
    tx.commit();
    return static_cast<std::int64_t>(r.affected_rows());
  });
}

awaitable<Result<std::optional<RemoteMessageRef>>> PgEventStore::newest_of(
    std::vector<RemoteMessageRef> refs) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<RemoteMessageRef>> {
    pqxx::read_transaction tx(c);
    std::optional<RemoteMessageRef> newest;
    std::pair<std::int64_t, std::string>
        newest_order;  // commit time (us), event time (RFC 3339, fixed width)
    for (const auto& ref : refs) {
      auto rows = tx.exec_prepared("message_order", ref.connector, ref.remote_id);
      if (rows.empty()) continue;
      std::pair<std::int64_t, std::string> order{rows[0][0].as<std::int64_t>(),
                                                 rows[0][1].as<std::string>("")};
      if (!newest || order > newest_order) {
        newest = ref;
        newest_order = std::move(order);
      }
    }
    return newest;
  });
}

awaitable<Result<std::optional<RemoteMessageRef>>> PgEventStore::translate(
    RemoteMessageRef ref, std::string target_connector) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<RemoteMessageRef>> {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("translate_ref", ref.connector, ref.remote_id, target_connector);
    if (rows.empty()) {
      rows =
          tx.exec_prepared("translate_to_origin", ref.connector, ref.remote_id, target_connector);
    }
    if (rows.empty()) return std::optional<RemoteMessageRef>{};
    return std::optional<RemoteMessageRef>(
        RemoteMessageRef{rows[0][0].as<std::string>(), rows[0][1].as<std::string>()});
  });
}

awaitable<Status> PgEventStore::replay_dead_letter(std::int64_t id, std::string actor) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto rows = tx.exec_prepared("dead_letter_get", id);
    if (rows.empty()) return Error::not_found("no dead letter with id " + std::to_string(id));
    const auto& r = rows[0];
    if (r[0].as<std::string>() != "outbox" || r[3].is_null()) {
      return Error::conflict("dead letter " + std::to_string(id) +
                             " is an inbound item; it has no delivery to replay");
    }
    const auto connector = r[1].as<std::string>();
    const auto conversation = r[2].as<std::string>();
    auto bridge = tx.exec_prepared("link_bridge_of", connector, conversation);
    if (bridge.empty()) {
      return Error::conflict("conversation " + connector + ":" + conversation +
                             " is no longer linked");
    }
    tx.exec_prepared("outbox_replay", id, bridge[0][0].as<std::int64_t>());
    tx.exec_prepared("dead_letter_delete", id);
    audit(tx, actor, "dead_letter.replay", "dead_letter/" + std::to_string(id),
          {{"connector", connector}, {"conversation", conversation}});
    tx.commit();
    return {};
  });
}

awaitable<Status> PgEventStore::discard_dead_letter(std::int64_t id, std::string actor) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto rows = tx.exec_prepared("dead_letter_get", id);
    if (rows.empty()) return Error::not_found("no dead letter with id " + std::to_string(id));
    tx.exec_prepared("dead_letter_delete", id);
    audit(tx, actor, "dead_letter.discard", "dead_letter/" + std::to_string(id),
          {{"connector", rows[0][1].as<std::string>()},
           {"conversation", rows[0][2].as<std::string>()},
           {"direction", rows[0][0].as<std::string>() == "inbound" ? "inbound" : "delivery"}});
    tx.commit();
    return {};
  });
}

awaitable<Result<std::int64_t>> PgEventStore::outbox_depth() {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::int64_t> {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared1("outbox_depth")[0].as<std::int64_t>();
  });
}

awaitable<Result<std::vector<DeadLetter>>> PgEventStore::dead_letters(std::int64_t after,
                                                                      int limit) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::vector<DeadLetter>> {
    pqxx::nontransaction tx(c);
    std::vector<DeadLetter> out;
    for (const auto& r : tx.exec_prepared("dead_letter_list", after, limit)) {
      out.push_back({r[0].as<std::int64_t>(),
                     r[1].as<std::string>(),
                     {r[2].as<std::string>(), r[3].as<std::string>()},
                     r[4].as<std::string>(),
                     r[5].as<int>(),
                     from_ms(r[6].as<std::int64_t>()),
                     r[7].as<std::string>() == "inbound" ? "inbound" : "delivery"});
    }
    return out;
  });
}

// ---------------------------------------------------------------- checkpoints

awaitable<Result<std::optional<Checkpoint>>> PgCheckpointStore::load(std::string connector,
                                                                     std::string source) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Result<std::optional<Checkpoint>> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("checkpoint_get", connector, source);
    if (rows.empty()) return std::optional<Checkpoint>{};
    return std::optional<Checkpoint>(
        Checkpoint{rows[0][0].as<std::uint64_t>(), rows[0][1].as<std::uint64_t>()});
  });
}

awaitable<Status> PgCheckpointStore::save(std::string connector, std::string source,
                                          Checkpoint checkpoint) {
  co_return co_await db_.run([&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_prepared("checkpoint_put", connector, source,
                     static_cast<std::int64_t>(checkpoint.uidvalidity),
                     static_cast<std::int64_t>(checkpoint.last_uid));
    tx.commit();
    return {};
  });
}

}  // namespace coibridge::core::pg
