// The search index (FTS5 table email_search, rowid = emails.id) over matched mail. Its
// updaters run inside the writer's transaction through lib/capture/changes.ts, so the index
// never shows mail the tables no longer hold as matched, nor misses mail they do.
import { all, run, type Executor } from '../db/client.js';
import { AppError } from '../core/errors.js';
import type { PreparedTexts } from '../capture/changes.js';

// An HTML-only body is indexed by its words; the index never renders it.
const MAX_INDEXED_BODY = 200_000;

function htmlWords(html: string): string {
  return html
    .slice(0, MAX_INDEXED_BODY * 2)
    .replace(/<(script|style)\b[^>]*>[^]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&#39;|&apos;/gi, "'")
    .replace(/&quot;/gi, '"')
    .replace(/\s+/g, ' ');
}

/**
 * Brings the index in line with the current rows of these emails. Idempotent.
 *
 * Entries of mail that leaves the index (it stopped matching, or is gone) are deleted with
 * FTS5's secure-delete on, so their words leave the index's pages at once; an entry that is
 * only rewritten (the email is still matched) is deleted the ordinary way, which is many
 * times cheaper, since what it said is still stored and readable anyway.
 */
export async function reindexEmails(tx: Executor, ids: number[], texts?: Pick<PreparedTexts, 'searchFor'>): Promise<void> {
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const marks = chunk.map(() => '?').join(',');
    const rows = await all<{ id: number; subject: string | null; body_text: string | null; body_html: string | null; participants: string | null; files: string | null }>(
      tx,
      `SELECT e.id, e.subject, e.body_text, e.body_html,
              (SELECT group_concat(p.address || ' ' || coalesce(p.name, ''), ' ') FROM email_participants p WHERE p.email_id = e.id) AS participants,
              (SELECT group_concat(a.filename, ' ') FROM email_attachments a WHERE a.email_id = e.id AND a.filename IS NOT NULL) AS files
         FROM emails e WHERE e.id IN (${marks}) AND e.is_matched = 1`,
      chunk,
    );
    const kept = new Set(rows.map((r) => r.id));
    const leaving = (await all<{ id: number }>(tx, `SELECT rowid AS id FROM email_search WHERE rowid IN (${marks})`, chunk)).map((r) => r.id).filter((id) => !kept.has(id));
    if (leaving.length) {
      await run(tx, "INSERT INTO email_search (email_search, rank) VALUES ('secure-delete', 1)");
      await run(tx, `DELETE FROM email_search WHERE rowid IN (${leaving.map(() => '?').join(',')})`, leaving);
      await run(tx, "INSERT INTO email_search (email_search, rank) VALUES ('secure-delete', 0)");
    }
    if (!rows.length) continue;
    await run(tx, `DELETE FROM email_search WHERE rowid IN (${rows.map(() => '?').join(',')})`, rows.map((r) => r.id));
    await run(
      tx,
      `INSERT INTO email_search (rowid, subject, body, participants, attachments) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(',')}`,
      rows.flatMap((r) => [r.id, r.subject ?? '', texts?.searchFor(r.id, r.body_text, r.body_html) ?? searchBody(r.body_text, r.body_html), r.participants ?? '', r.files ?? '']),
    );
  }
}

/** What the index holds of a body: the text part, else the HTML's words; bounded. */
export function searchBody(bodyText: string | null, bodyHtml: string | null): string {
  const body = bodyText?.trim() ? bodyText : bodyHtml ? htmlWords(bodyHtml) : '';
  return body.slice(0, MAX_INDEXED_BODY).replace(/[\u0001\u0002]/g, ' ');
}

/** Attachment rows changed: their emails' entries carry the file names. */
export async function reindexAttachments(tx: Executor, attachmentIds: number[]): Promise<void> {
  const emailIds = new Set<number>();
  for (let i = 0; i < attachmentIds.length; i += 200) {
    const chunk = attachmentIds.slice(i, i + 200);
    const rows = await all<{ email_id: number }>(tx, `SELECT DISTINCT email_id FROM email_attachments WHERE id IN (${chunk.map(() => '?').join(',')})`, chunk);
    for (const r of rows) emailIds.add(r.email_id);
  }
  if (emailIds.size) await reindexEmails(tx, [...emailIds]);
}

export const MAX_QUERY_CHARS = 200;
const MAX_TERMS = 12;

/**
 * The user's words as an FTS5 query: each word a quoted string (so `AND`, `NEAR`, `*`, `:`
 * and quotes are words, never operators), all of them required, the last one also as a prefix.
 */
export function ftsQuery(q: string): string {
  if (q.length > MAX_QUERY_CHARS) throw new AppError('VALIDATION', `q: at most ${MAX_QUERY_CHARS} characters`, { field: 'q' });
  const words = q.match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (!words.length) throw new AppError('VALIDATION', 'q: give at least one word to search for', { field: 'q' });
  const terms = words.slice(0, MAX_TERMS).map((w) => `"${w.replace(/"/g, '')}"`);
  terms[terms.length - 1] = `${terms[terms.length - 1]}*`;
  return terms.join(' ');
}

/** Marks around the matched words in a snippet (control characters no mail body keeps). */
export const HIT_START = '\u0001';
export const HIT_END = '\u0002';

interface SearchHit {
  email_id: number;
  thread_id: number | null;
  subject: string | null;
  from: { address: string; name: string | null } | null;
  sent_at: string;
  snippet: string;
}

/** How many matched emails a query finds in all, for "31–60 of N" and the next page. */
export async function countEmails(db: Executor, q: string): Promise<number> {
  const rows = await all<{ n: number }>(
    db,
    'SELECT count(*) AS n FROM email_search s JOIN emails e ON e.id = s.rowid AND e.is_matched = 1 WHERE email_search MATCH ?',
    [ftsQuery(q)],
  );
  return Number(rows[0]?.n ?? 0);
}

export async function searchEmails(db: Executor, q: string, limit: number, offset = 0): Promise<SearchHit[]> {
  const match = ftsQuery(q);
  // Weights: a word in the subject or a participant counts more than one deep in a body.
  const rows = await all<{ email_id: number; thread_id: number | null; subject: string | null; from_address: string | null; from_name: string | null; sent_at: string; snippet: string }>(
    db,
    `SELECT e.id AS email_id, e.thread_id, e.subject, e.from_address, e.from_name, e.sent_at,
            snippet(email_search, 1, char(1), char(2), '…', 16) AS snippet
       FROM email_search s JOIN emails e ON e.id = s.rowid AND e.is_matched = 1
      WHERE email_search MATCH ?
      ORDER BY bm25(email_search, 8.0, 1.0, 4.0, 3.0), e.sent_at DESC
      LIMIT ? OFFSET ?`,
    [match, limit, offset],
  );
  return rows.map((r) => ({
    email_id: r.email_id,
    thread_id: r.thread_id,
    subject: r.subject,
    from: r.from_address ? { address: r.from_address, name: r.from_name } : null,
    sent_at: r.sent_at,
    snippet: r.snippet,
  }));
}
