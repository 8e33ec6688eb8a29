-- Message ids are looked up by (connector, remote_id) whatever their kind: reply and edit
-- targets are translated, and echoes of our own deliveries recognised, for every message.
-- The unique key (connector, id_kind, remote_id) cannot serve that without id_kind.
CREATE INDEX message_parts_lookup_idx ON message_parts (connector, remote_id);
