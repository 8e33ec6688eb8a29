-- Every conversation the bridge has seen on each network, linked or not, so that an admin can
-- find a conversation's id (GET /api/v1/conversations) and see what found no link.
--   kind, title, members: what the connector reported (a mail group's name and member list).
--   match_key: a connector-defined key for finding a conversation by what it is rather than by
--     its id (a Delta Chat ad-hoc group is its name and its exact member set).
--   messages: chat messages published from it; unlinked_events: events that found no link.
--   merged_into: this conversation turned out to be that one (two mail threads of one group);
--     it keeps resolving there. Always the final survivor: merges re-point older aliases.
CREATE TABLE conversations (
  id               bigserial PRIMARY KEY,
  connector        text NOT NULL,
  remote_id        text NOT NULL,
  kind             text NOT NULL DEFAULT '',
  title            text NOT NULL DEFAULT '',
  members          jsonb NOT NULL DEFAULT '[]'::jsonb,
  match_key        text,
  messages         bigint NOT NULL DEFAULT 0,
  unlinked_events  bigint NOT NULL DEFAULT 0,
  merged_into      text,
  first_seen       timestamptz NOT NULL DEFAULT now(),
  last_activity    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (connector, remote_id)
);
CREATE INDEX conversations_match_idx ON conversations (connector, match_key)
  WHERE match_key IS NOT NULL AND merged_into IS NULL;

-- Events of conversations that are linked to nothing are kept in messages with bridge_id NULL:
-- their origin ids still deduplicate and still say which conversation a message belongs to (a
-- mail answering into a group names earlier mails only). Pruned by age.
CREATE INDEX messages_unlinked_idx ON messages (created_at) WHERE bridge_id IS NULL;
