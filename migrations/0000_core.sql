-- Core: team members, their tokens, the CRM directory, exclusions.
-- Addresses and domains are stored normalised (trimmed, lower case).

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  email TEXT UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Bearer tokens are stored only as SHA-256 hashes; the token itself is shown once.
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX tokens_user ON tokens(user_id);

-- Failed logins, for throttling by username and by client address.
CREATE TABLE login_failures (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL COLLATE NOCASE,
  client TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures(username, at);
CREATE INDEX login_failures_client ON login_failures(client, at);

CREATE TABLE investors (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE investor_domains (
  investor_id INTEGER NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
  domain TEXT NOT NULL,
  PRIMARY KEY (investor_id, domain)
);
CREATE INDEX investor_domains_domain ON investor_domains(domain);

CREATE TABLE investor_emails (
  investor_id INTEGER NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  PRIMARY KEY (investor_id, email)
);
CREATE INDEX investor_emails_email ON investor_emails(email);

CREATE TABLE contacts (
  id INTEGER PRIMARY KEY,
  investor_id INTEGER REFERENCES investors(id) ON DELETE SET NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX contacts_investor ON contacts(investor_id);

-- One contact per address: the import upserts contacts by email.
CREATE TABLE contact_emails (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  email TEXT NOT NULL UNIQUE,
  PRIMARY KEY (contact_id, email)
);

CREATE TABLE exclusions (
  id INTEGER PRIMARY KEY,
  address TEXT UNIQUE,
  domain TEXT UNIQUE,
  created_at TEXT NOT NULL,
  CHECK ((address IS NULL) <> (domain IS NULL))
);
