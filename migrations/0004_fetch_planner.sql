-- Two-phase backfill: the mailbox is first enumerated into a pending list, then fetched by
-- plan. A copy leaves the list in the transaction that stores it, so the list is the resume
-- point of the fetch phase.
CREATE TABLE email_pending_messages (
  account_id INTEGER NOT NULL REFERENCES email_accounts(id) ON DELETE CASCADE,
  gmail_message_id TEXT NOT NULL,
  gmail_thread_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (account_id, gmail_message_id)
) WITHOUT ROWID;
CREATE INDEX email_pending_messages_thread ON email_pending_messages(account_id, gmail_thread_id);

-- Set when every messages.list page of the current backfill is in the pending list.
ALTER TABLE email_accounts ADD COLUMN backfill_enumerated_at TEXT;

-- Bytes fetched as format=raw per mailbox per UTC day, held under CRM_GMAIL_DAILY_DOWNLOAD_MB.
CREATE TABLE email_download_budget (
  account_id INTEGER NOT NULL REFERENCES email_accounts(id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, day)
) WITHOUT ROWID;

-- Thread activity per investor and per contact, kept in the transaction that changes the
-- links, so a relationship's newest threads are an index range rather than a sort of all.
CREATE TABLE email_investor_threads (
  investor_id INTEGER NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
  thread_id INTEGER NOT NULL REFERENCES email_threads(id) ON DELETE CASCADE,
  last_message_at TEXT NOT NULL,
  PRIMARY KEY (investor_id, thread_id)
) WITHOUT ROWID;
CREATE INDEX email_investor_threads_recent ON email_investor_threads(investor_id, last_message_at DESC, thread_id DESC);
CREATE INDEX email_investor_threads_thread ON email_investor_threads(thread_id);

CREATE TABLE email_contact_threads (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  thread_id INTEGER NOT NULL REFERENCES email_threads(id) ON DELETE CASCADE,
  last_message_at TEXT NOT NULL,
  PRIMARY KEY (contact_id, thread_id)
) WITHOUT ROWID;
CREATE INDEX email_contact_threads_recent ON email_contact_threads(contact_id, last_message_at DESC, thread_id DESC);
CREATE INDEX email_contact_threads_thread ON email_contact_threads(thread_id);

INSERT INTO email_investor_threads (investor_id, thread_id, last_message_at)
SELECT DISTINCT l.investor_id, e.thread_id, coalesce(t.last_message_at, '')
  FROM email_investor_links l
  JOIN emails e ON e.id = l.email_id AND e.is_matched = 1
  JOIN email_threads t ON t.id = e.thread_id
 WHERE l.investor_id IS NOT NULL;

INSERT INTO email_contact_threads (contact_id, thread_id, last_message_at)
SELECT DISTINCT l.contact_id, e.thread_id, coalesce(t.last_message_at, '')
  FROM email_investor_links l
  JOIN emails e ON e.id = l.email_id AND e.is_matched = 1
  JOIN email_threads t ON t.id = e.thread_id
 WHERE l.contact_id IS NOT NULL;
