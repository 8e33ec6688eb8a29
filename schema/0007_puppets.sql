-- The puppets a connector keeps for people of other networks (Matrix ghosts): what it last set
-- their profile to, and the conversations they are in, so that after a restart it neither
-- redoes that work nor forgets a conversation only a puppet is in (a direct chat whose
-- history is read again after missed pushes). The first schema's identities and puppets
-- tables were never written; they give way to these.
DROP TABLE puppets;
DROP TABLE identities;

--   connector: the instance that keeps the puppet; puppet_id: its id there (a Matrix user id).
--   profile: what the connector last made the puppet show (name and picture), in its words.
CREATE TABLE puppets (
  connector   text NOT NULL,
  puppet_id   text NOT NULL,
  profile     text NOT NULL DEFAULT '',
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector, puppet_id)
);

CREATE TABLE puppet_memberships (
  connector     text NOT NULL,
  puppet_id     text NOT NULL,
  conversation  text NOT NULL,
  joined_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector, puppet_id, conversation)
);
