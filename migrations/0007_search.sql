-- Full-text search over matched mail: subject, body text, participants, attachment names.
-- The rowid is emails.id. Kept current by the change hook in the writer's own transaction;
-- unmatched and deleted mail has no row here.
CREATE VIRTUAL TABLE email_search USING fts5(
  subject,
  body,
  participants,
  attachments,
  tokenize = 'unicode61 remove_diacritics 2'
);

-- Mail captured before the index existed.
INSERT INTO email_search (rowid, subject, body, participants, attachments)
SELECT e.id,
       coalesce(e.subject, ''),
       coalesce(e.body_text, ''),
       coalesce((SELECT group_concat(p.address || ' ' || coalesce(p.name, ''), ' ') FROM email_participants p WHERE p.email_id = e.id), ''),
       coalesce((SELECT group_concat(a.filename, ' ') FROM email_attachments a WHERE a.email_id = e.id AND a.filename IS NOT NULL), '')
  FROM emails e
 WHERE e.is_matched = 1;
