-- What a connector knows about one of its conversations beyond the events: the member list
-- and name of a mail group (mail has no server-side groups; the member list travels in each
-- mail's To), the thread root of an ad-hoc group. Opaque JSON owned by the connector.
CREATE TABLE conversation_state (
  connector     text NOT NULL,
  conversation  text NOT NULL,
  state         jsonb NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector, conversation)
);
