-- The change feed: an outbox written in the same transaction as the change it reports.
-- Each item (an email or an attachment) keeps only its latest event: a newer event for the
-- same item deletes the older one in the same transaction, so the log is always compacted
-- and never holds a body the mail tables no longer hold. AUTOINCREMENT: a seq is never
-- handed out twice, even after the newest event was superseded or retired.
CREATE TABLE email_feed (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL CHECK (type IN ('email.upsert', 'email.tombstone', 'attachment.upsert', 'attachment.tombstone')),
  email_id INTEGER NOT NULL,
  attachment_id INTEGER,
  at TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX email_feed_tombstones ON email_feed(type, seq);

-- What the feed last said about each item: `live` (its latest event is an upsert) or `gone`
-- (a tombstone), with a hash of the payload so an unchanged item is not sent again.
CREATE TABLE email_feed_items (
  kind TEXT NOT NULL CHECK (kind IN ('email', 'attachment')),
  item_id INTEGER NOT NULL,
  email_id INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('live', 'gone')),
  payload_hash TEXT,
  -- Hash of the bodies the published text was made from: unchanged bodies reuse that text.
  body_hash TEXT,
  seq INTEGER NOT NULL,
  PRIMARY KEY (kind, item_id)
);
CREATE INDEX email_feed_items_email ON email_feed_items(email_id, kind);

-- One row: the highest seq of a retired tombstone. A reader positioned below it may have
-- missed a removal and must start again from the snapshot (after=0).
CREATE TABLE email_feed_horizon (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL DEFAULT 0,
  compacted_at TEXT
);
INSERT INTO email_feed_horizon (id, seq) VALUES (1, 0);

-- Read-only credentials for programs on the box (role `reader`): stored as SHA-256 only.
-- Deleting the row revokes the token.
CREATE TABLE feed_tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT
);
