-- Security: login attempts without usernames in clear, the audit log, directory changes held
-- for an admin's review, and the participant counts of messages whose lists were cut.

-- Every login attempt is written before its password is checked; a success deletes its row.
-- username_key is a SHA-256 of the case-folded username: what people type into the username
-- box is often their password, so it is never stored as typed.
CREATE TABLE login_attempts (
  id INTEGER PRIMARY KEY,
  username_key TEXT NOT NULL,
  client TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX login_attempts_user_client ON login_attempts(username_key, client, at);
CREATE INDEX login_attempts_client ON login_attempts(client, at);
CREATE INDEX login_attempts_at ON login_attempts(at);

-- The old table held attempted usernames verbatim; its rows only mattered for 15 minutes.
DROP TABLE login_failures;

-- Who changed what: directory, exclusions, enrolments, reviews, and rematch purges.
-- user_id/username are NULL for the command line and the scheduler. detail is JSON
-- (before/after for edits; counts and ids for purges).
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  user_id INTEGER,
  username TEXT,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log(at);

-- A directory change that would newly expose more withheld mail than the review threshold is
-- not applied: it is kept here (the function and its input) until an admin approves it.
CREATE TABLE rematch_reviews (
  id INTEGER PRIMARY KEY,
  fn TEXT NOT NULL,
  input TEXT NOT NULL,
  requested_by TEXT,
  requested_at TEXT NOT NULL,
  summary TEXT NOT NULL,
  newly_exposed INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by INTEGER,
  decided_at TEXT
);
CREATE INDEX rematch_reviews_status ON rematch_reviews(status, id);

-- {role: count} for the roles whose address lists were cut to their first entries; NULL when
-- every participant was stored.
ALTER TABLE emails ADD COLUMN participant_counts TEXT;

CREATE INDEX tokens_expires ON tokens(expires_at);
