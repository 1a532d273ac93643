// Thread activity per investor and per contact: which threads a relationship has matched mail
// in, and each thread's last activity, so listing a relationship's newest threads is an index
// range instead of a sort over every thread it touches. Registered as an email updater in
// changes.ts, so it commits with the links and threads that changed it.
import { run, type Executor } from '../db/client.js';
import type { ChangeContext } from './changes.js';

const CHUNK = 500;
// `+e.is_matched` keeps SQLite on the threads' own emails (emails_thread) rather than walking
// every matched email by the emails_matched index.

export async function refreshThreadActivity(tx: Executor, emailIds: number[], _ctx: ChangeContext): Promise<void> {
  for (let i = 0; i < emailIds.length; i += CHUNK) {
    const chunk = emailIds.slice(i, i + CHUNK);
    const threads = `SELECT DISTINCT thread_id FROM emails WHERE id IN (${chunk.map(() => '?').join(',')}) AND thread_id IS NOT NULL`;
    for (const [table, column] of [
      ['email_investor_threads', 'investor_id'],
      ['email_contact_threads', 'contact_id'],
    ] as const) {
      await run(tx, `DELETE FROM ${table} WHERE thread_id IN (${threads})`, chunk);
      await run(
        tx,
        `INSERT INTO ${table} (${column}, thread_id, last_message_at)
         SELECT DISTINCT l.${column}, e.thread_id, coalesce(t.last_message_at, '')
           FROM emails e
           JOIN email_investor_links l ON l.email_id = e.id AND l.${column} IS NOT NULL
           JOIN email_threads t ON t.id = e.thread_id
          WHERE +e.is_matched = 1 AND e.thread_id IN (${threads})
         ON CONFLICT DO NOTHING`,
        chunk,
      );
    }
  }
}
