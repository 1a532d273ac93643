// GET /api/email/threads/:id (any user): one conversation, its messages in sent order. Bodies
// exist only for matched mail; a thread none of whose emails is matched (internal-only or
// excluded mail) answers 404, as does a thread merged into an older one. Read-only.
import { z } from 'zod';
import { all, one } from '../lib/db/client.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';

interface EmailRow {
  id: number;
  rfc822_message_id: string | null;
  subject: string | null;
  from_address: string | null;
  from_name: string | null;
  sent_at: string;
  is_matched: number;
  body_text: string | null;
  body_html: string | null;
}

interface Person {
  address: string;
  name: string | null;
}

export const getThread = defineFunction({
  name: 'getThread',
  input: z.object({ id: z.coerce.number().int().positive() }),
  run: async (deps, input) => {
    const thread = await one<{ id: number; subject: string | null }>(
      deps.db,
      'SELECT t.id, t.subject FROM email_threads t WHERE t.id = ? AND EXISTS (SELECT 1 FROM emails e WHERE e.thread_id = t.id AND e.is_matched = 1)',
      [input.id],
    );
    if (!thread) throw new AppError('NOT_FOUND', `no thread with id ${input.id}`);
    const emails = await all<EmailRow>(
      deps.db,
      `SELECT id, rfc822_message_id, subject, from_address, from_name, sent_at, is_matched, body_text, body_html
         FROM emails WHERE thread_id = ? ORDER BY sent_at, id`,
      [thread.id],
    );
    // Header order is insertion order (rowid); the primary key would sort by address.
    const people = await all<{ email_id: number; role: string; address: string; name: string | null }>(
      deps.db,
      `SELECT p.email_id, p.role, p.address, p.name FROM email_participants p JOIN emails e ON e.id = p.email_id
        WHERE e.thread_id = ? AND p.role IN ('to', 'cc') ORDER BY p.rowid`,
      [thread.id],
    );
    const attachments = await all<{ id: number; email_id: number; filename: string | null; mime_type: string | null; size: number | null; sha256: string | null; state: string }>(
      deps.db,
      `SELECT a.id, a.email_id, a.filename, a.mime_type, a.size, a.sha256, a.state FROM email_attachments a JOIN emails e ON e.id = a.email_id
        WHERE e.thread_id = ? AND e.is_matched = 1 ORDER BY a.email_id, a.id`,
      [thread.id],
    );
    const byEmail = <T extends { email_id: number }>(rows: T[]) => {
      const m = new Map<number, T[]>();
      for (const r of rows) m.set(r.email_id, [...(m.get(r.email_id) ?? []), r]);
      return m;
    };
    const peopleOf = byEmail(people);
    const filesOf = byEmail(attachments);
    const pick = (emailId: number, role: string): Person[] =>
      (peopleOf.get(emailId) ?? []).filter((p) => p.role === role).map((p) => ({ address: p.address, name: p.name }));

    return {
      id: thread.id,
      subject: thread.subject,
      messages: emails.map((e) => {
        const matched = e.is_matched === 1;
        return {
          id: e.id,
          rfc822_message_id: e.rfc822_message_id,
          from: e.from_address ? { address: e.from_address, name: e.from_name } : null,
          to: pick(e.id, 'to'),
          cc: pick(e.id, 'cc'),
          subject: e.subject,
          sent_at: e.sent_at,
          is_matched: matched,
          body_text: matched ? e.body_text : null,
          body_html: matched ? e.body_html : null,
          attachments: matched
            ? (filesOf.get(e.id) ?? []).map((a) => ({ id: a.id, filename: a.filename, mime_type: a.mime_type, size: a.size, sha256: a.sha256, state: a.state }))
            : [],
        };
      }),
    };
  },
});
