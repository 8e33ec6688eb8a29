#include "core/store/pg/statements.hpp"

namespace coibridge::core::pg {
namespace {

struct Statement {
  const char* name;
  const char* sql;
};

// Timestamps cross the boundary as milliseconds since the epoch (bigint), so no time-zone or
// text parsing is involved on either side.
#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

constexpr Statement kStatements[] = {
    // --- bridges and links (admin API)
    {"bridge_insert", "INSERT INTO bridges (name) VALUES ($1) RETURNING id, name, " MS(
                          "created_at") ", " MS("updated_at")},
    {"bridge_list", "SELECT id, name, " MS("created_at") ", " MS(
                        "updated_at") " FROM bridges WHERE id > $1 ORDER BY id LIMIT $2"},
    {"bridge_get",
     "SELECT id, name, " MS("created_at") ", " MS("updated_at") " FROM bridges WHERE id = $1"},
    {"bridge_rename",
     "UPDATE bridges SET name = $2, updated_at = now() WHERE id = $1"
     " RETURNING id, name, " MS("created_at") ", " MS("updated_at")},
    {"bridge_delete", "DELETE FROM bridges WHERE id = $1"},
    {"bridge_outbox_to_dead",
     "WITH moved AS (DELETE FROM outbox WHERE bridge_id = $1 RETURNING *)"
     " INSERT INTO dead_letters (event_id, source, connector, conversation, event, reason, "
     "attempts)"
     " SELECT event_id, 'outbox', target_connector, target_conversation, event, $2, attempts FROM "
     "moved"},
    // A merged conversation is linked as its survivor.
    {"link_insert",
     "INSERT INTO links (bridge_id, connector, remote_id, options) VALUES ($1, $2,"
     " coalesce((SELECT merged_into FROM conversations WHERE connector = $2 AND remote_id = $3), "
     "$3), $4::jsonb)"
     " RETURNING id, bridge_id, connector, remote_id, options::text, " MS("created_at")},
    {"link_list", "SELECT id, bridge_id, connector, remote_id, options::text, " MS(
                      "created_at") " FROM links WHERE bridge_id = $1 ORDER BY id"},
    {"link_delete",
     "DELETE FROM links WHERE bridge_id = $1 AND id = $2 RETURNING connector, remote_id"},
    {"link_outbox_to_dead",
     "WITH moved AS (DELETE FROM outbox WHERE target_connector = $1 AND target_conversation = $2"
     " RETURNING *)"
     " INSERT INTO dead_letters (event_id, source, connector, conversation, event, reason, "
     "attempts)"
     " SELECT event_id, 'outbox', target_connector, target_conversation, event, $3, attempts FROM "
     "moved"},
    {"link_bridge_of", "SELECT bridge_id FROM links WHERE connector = $1 AND remote_id = $2"},
    {"audit_insert",
     "INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4::jsonb)"},

    // --- publish
    // Whether an origin was published already (its event id) and whether it is one of our
    // own deliveries: one round trip per published event.
    {"origin_status",
     "SELECT (SELECT event_id::text FROM messages WHERE origin_connector = $1 AND origin_remote_id "
     "= $2),"
     " EXISTS (SELECT 1 FROM message_parts WHERE connector = $1 AND remote_id = $2)"},
    {"message_insert",
     "INSERT INTO messages (event_id, bridge_id, origin_connector, origin_remote_id,"
     " origin_conversation, kind, event) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::jsonb)"
     " ON CONFLICT (origin_connector, origin_remote_id) DO NOTHING RETURNING event_id"},
    // An event of a conversation linked to nothing: kept without outbox rows, so that its
    // origin deduplicates and says which conversation it belongs to.
    {"message_insert_unlinked",
     "INSERT INTO messages (event_id, bridge_id, origin_connector, origin_remote_id,"
     " origin_conversation, kind, event) VALUES ($1::uuid, NULL, $2, $3, $4, $5, $6::jsonb)"
     " ON CONFLICT (origin_connector, origin_remote_id) DO NOTHING RETURNING event_id"},
    // Called once per conversation of a batch, in key order (concurrent batches lock the
    // rows in the same order).
    {"conversation_count",
     "INSERT INTO conversations (connector, remote_id, messages, unlinked_events) VALUES ($1, $2, "
     "$3, $4)"
     " ON CONFLICT (connector, remote_id) DO UPDATE SET messages = conversations.messages + "
     "EXCLUDED.messages,"
     " unlinked_events = conversations.unlinked_events + EXCLUDED.unlinked_events, last_activity = "
     "now()"},
    {"outbox_insert",
     "INSERT INTO outbox (event_id, bridge_id, target_connector, target_conversation, event)"
     " VALUES ($1::uuid, $2, $3, $4, $5::jsonb)"},

    // --- delivery
    {"outbox_heads",
     "SELECT DISTINCT ON (target_connector, target_conversation) target_connector,"
     " target_conversation, " MS(
         "next_attempt_at") " FROM outbox ORDER BY target_connector, target_conversation, id"},
    {"outbox_queue_of", "SELECT id, event::text, attempts, " MS(
                            "next_attempt_at") ", last_error FROM outbox"
                                               " WHERE target_connector = $1 AND "
                                               "target_conversation = $2 ORDER BY id LIMIT $3"},
    {"outbox_delete", "DELETE FROM outbox WHERE id = $1"},
    {"part_insert",
     "INSERT INTO message_parts (event_id, connector, conversation, remote_id)"
     " VALUES ($1::uuid, $2, $3, $4) ON CONFLICT DO NOTHING"},
    {"outbox_failed",
     "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
     " next_attempt_at = to_timestamp($3::bigint / 1000.0) WHERE id = $1"},
    {"outbox_waiting",
     "UPDATE outbox SET last_error = $2, next_attempt_at = to_timestamp($3::bigint / 1000.0)"
     " WHERE id = $1"},
    {"outbox_to_dead",
     "WITH moved AS (DELETE FROM outbox WHERE id = $1 RETURNING *)"
     " INSERT INTO dead_letters (event_id, source, connector, conversation, event, reason, "
     "attempts)"
     " SELECT event_id, 'outbox', target_connector, target_conversation, event, $2, attempts + 1"
     " FROM moved"},
    {"inbound_to_dead",
     "INSERT INTO dead_letters (source, connector, conversation, event, reason)"
     " VALUES ('inbound', $1, '', $2::jsonb, $3)"},
    // Two index lookups for the event (by origin, or by one of its delivered parts), then its
    // part on the target connector by primary key. An OR across a join would scan both
    // tables, and so may a join's generic plan once the statement has run a few times: the
    // event id is a scalar subquery so that every plan is an index lookup.
    {"translate_ref",
     "SELECT p.connector, p.remote_id FROM message_parts p WHERE p.connector = $3 AND p.event_id ="
     " (SELECT event_id FROM messages WHERE origin_connector = $1 AND origin_remote_id = $2"
     " UNION ALL SELECT event_id FROM message_parts WHERE connector = $1 AND remote_id = $2 LIMIT "
     "1)"
     " LIMIT 1"},
    {"translate_to_origin",
     "SELECT m.origin_connector, m.origin_remote_id FROM message_parts p"
     " JOIN messages m ON m.event_id = p.event_id"
     " WHERE p.connector = $1 AND p.remote_id = $2 AND m.origin_connector = $3 LIMIT 1"},
    {"outbox_depth", "SELECT count(*) FROM outbox"},
    {"event_by_origin",
     "SELECT event::text FROM messages WHERE origin_connector = $1 AND origin_remote_id = $2"},
    // Of the newest `$2` posted messages of each conversation of bridge $1, those kept while
    // it was linked to nothing, oldest first; with the linked conversation they belong to.
    // Older ones are never taken once newer ones crossed: history arrives in order or not.
    // By the time each was written (`at`, RFC 3339 in UTC with milliseconds, so the text
    // sorts as the time), then by when it was read: a mail server delivers in its own order.
    {"backfill_candidates",
     "SELECT event_id::text, event::text, remote_id FROM ("
     " SELECT m.event_id, m.event, m.bridge_id, m.created_at, l.remote_id, m.event->>'at' AS at,"
     "  row_number() OVER ("
     "  PARTITION BY l.id ORDER BY m.event->>'at' DESC, m.created_at DESC, m.event_id DESC) AS "
     "newest"
     " FROM links l JOIN messages m ON m.origin_connector = l.connector"
     "  AND (m.origin_conversation = l.remote_id OR m.origin_conversation IN ("
     "   SELECT remote_id FROM conversations WHERE connector = l.connector AND merged_into = "
     "l.remote_id))"
     " WHERE l.bridge_id = $1 AND m.kind = 'message.posted' AND m.event IS NOT NULL) candidates"
     " WHERE newest <= $2 AND bridge_id IS NULL ORDER BY at, created_at, event_id"},
    {"message_join_bridge",
     "UPDATE messages SET bridge_id = $2 WHERE event_id = $1::uuid AND bridge_id IS NULL"},
    {"event_of_message",
     "SELECT event::text FROM messages WHERE origin_connector = $1 AND origin_remote_id = $2"
     " UNION ALL SELECT m.event::text FROM message_parts p JOIN messages m ON m.event_id = "
     "p.event_id"
     " WHERE p.connector = $1 AND p.remote_id = $2 LIMIT 1"},
    // The newest reaction a person added to a message, as delivered to one connector.
    {"reaction_part",
     "SELECT p.remote_id FROM messages m JOIN message_parts p ON p.event_id = m.event_id AND "
     "p.connector = $5"
     " WHERE m.kind = 'reaction.changed' AND m.origin_connector = $1 AND m.origin_conversation = $2"
     " AND m.event->'who'->>'remote_id' = $3 AND m.event->'payload'->'target'->>'remote_id' = $4"
     " AND (m.event->'payload'->>'added')::boolean AND p.remote_id <> ''"
     " ORDER BY m.created_at DESC LIMIT 1"},
    // A merged conversation resolves to its survivor.
    {"conversation_of_message",
     "SELECT coalesce(c.merged_into, x.conversation) FROM"
     " (SELECT origin_conversation AS conversation FROM messages WHERE origin_connector = $1 AND "
     "origin_remote_id = $2"
     "  UNION ALL SELECT conversation FROM message_parts WHERE connector = $1 AND remote_id = $2 "
     "LIMIT 1) x"
     " LEFT JOIN conversations c ON c.connector = $1 AND c.remote_id = x.conversation"},
    // $2 is a text[] literal of message ids.
    {"conversations_of_messages",
     "SELECT x.id, coalesce(c.merged_into, x.conversation) FROM"
     " (SELECT origin_remote_id, origin_conversation FROM messages"
     "   WHERE origin_connector = $1 AND origin_remote_id = ANY($2::text[])"
     "  UNION ALL SELECT remote_id, conversation FROM message_parts"
     "   WHERE connector = $1 AND remote_id = ANY($2::text[])) x(id, conversation)"
     " LEFT JOIN conversations c ON c.connector = $1 AND c.remote_id = x.conversation"},
    {"prune_unlinked",
     "DELETE FROM messages WHERE bridge_id IS NULL"
     " AND created_at < now() - make_interval(secs => $1::bigint)"},
    // When the event of a message (published from, or delivered to, the network) was
    // committed, and its event time; for ordering messages.
    {"message_order",
     "SELECT (extract(epoch FROM m.created_at) * 1000000)::bigint, m.event->>'at' FROM messages m"
     " WHERE m.event_id = (SELECT event_id FROM message_parts WHERE connector = $1 AND remote_id = "
     "$2"
     " UNION ALL SELECT event_id FROM messages WHERE origin_connector = $1 AND origin_remote_id = "
     "$2 LIMIT 1)"},
    {"checkpoint_get",
     "SELECT uidvalidity, last_uid FROM checkpoints WHERE connector = $1 AND source = $2"},
    // Within one uidvalidity the checkpoint only moves forward (two readers racing cannot
    // rewind it); a changed uidvalidity starts the mailbox over.
    {"checkpoint_put",
     "INSERT INTO checkpoints (connector, source, uidvalidity, last_uid) VALUES ($1, $2, $3, $4)"
     " ON CONFLICT (connector, source) DO UPDATE SET"
     " last_uid = CASE WHEN checkpoints.uidvalidity = EXCLUDED.uidvalidity"
     "   THEN greatest(checkpoints.last_uid, EXCLUDED.last_uid) ELSE EXCLUDED.last_uid END,"
     " uidvalidity = EXCLUDED.uidvalidity, updated_at = now()"},
    {"dead_letter_get",
     "SELECT source, connector, conversation, event::text FROM dead_letters WHERE id = $1 FOR "
     "UPDATE"},
    {"dead_letter_delete", "DELETE FROM dead_letters WHERE id = $1"},
    // A replayed delivery queues behind what is pending now; if the same delivery is queued
    // already, nothing is added.
    {"outbox_replay",
     "INSERT INTO outbox (event_id, bridge_id, target_connector, target_conversation, event)"
     " SELECT event_id, $2, connector, conversation, event FROM dead_letters WHERE id = $1"
     " ON CONFLICT (event_id, target_connector, target_conversation) DO NOTHING"},
    // --- connectors' per-conversation state
    {"conversation_state_get",
     "SELECT state::text FROM conversation_state WHERE connector = $1 AND conversation = $2"},
    {"conversation_state_put",
     "INSERT INTO conversation_state (connector, conversation, state) VALUES ($1, $2, $3::jsonb)"
     " ON CONFLICT (connector, conversation) DO UPDATE SET state = EXCLUDED.state, updated_at = "
     "now()"},
    // --- the conversation directory
    {"conversation_describe",
     "INSERT INTO conversations (connector, remote_id, kind, title, members, match_key)"
     " VALUES ($1, $2, $3, $4, $5::jsonb, nullif($6, ''))"
     " ON CONFLICT (connector, remote_id) DO UPDATE SET kind = EXCLUDED.kind, title = "
     "EXCLUDED.title,"
     " members = EXCLUDED.members,"
     " match_key = CASE WHEN conversations.merged_into IS NULL THEN EXCLUDED.match_key END"},
    {"conversation_info",
     "SELECT kind, title, members::text, match_key FROM conversations"
     " WHERE connector = $1 AND remote_id = $2"},
    {"conversation_by_key",
     "SELECT remote_id FROM conversations WHERE connector = $1 AND match_key = $2 AND merged_into "
     "IS NULL"
     " ORDER BY first_seen, id LIMIT 20"},
    {"conversation_list",
     "SELECT c.id, c.connector, c.remote_id, c.kind, c.title, c.members::text, c.messages, "
     "c.unlinked_events,"
     " l.bridge_id, " MS("c.first_seen") ", " MS(
         "c.last_activity") " FROM conversations c LEFT JOIN links l ON l.connector = c.connector "
                            "AND l.remote_id = c.remote_id"
                            " WHERE c.merged_into IS NULL AND c.id > $1 AND ($2 = '' OR "
                            "c.connector = $2)"
                            " AND ($3 = '' OR (l.id IS NOT NULL) = ($3 = 'true'))"
                            " AND ($4 = '' OR strpos(lower(c.title || ' ' || c.remote_id), "
                            "lower($4)) > 0)"
                            " AND (NOT $6::boolean OR c.unlinked_events > 0)"
                            " ORDER BY c.id LIMIT $5"},
    // --- merging two conversations that are one (ConversationStateStore::merge)
    {"conversation_survivor_of",
     "SELECT coalesce((SELECT merged_into FROM conversations WHERE connector = $1 AND remote_id = "
     "$2), $2)"},
    {"conversation_ensure",
     "INSERT INTO conversations (connector, remote_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"},
    // In key order, as a publish locks them (conversation_count).
    {"conversation_lock", "SELECT c.remote_id, l.bridge_id, " MS(
                              "c.first_seen") ", c.id FROM conversations c"
                                              " LEFT JOIN links l ON l.connector = c.connector AND "
                                              "l.remote_id = c.remote_id"
                                              " WHERE c.connector = $1 AND c.remote_id IN ($2, $3) "
                                              "ORDER BY c.remote_id FOR UPDATE OF c"},
    {"conversation_absorb",
     "UPDATE conversations s SET messages = s.messages + m.messages,"
     " unlinked_events = s.unlinked_events + m.unlinked_events, first_seen = least(s.first_seen, "
     "m.first_seen),"
     " last_activity = greatest(s.last_activity, m.last_activity)"
     " FROM conversations m WHERE s.connector = $1 AND s.remote_id = $2 AND m.connector = $1 AND "
     "m.remote_id = $3"},
    {"conversation_alias",
     "UPDATE conversations SET merged_into = $2, match_key = NULL, messages = 0, unlinked_events = "
     "0"
     " WHERE connector = $1 AND (remote_id = $3 OR merged_into = $3)"},
    {"merge_link_delete", "DELETE FROM links WHERE connector = $1 AND remote_id = $2"},
    // Deliveries queued for the merged conversation join the survivor's queue, except those
    // queued there already.
    {"merge_outbox_drop",
     "DELETE FROM outbox o WHERE o.target_connector = $1 AND o.target_conversation = $3 AND EXISTS"
     " (SELECT 1 FROM outbox s WHERE s.event_id = o.event_id AND s.target_connector = $1"
     "  AND s.target_conversation = $2)"},
    {"merge_outbox_move",
     "UPDATE outbox SET target_conversation = $2 WHERE target_connector = $1 AND "
     "target_conversation = $3"},
    // --- inbound batches already processed
    {"inbound_seen",
     "SELECT 1 FROM seen_inbound WHERE connector = $1 AND key = $2 AND expires_at > now()"},
    {"inbound_remember",
     "INSERT INTO seen_inbound (connector, key, expires_at)"
     " VALUES ($1, $2, now() + make_interval(secs => $3::bigint))"
     " ON CONFLICT (connector, key) DO UPDATE SET expires_at = EXCLUDED.expires_at"},
    {"inbound_expire", "DELETE FROM seen_inbound WHERE expires_at < now()"},
    {"puppet_profiles", "SELECT puppet_id, profile FROM puppets WHERE connector = $1"},
    {"puppet_memberships",
     "SELECT puppet_id, conversation FROM puppet_memberships WHERE connector = $1"
     " ORDER BY joined_at, puppet_id, conversation"},
    {"puppet_profile_put",
     "INSERT INTO puppets (connector, puppet_id, profile) VALUES ($1, $2, $3)"
     " ON CONFLICT (connector, puppet_id)"
     " DO UPDATE SET profile = EXCLUDED.profile, updated_at = now()"},
    {"puppet_join",
     "INSERT INTO puppet_memberships (connector, puppet_id, conversation) VALUES ($1, $2, $3)"
     " ON CONFLICT DO NOTHING"},
    {"puppet_leave",
     "DELETE FROM puppet_memberships WHERE connector = $1 AND puppet_id = $2"
     " AND conversation = $3"},
    // --- blobs (attachment bytes in transit)
    {"blob_put",
     "INSERT INTO blobs (key, content_type, size, data) VALUES ($1, $2, $3, $4)"
     " ON CONFLICT (key) DO NOTHING"},
    {"blob_get", "SELECT content_type, data FROM blobs WHERE key = $1"},
    // A blob stays while a pending or dead-lettered delivery names it (a replay needs it).
    {"blob_purge",
     "DELETE FROM blobs b WHERE b.created_at < now() - make_interval(secs => $1::bigint)"
     " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE strpos(o.event::text, b.key) > 0)"
     " AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE strpos(coalesce(d.event::text, ''), "
     "b.key) > 0)"},
    {"dead_letter_list",
     "SELECT id, coalesce(event_id::text, ''), connector, conversation, reason, attempts, " MS(
         "created_at") ", source FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2"},
};

#undef MS

}  // namespace

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char ch : v) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

void prepare_statements(pqxx::connection& conn) {
  for (const auto& s : kStatements) conn.prepare(s.name, s.sql);
}

}  // namespace coibridge::core::pg
