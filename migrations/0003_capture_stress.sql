-- Capture under stress: the verify run kind and its figures, per-message failures, the
-- directory version a running sync compares before storing a page, and download claims.

-- SQLite cannot change a CHECK constraint in place: the run ledger is rebuilt with `verify`.
CREATE TABLE email_sync_runs_new (
  id INTEGER PRIMARY KEY,
  account_id INTEGER REFERENCES email_accounts(id) ON DELETE SET NULL,
  kind TEXT NOT NULL CHECK (kind IN ('backfill', 'incremental', 'rematch', 'attachments', 'verify')),
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  messages_seen INTEGER NOT NULL DEFAULT 0,
  messages_stored INTEGER NOT NULL DEFAULT 0,
  attachments_saved INTEGER NOT NULL DEFAULT 0,
  quota_units INTEGER NOT NULL DEFAULT 0,
  http_calls INTEGER NOT NULL DEFAULT 0,
  bytes_downloaded INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  -- verify: in Gmail but not stored, stored but gone from Gmail, missing ones fetched.
  missing INTEGER,
  gone INTEGER,
  repaired INTEGER,
  -- messages skipped on this run because they could not be parsed or stored
  messages_failed INTEGER NOT NULL DEFAULT 0
);
INSERT INTO email_sync_runs_new (id, account_id, kind, status, messages_seen, messages_stored, attachments_saved, quota_units, http_calls, bytes_downloaded, error, started_at, finished_at)
  SELECT id, account_id, kind, status, messages_seen, messages_stored, attachments_saved, quota_units, http_calls, bytes_downloaded, error, started_at, finished_at FROM email_sync_runs;
DROP TABLE email_sync_runs;
ALTER TABLE email_sync_runs_new RENAME TO email_sync_runs;
CREATE INDEX email_sync_runs_account ON email_sync_runs(account_id, id);
CREATE INDEX email_sync_runs_status ON email_sync_runs(status);

-- The last verification of each mailbox, and when Gmail and the store last agreed.
ALTER TABLE email_accounts ADD COLUMN last_verify_at TEXT;
ALTER TABLE email_accounts ADD COLUMN last_verify_missing INTEGER;
ALTER TABLE email_accounts ADD COLUMN last_verify_gone INTEGER;
ALTER TABLE email_accounts ADD COLUMN last_verify_repaired INTEGER;
ALTER TABLE email_accounts ADD COLUMN last_verify_held_at TEXT;

-- A message that could not be parsed or stored: skipped, and given up after a few runs.
CREATE TABLE email_message_failures (
  account_id INTEGER NOT NULL REFERENCES email_accounts(id) ON DELETE CASCADE,
  gmail_message_id TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL,
  run_id INTEGER,
  first_failed_at TEXT NOT NULL,
  last_failed_at TEXT NOT NULL,
  PRIMARY KEY (account_id, gmail_message_id)
);

-- Bumped by every directory change in the changing transaction (triggers), so a running
-- sync sees inside its page transaction whether the matcher it holds is still current.
CREATE TABLE directory_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO directory_version (id, version) VALUES (1, 0);
CREATE TRIGGER directory_version_investors_insert AFTER INSERT ON investors BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investors_update AFTER UPDATE ON investors BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investors_delete AFTER DELETE ON investors BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investor_domains_insert AFTER INSERT ON investor_domains BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investor_domains_update AFTER UPDATE ON investor_domains BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investor_domains_delete AFTER DELETE ON investor_domains BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investor_emails_insert AFTER INSERT ON investor_emails BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investor_emails_update AFTER UPDATE ON investor_emails BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_investor_emails_delete AFTER DELETE ON investor_emails BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_contacts_insert AFTER INSERT ON contacts BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_contacts_update AFTER UPDATE ON contacts BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_contacts_delete AFTER DELETE ON contacts BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_contact_emails_insert AFTER INSERT ON contact_emails BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_contact_emails_update AFTER UPDATE ON contact_emails BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_contact_emails_delete AFTER DELETE ON contact_emails BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_exclusions_insert AFTER INSERT ON exclusions BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_exclusions_update AFTER UPDATE ON exclusions BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER directory_version_exclusions_delete AFTER DELETE ON exclusions BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;

-- One download per file: a mailbox claims an attachment row before fetching its bytes, so
-- another mailbox holding the same email leaves it alone until the claim ends or expires.
ALTER TABLE email_attachments ADD COLUMN claim_owner TEXT;
ALTER TABLE email_attachments ADD COLUMN claim_expires_at TEXT;

-- A stored file is claimed (in the transaction that sees it on disk) by a download about to
-- mark its row saved; a file is deleted only when neither a saved row nor a claim names it.
CREATE TABLE email_blob_claims (
  sha256 TEXT NOT NULL,
  attachment_id INTEGER NOT NULL,
  owner TEXT NOT NULL,
  claimed_at TEXT NOT NULL,
  PRIMARY KEY (sha256, attachment_id)
);
