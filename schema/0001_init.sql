-- coi-bridge schema, version 1. Applied once by the migrator; never edited after release:
-- later changes are new numbered files.

-- A bridge is a named set of linked conversations; a message in one is relayed to the others.
CREATE TABLE bridges (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A conversation on one network, linked into a bridge. One conversation is in at most one
-- bridge, so routing an inbound event is a single lookup.
CREATE TABLE links (
  id          bigserial PRIMARY KEY,
  bridge_id   bigint NOT NULL REFERENCES bridges(id) ON DELETE CASCADE,
  connector   text NOT NULL,
  remote_id   text NOT NULL,
  options     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (connector, remote_id)
);
CREATE INDEX links_bridge_idx ON links (bridge_id);

-- A person as known on one network.
CREATE TABLE identities (
  id            bigserial PRIMARY KEY,
  connector     text NOT NULL,
  remote_id     text NOT NULL,
  display_name  text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (connector, remote_id)
);

-- How an identity appears on another network: a mail address, a Matrix ghost, an XMPP JID.
CREATE TABLE puppets (
  id           bigserial PRIMARY KEY,
  identity_id  bigint NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  connector    text NOT NULL,
  puppet_id    text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (connector, puppet_id),
  UNIQUE (identity_id, connector)
);

-- One row per published event. (origin_connector, origin_remote_id) is the inbound dedupe
-- key: the same mail, Matrix event or Slack message published twice is one event.
CREATE TABLE messages (
  event_id             uuid PRIMARY KEY,
  bridge_id            bigint REFERENCES bridges(id) ON DELETE SET NULL,
  origin_connector     text NOT NULL,
  origin_remote_id     text NOT NULL,
  origin_conversation  text NOT NULL,
  kind                 text NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (origin_connector, origin_remote_id)
);

-- The ids an event got on each network it was delivered to. A message can have several
-- kinds of id on one network (Message-ID; event_id; stanza id and stanza-id; Slack ts).
CREATE TABLE message_parts (
  event_id      uuid NOT NULL REFERENCES messages(event_id) ON DELETE CASCADE,
  connector     text NOT NULL,
  conversation  text NOT NULL,
  id_kind       text NOT NULL DEFAULT 'primary',
  remote_id     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, connector, conversation, id_kind),
  UNIQUE (connector, id_kind, remote_id)
);

-- Deliveries not yet done. One ordered queue per target conversation: the row with the
-- lowest id of a (target_connector, target_conversation) is that queue's head.
CREATE TABLE outbox (
  id                   bigserial PRIMARY KEY,
  event_id             uuid NOT NULL REFERENCES messages(event_id) ON DELETE CASCADE,
  bridge_id            bigint,
  target_connector     text NOT NULL,
  target_conversation  text NOT NULL,
  event                jsonb NOT NULL,
  attempts             integer NOT NULL DEFAULT 0,
  next_attempt_at      timestamptz NOT NULL DEFAULT now(),
  last_error           text NOT NULL DEFAULT '',
  created_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, target_connector, target_conversation)
);
CREATE INDEX outbox_queue_idx ON outbox (target_connector, target_conversation, id);

-- Deliveries given up on, and inbound items that could not be parsed or mapped, with the
-- reason; visible through the admin API.
CREATE TABLE dead_letters (
  id                   bigserial PRIMARY KEY,
  event_id             uuid,
  source               text NOT NULL CHECK (source IN ('outbox', 'inbound')),
  connector            text NOT NULL,
  conversation         text NOT NULL DEFAULT '',
  event                jsonb,
  reason               text NOT NULL,
  attempts             integer NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- Where each mailbox (or other pull-based source) has been read up to.
CREATE TABLE checkpoints (
  connector    text NOT NULL,
  source       text NOT NULL,
  uidvalidity  bigint NOT NULL DEFAULT 0,
  last_uid     bigint NOT NULL DEFAULT 0,
  state        jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector, source)
);

-- Push-based inbound batches already processed (Matrix transaction ids, Slack event ids),
-- so a redelivered batch is answered at once and not processed again.
CREATE TABLE seen_inbound (
  connector   text NOT NULL,
  key         text NOT NULL,
  seen_at     timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (connector, key)
);
CREATE INDEX seen_inbound_expiry_idx ON seen_inbound (expires_at);

-- Who changed which mapping, and when.
CREATE TABLE audit_log (
  id       bigserial PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text NOT NULL,
  action   text NOT NULL,
  target   text NOT NULL,
  details  jsonb NOT NULL DEFAULT '{}'::jsonb
);
