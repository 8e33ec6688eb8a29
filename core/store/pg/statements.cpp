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
    {"bridge_insert",
     "INSERT INTO bridges (name) VALUES ($1) RETURNING id, name, " MS("created_at") ", " MS("updated_at")},
    {"bridge_list",
     "SELECT id, name, " MS("created_at") ", " MS("updated_at")
     " FROM bridges WHERE id > $1 ORDER BY id LIMIT $2"},
    {"bridge_get", "SELECT id, name, " MS("created_at") ", " MS("updated_at") " FROM bridges WHERE id = $1"},
    {"bridge_rename",
     "UPDATE bridges SET name = $2, updated_at = now() WHERE id = $1"
     " RETURNING id, name, " MS("created_at") ", " MS("updated_at")},
    {"bridge_delete", "DELETE FROM bridges WHERE id = $1"},
    {"bridge_outbox_to_dead",
     "WITH moved AS (DELETE FROM outbox WHERE bridge_id = $1 RETURNING *)"
     " INSERT INTO dead_letters (event_id, source, connector, conversation, event, reason, attempts)"
     " SELECT event_id, 'outbox', target_connector, target_conversation, event, $2, attempts FROM moved"},
    {"link_insert",
     "INSERT INTO links (bridge_id, connector, remote_id, options) VALUES ($1, $2, $3, $4::jsonb)"
     " RETURNING id, bridge_id, connector, remote_id, options::text, " MS("created_at")},
    {"link_list",
     "SELECT id, bridge_id, connector, remote_id, options::text, " MS("created_at")
     " FROM links WHERE bridge_id = $1 ORDER BY id"},
    {"link_delete",
     "DELETE FROM links WHERE bridge_id = $1 AND id = $2 RETURNING connector, remote_id"},
    {"link_outbox_to_dead",
     "WITH moved AS (DELETE FROM outbox WHERE target_connector = $1 AND target_conversation = $2"
     " RETURNING *)"
     " INSERT INTO dead_letters (event_id, source, connector, conversation, event, reason, attempts)"
     " SELECT event_id, 'outbox', target_connector, target_conversation, event, $3, attempts FROM moved"},
    {"link_bridge_of", "SELECT bridge_id FROM links WHERE connector = $1 AND remote_id = $2"},
    {"audit_insert", "INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4::jsonb)"},

    // --- publish
    // Whether an origin was published already (its event id) and whether it is one of our
    // own deliveries: one round trip per published event.
    {"origin_status",
     "SELECT (SELECT event_id::text FROM messages WHERE origin_connector = $1 AND origin_remote_id = $2),"
     " EXISTS (SELECT 1 FROM message_parts WHERE connector = $1 AND remote_id = $2)"},
    {"message_insert",
     "INSERT INTO messages (event_id, bridge_id, origin_connector, origin_remote_id,"
     " origin_conversation, kind, event) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::jsonb)"
     " ON CONFLICT (origin_connector, origin_remote_id) DO NOTHING RETURNING event_id"},
    {"outbox_insert",
     "INSERT INTO outbox (event_id, bridge_id, target_connector, target_conversation, event)"
     " VALUES ($1::uuid, $2, $3, $4, $5::jsonb)"},

    // --- delivery
    {"outbox_heads",
     "SELECT DISTINCT ON (target_connector, target_conversation) target_connector,"
     " target_conversation, " MS("next_attempt_at")
     " FROM outbox ORDER BY target_connector, target_conversation, id"},
    {"outbox_queue_of",
     "SELECT id, event::text, attempts, " MS("next_attempt_at") ", last_error FROM outbox"
     " WHERE target_connector = $1 AND target_conversation = $2 ORDER BY id LIMIT $3"},
    {"outbox_delete", "DELETE FROM outbox WHERE id = $1"},
    {"part_insert",
     "INSERT INTO message_parts (event_id, connector, conversation, remote_id)"
     " VALUES ($1::uuid, $2, $3, $4) ON CONFLICT DO NOTHING"},
    {"outbox_failed",
     "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
     " next_attempt_at = to_timestamp($3::bigint / 1000.0) WHERE id = $1"},
    {"outbox_to_dead",
     "WITH moved AS (DELETE FROM outbox WHERE id = $1 RETURNING *)"
     " INSERT INTO dead_letters (event_id, source, connector, conversation, event, reason, attempts)"
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
     " UNION ALL SELECT event_id FROM message_parts WHERE connector = $1 AND remote_id = $2 LIMIT 1)"
     " LIMIT 1"},
    {"translate_to_origin",
     "SELECT m.origin_connector, m.origin_remote_id FROM message_parts p"
     " JOIN messages m ON m.event_id = p.event_id"
     " WHERE p.connector = $1 AND p.remote_id = $2 AND m.origin_connector = $3 LIMIT 1"},
    {"outbox_depth", "SELECT count(*) FROM outbox"},
    {"event_by_origin", "SELECT event::text FROM messages WHERE origin_connector = $1 AND origin_remote_id = $2"},
    // The newest reaction a person added to a message, as delivered to one connector.
    {"reaction_part",
     "SELECT p.remote_id FROM messages m JOIN message_parts p ON p.event_id = m.event_id AND p.connector = $5"
     " WHERE m.kind = 'reaction.changed' AND m.origin_connector = $1 AND m.origin_conversation = $2"
     " AND m.event->'who'->>'remote_id' = $3 AND m.event->'payload'->'target'->>'remote_id' = $4"
     " AND (m.event->'payload'->>'added')::boolean AND p.remote_id <> ''"
     " ORDER BY m.created_at DESC LIMIT 1"},
    {"conversation_of_message",
     "SELECT origin_conversation FROM messages WHERE origin_connector = $1 AND origin_remote_id = $2"
     " UNION ALL SELECT conversation FROM message_parts WHERE connector = $1 AND remote_id = $2 LIMIT 1"},
    // When the event of a message (published from, or delivered to, the network) was
    // committed, and its event time; for ordering messages.
    {"message_order",
     "SELECT (extract(epoch FROM m.created_at) * 1000000)::bigint, m.event->>'at' FROM messages m"
     " WHERE m.event_id = (SELECT event_id FROM message_parts WHERE connector = $1 AND remote_id = $2"
     " UNION ALL SELECT event_id FROM messages WHERE origin_connector = $1 AND origin_remote_id = $2 LIMIT 1)"},
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
     "SELECT source, connector, conversation, event::text FROM dead_letters WHERE id = $1 FOR UPDATE"},
    {"dead_letter_delete", "DELETE FROM dead_letters WHERE id = $1"},
    // A replayed delivery queues behind what is pending now; if the same delivery is queued
    // already, nothing is added.
    {"outbox_replay",
     "INSERT INTO outbox (event_id, bridge_id, target_connector, target_conversation, event)"
     " SELECT event_id, $2, connector, conversation, event FROM dead_letters WHERE id = $1"
     " ON CONFLICT (event_id, target_connector, target_conversation) DO NOTHING"},
    // --- connectors' per-conversation state
    {"conversation_state_get", "SELECT state::text FROM conversation_state WHERE connector = $1 AND conversation = $2"},
    {"conversation_state_put",
     "INSERT INTO conversation_state (connector, conversation, state) VALUES ($1, $2, $3::jsonb)"
     " ON CONFLICT (connector, conversation) DO UPDATE SET state = EXCLUDED.state, updated_at = now()"},
    // --- inbound batches already processed
    {"inbound_seen", "SELECT 1 FROM seen_inbound WHERE connector = $1 AND key = $2 AND expires_at > now()"},
    {"inbound_remember",
     "INSERT INTO seen_inbound (connector, key, expires_at)"
     " VALUES ($1, $2, now() + make_interval(secs => $3::bigint))"
     " ON CONFLICT (connector, key) DO UPDATE SET expires_at = EXCLUDED.expires_at"},
    {"inbound_expire", "DELETE FROM seen_inbound WHERE expires_at < now()"},
    // --- blobs (attachment bytes in transit)
    {"blob_put",
     "INSERT INTO blobs (key, content_type, size, data) VALUES ($1, $2, $3, $4)"
     " ON CONFLICT (key) DO NOTHING"},
    {"blob_get", "SELECT content_type, data FROM blobs WHERE key = $1"},
    // A blob stays while a pending or dead-lettered delivery names it (a replay needs it).
    {"blob_purge",
     "DELETE FROM blobs b WHERE b.created_at < now() - make_interval(secs => $1::bigint)"
     " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE strpos(o.event::text, b.key) > 0)"
     " AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE strpos(coalesce(d.event::text, ''), b.key) > 0)"},
    {"dead_letter_list",
     "SELECT id, coalesce(event_id::text, ''), connector, conversation, reason, attempts, "
     MS("created_at") " FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2"},
};

#undef MS

}  // namespace

void prepare_statements(pqxx::connection& conn) {
  for (const auto& s : kStatements) conn.prepare(s.name, s.sql);
}

}  // namespace coibridge::core::pg
