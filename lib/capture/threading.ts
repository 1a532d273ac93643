// Conversations across mailboxes. Every message contributes keys — its own Message-ID,
// the ids it replies to or references, and its mailbox's Gmail threadId — and messages
// sharing any key share a thread. Keys form a union-find over threads, so the grouping
// is the same whatever order messages arrive in (a reply before its root included);
// when a message proves two threads are one, the older (smaller) id survives.
import { all, run, type Executor } from '../db/client.js';
import type { ParsedMessage } from '../mail/types.js';

export function threadKeys(accountId: number, m: ParsedMessage): string[] {
  const keys = new Set<string>();
  keys.add(m.messageId ? `mid:${m.messageId.toLowerCase()}` : `dk:${m.dedupKey}`);
  for (const id of [...m.inReplyTo, ...m.references]) if (id) keys.add(`mid:${id.toLowerCase()}`);
  if (m.gmailThreadId) keys.add(`gm:${accountId}:${m.gmailThreadId}`);
  return [...keys];
}

/**
 * Find or create the thread for these keys, merging threads they join. Returns the
 * surviving thread id and the ids merged away (callers drop those from their caches).
 */
export async function assignThread(
  tx: Executor,
  keys: string[],
  existingThreadId: number | null,
): Promise<{ threadId: number; merged: number[]; moved: number[] }> {
  const placeholders = keys.map(() => '?').join(',');
  const rows = await all<{ thread_id: number }>(tx, `SELECT DISTINCT thread_id FROM email_thread_keys WHERE key IN (${placeholders})`, keys);
  const ids = new Set(rows.map((r) => r.thread_id));
  if (existingThreadId !== null) ids.add(existingThreadId);
  let threadId: number;
  const merged: number[] = [];
  // Emails that changed thread by a merge: their readers see a new thread id.
  const moved: number[] = [];
  if (ids.size === 0) {
    const r = await tx.execute({ sql: 'INSERT INTO email_threads (message_count) VALUES (0) RETURNING id', args: [] });
    threadId = Number(r.rows[0]![0]);
  } else {
    const sorted = [...ids].sort((a, b) => a - b);
    threadId = sorted[0]!;
    for (const other of sorted.slice(1)) {
      moved.push(...(await all<{ id: number }>(tx, 'SELECT id FROM emails WHERE thread_id = ?', [other])).map((r) => r.id));
      await run(tx, 'UPDATE email_thread_keys SET thread_id = ? WHERE thread_id = ?', [threadId, other]);
      await run(tx, 'UPDATE emails SET thread_id = ? WHERE thread_id = ?', [threadId, other]);
      await run(tx, 'DELETE FROM email_threads WHERE id = ?', [other]);
      merged.push(other);
    }
  }
  const values = keys.map(() => '(?, ?)').join(',');
  await run(tx, `INSERT INTO email_thread_keys (key, thread_id) VALUES ${values} ON CONFLICT(key) DO NOTHING`, keys.flatMap((k) => [k, threadId]));
  return { threadId, merged, moved };
}

/** Recompute subject, first/last times and count of threads from their emails: one statement per 200 threads. */
export async function refreshThreads(tx: Executor, threadIds: Iterable<number>): Promise<void> {
  const ids = [...new Set(threadIds)];
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    await run(
      tx,
      `UPDATE email_threads SET
         first_message_at = (SELECT min(sent_at) FROM emails WHERE thread_id = email_threads.id),
         last_message_at = (SELECT max(sent_at) FROM emails WHERE thread_id = email_threads.id),
         message_count = (SELECT count(*) FROM emails WHERE thread_id = email_threads.id),
         subject = (SELECT subject FROM emails WHERE thread_id = email_threads.id ORDER BY sent_at, id LIMIT 1)
       WHERE id IN (${chunk.map(() => '?').join(',')})`,
      chunk,
    );
  }
}
