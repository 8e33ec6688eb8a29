-- Attachment bytes between receiving them on one network and delivering them to the others.
-- Content-addressed: the key is the SHA-256 of the bytes, so the same file received twice
-- (a redelivered mail, a retried publish) is stored once. Rows are purged after the
-- retention period once no pending or dead-lettered delivery names them.
CREATE TABLE blobs (
  key           text PRIMARY KEY,
  content_type  text NOT NULL,
  size          bigint NOT NULL,
  data          bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blobs_created_idx ON blobs (created_at);
