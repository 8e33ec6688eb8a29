-- The whole event of each published message, so a later event can be understood in terms
-- of an earlier one: a Matrix redaction withdraws a reaction or deletes a message depending
-- on what the redacted event was, and withdrawing a reaction on Matrix needs the event that
-- carried it there.
ALTER TABLE messages ADD COLUMN event jsonb;
CREATE INDEX messages_reactions_idx ON messages (origin_connector, origin_conversation) WHERE kind = 'reaction.changed';
