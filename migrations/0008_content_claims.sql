-- One download of an email's files across mailboxes. Mailboxes syncing in parallel hold
-- copies of the same email (one dedup_key); the run that claims the email's content first
-- downloads its files with its fetch, the others (fetch and attachment step alike) leave them
-- to it. A claim goes when the claimant's page commits, and counts for nothing once its run is
-- no longer running or it expires; files are never lost to a claim: a copy stored without
-- them leaves its rows `pending`, and the claimant's copy or a later attachment step saves them.
CREATE TABLE email_content_claims (
  dedup_key TEXT PRIMARY KEY,
  run_id INTEGER NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;
