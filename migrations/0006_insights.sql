-- Relationship activity, derived from mail metadata (participants, sent_at, copies, links)
-- and kept in step by lib/insights/activity.ts inside every mail writer's transaction.
-- An "entity" is an investor or a contact; "partner" is a team address ('' = the whole team).

-- The team as the activity was computed with it: workspace domains and mailbox addresses.
-- When config or mailboxes differ, the affected mail is recomputed (lib/insights/team.ts).
CREATE TABLE insight_team (
  kind TEXT NOT NULL CHECK (kind IN ('domain', 'address')),
  value TEXT NOT NULL,
  PRIMARY KEY (kind, value)
) WITHOUT ROWID;

-- What one email contributes to one entity: its direction for that entity, and the entity's
-- people on it. Also the undo record when the email changes.
CREATE TABLE insight_contrib (
  email_id INTEGER NOT NULL,
  entity TEXT NOT NULL CHECK (entity IN ('investor', 'contact')),
  entity_id INTEGER NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out', 'other')),
  sent_at TEXT NOT NULL,
  day TEXT NOT NULL,
  thread_id INTEGER,
  -- The team address that sent it (outbound only).
  sender TEXT,
  people TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (email_id, entity, entity_id)
) WITHOUT ROWID;
CREATE INDEX insight_contrib_dir ON insight_contrib(entity, entity_id, direction, sent_at);
CREATE INDEX insight_contrib_time ON insight_contrib(entity, entity_id, sent_at);
CREATE INDEX insight_contrib_thread ON insight_contrib(thread_id);

-- Which partners an email involves for an entity: the sender of outbound mail, the mailboxes
-- holding a copy of inbound mail.
CREATE TABLE insight_partner_mail (
  email_id INTEGER NOT NULL,
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  partner TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  sent_at TEXT NOT NULL,
  day TEXT NOT NULL,
  PRIMARY KEY (email_id, entity, entity_id, partner)
) WITHOUT ROWID;
CREATE INDEX insight_partner_mail_last ON insight_partner_mail(entity, entity_id, partner, direction, sent_at);

-- Messages per day each way, per entity and partner ('' = the team as a whole).
CREATE TABLE insight_daily (
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  partner TEXT NOT NULL,
  day TEXT NOT NULL,
  inbound INTEGER NOT NULL DEFAULT 0,
  outbound INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (entity, entity_id, partner, day)
) WITHOUT ROWID;
CREATE INDEX insight_daily_partner ON insight_daily(partner, entity, day);

-- All-time totals and last message each way, per entity and partner ('' = the team).
CREATE TABLE insight_totals (
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  partner TEXT NOT NULL,
  inbound INTEGER NOT NULL DEFAULT 0,
  outbound INTEGER NOT NULL DEFAULT 0,
  last_in_at TEXT,
  last_out_at TEXT,
  PRIMARY KEY (entity, entity_id, partner)
) WITHOUT ROWID;
CREATE INDEX insight_totals_partner ON insight_totals(partner, entity);

-- How many of an entity's emails each of its addresses appears on (breadth).
CREATE TABLE insight_people (
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  address TEXT NOT NULL,
  n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (entity, entity_id, address)
) WITHOUT ROWID;

-- How many of an entity's emails each thread holds.
CREATE TABLE insight_threads (
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  thread_id INTEGER NOT NULL,
  n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (entity, entity_id, thread_id)
) WITHOUT ROWID;

-- Per inbound message, the hours until a partner's next outbound message in the same thread.
CREATE TABLE insight_replies (
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  thread_id INTEGER NOT NULL,
  email_id INTEGER NOT NULL,
  partner TEXT NOT NULL,
  hours REAL NOT NULL,
  PRIMARY KEY (entity, entity_id, thread_id, email_id, partner)
) WITHOUT ROWID;
CREATE INDEX insight_replies_partner ON insight_replies(entity, entity_id, partner, hours);
CREATE INDEX insight_replies_thread ON insight_replies(thread_id);

-- A two-way exchange: a message answering the other side in the same thread.
CREATE TABLE insight_exchanges (
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  thread_id INTEGER NOT NULL,
  email_id INTEGER NOT NULL,
  at TEXT NOT NULL,
  partner TEXT,
  PRIMARY KEY (entity, entity_id, thread_id, email_id)
) WITHOUT ROWID;
CREATE INDEX insight_exchanges_at ON insight_exchanges(entity, entity_id, at);
CREATE INDEX insight_exchanges_thread ON insight_exchanges(thread_id);

-- Per entity: the last two-way exchange and how many exchanges the year before it had.
CREATE TABLE insight_summary (
  entity TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  last_two_way_at TEXT NOT NULL,
  exchanges_year_before INTEGER NOT NULL,
  PRIMARY KEY (entity, entity_id)
) WITHOUT ROWID;
CREATE INDEX insight_summary_cold ON insight_summary(entity, last_two_way_at);

-- Emails whose links went without a writer reporting it (a contact or investor deleted, its
-- links removed by cascade): the next change hook or insights read brings them in line.
CREATE TABLE insight_dirty (
  email_id INTEGER PRIMARY KEY
);
CREATE TRIGGER insight_link_deleted AFTER DELETE ON email_investor_links BEGIN INSERT OR IGNORE INTO insight_dirty (email_id) VALUES (OLD.email_id); END;

-- A deleted investor or contact takes its activity with it (its links go by cascade, which
-- no writer reports). One line each: the migration runner splits statements at line-ending ';'.
CREATE TRIGGER insight_investor_deleted AFTER DELETE ON investors BEGIN DELETE FROM insight_contrib WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_partner_mail WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_daily WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_totals WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_people WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_threads WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_replies WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_exchanges WHERE entity = 'investor' AND entity_id = OLD.id; DELETE FROM insight_summary WHERE entity = 'investor' AND entity_id = OLD.id; END;
CREATE TRIGGER insight_contact_deleted AFTER DELETE ON contacts BEGIN DELETE FROM insight_contrib WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_partner_mail WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_daily WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_totals WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_people WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_threads WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_replies WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_exchanges WHERE entity = 'contact' AND entity_id = OLD.id; DELETE FROM insight_summary WHERE entity = 'contact' AND entity_id = OLD.id; END;
