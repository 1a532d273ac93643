-- Mail: mailboxes, distinct emails, per-mailbox copies, threads, participants,
-- attachments, investor links, the run ledger, and the rematch queue.

CREATE TABLE email_accounts (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  auth_method TEXT NOT NULL CHECK (auth_method IN ('dwd', 'oauth')),
  sync_enabled INTEGER NOT NULL DEFAULT 1 CHECK (sync_enabled IN (0, 1)),
  state TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'syncing', 'auth_error', 'needs_consent', 'error')),
  -- Gmail historyIds are decimal strings that outgrow 2^53: TEXT, compared as BigInt.
  history_id TEXT,
  last_sync_at TEXT,
  last_error TEXT,
  -- Backfill checkpoint: the historyId read before the backfill began, and the next page.
  backfill_history_id TEXT,
  backfill_page_token TEXT,
  backfill_started_at TEXT,
  -- Pace (units/s) learned when Gmail throttled below the configured budget.
  learned_units_sec REAL,
  -- OAuth refresh token, AES-256-GCM (iv:tag:ciphertext, base64); never in clear.
  refresh_token_enc TEXT,
  -- Lease: one sync per mailbox at a time, across processes sharing the database.
  lease_owner TEXT,
  lease_expires_at TEXT,
  lease_run_id INTEGER,
  -- Unenrolled without purge: hidden and never synced, its copies kept until a purge.
  unenrolled_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE email_threads (
  id INTEGER PRIMARY KEY,
  subject TEXT,
  first_message_at TEXT,
  last_message_at TEXT,
  message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX email_threads_last ON email_threads(last_message_at DESC, id DESC);

-- Every key that ties a message to a conversation: `mid:<message-id>` for its own id and
-- the ids it refers to, `gm:<account>:<gmail thread id>` for Gmail's per-mailbox thread.
CREATE TABLE email_thread_keys (
  key TEXT PRIMARY KEY,
  thread_id INTEGER NOT NULL REFERENCES email_threads(id)
);
CREATE INDEX email_thread_keys_thread ON email_thread_keys(thread_id);

CREATE TABLE emails (
  id INTEGER PRIMARY KEY,
  dedup_key TEXT NOT NULL UNIQUE,
  rfc822_message_id TEXT,
  thread_id INTEGER REFERENCES email_threads(id),
  subject TEXT,
  from_address TEXT,
  from_name TEXT,
  sent_at TEXT NOT NULL,
  internal_date TEXT,
  in_reply_to TEXT,
  references_json TEXT NOT NULL DEFAULT '[]',
  is_matched INTEGER NOT NULL DEFAULT 0 CHECK (is_matched IN (0, 1)),
  body_text TEXT,
  body_html TEXT,
  snippet TEXT,
  size_estimate INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX emails_thread ON emails(thread_id, sent_at);
CREATE INDEX emails_sent_at ON emails(sent_at);
CREATE INDEX emails_matched ON emails(is_matched);

CREATE TABLE email_mailbox_messages (
  account_id INTEGER NOT NULL REFERENCES email_accounts(id) ON DELETE CASCADE,
  gmail_message_id TEXT NOT NULL,
  gmail_thread_id TEXT NOT NULL,
  email_id INTEGER NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
  label_ids TEXT NOT NULL DEFAULT '[]',
  internal_date TEXT,
  deleted_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (account_id, gmail_message_id)
);
CREATE INDEX email_mailbox_messages_email ON email_mailbox_messages(email_id);

CREATE TABLE email_participants (
  email_id INTEGER NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  name TEXT,
  role TEXT NOT NULL CHECK (role IN ('from', 'to', 'cc', 'bcc', 'reply_to')),
  PRIMARY KEY (email_id, role, address)
);
CREATE INDEX email_participants_address ON email_participants(address);

CREATE TABLE email_attachments (
  id INTEGER PRIMARY KEY,
  email_id INTEGER NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
  part_id TEXT NOT NULL,
  filename TEXT,
  mime_type TEXT,
  size INTEGER,
  content_id TEXT,
  is_inline INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('saved', 'too_large', 'pending', 'failed')),
  storage_path TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (email_id, part_id)
);
CREATE INDEX email_attachments_state ON email_attachments(state);
CREATE INDEX email_attachments_sha ON email_attachments(sha256);

CREATE TABLE email_investor_links (
  id INTEGER PRIMARY KEY,
  email_id INTEGER NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
  investor_id INTEGER REFERENCES investors(id) ON DELETE CASCADE,
  contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
  match_kind TEXT NOT NULL CHECK (match_kind IN ('contact_email', 'investor_email', 'domain')),
  confidence REAL NOT NULL,
  address TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX email_investor_links_key
  ON email_investor_links(email_id, ifnull(investor_id, 0), ifnull(contact_id, 0), match_kind, address);
CREATE INDEX email_investor_links_investor ON email_investor_links(investor_id, email_id);
CREATE INDEX email_investor_links_contact ON email_investor_links(contact_id, email_id);

CREATE TABLE email_sync_runs (
  id INTEGER PRIMARY KEY,
  account_id INTEGER REFERENCES email_accounts(id) ON DELETE SET NULL,
  kind TEXT NOT NULL CHECK (kind IN ('backfill', 'incremental', 'rematch', 'attachments')),
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  messages_seen INTEGER NOT NULL DEFAULT 0,
  messages_stored INTEGER NOT NULL DEFAULT 0,
  attachments_saved INTEGER NOT NULL DEFAULT 0,
  quota_units INTEGER NOT NULL DEFAULT 0,
  http_calls INTEGER NOT NULL DEFAULT 0,
  bytes_downloaded INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX email_sync_runs_account ON email_sync_runs(account_id, id);
CREATE INDEX email_sync_runs_status ON email_sync_runs(status);

-- Directory edits leave the addresses and domains they touched here; rematch drains it.
CREATE TABLE email_rematch_queue (
  id INTEGER PRIMARY KEY,
  address TEXT,
  domain TEXT,
  requested_at TEXT NOT NULL
);

-- Signed OAuth states are also recorded so each is accepted once.
CREATE TABLE oauth_states (
  nonce TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT
);
