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

/**
 * assignThread for a whole page at once, with the same result as calling it message by message
 * in order: the page's keys are read in one query, the union-find runs in memory (threads this
 * page creates are placeholders until the end), and keys, new threads and the emails' thread ids
 * are written with a few multi-row statements. Only a merge of two stored threads touches rows
 * one thread at a time, as before. Returns each email's thread, the threads merged away and the
 * emails other than these that moved.
 */
export async function assignThreads(
  tx: Executor,
  items: { emailId: number; keys: string[]; existingThreadId: number | null }[],
): Promise<{ threadOf: Map<number, number>; merged: number[]; moved: number[] }> {
  const allKeys = [...new Set(items.flatMap((i) => i.keys))];
  const keyThread = new Map<string, number>();
  for (let i = 0; i < allKeys.length; i += 500) {
    const chunk = allKeys.slice(i, i + 500);
    const rows = await all<{ key: string; thread_id: number }>(tx, `SELECT key, thread_id FROM email_thread_keys WHERE key IN (${chunk.map(() => '?').join(',')})`, chunk);
    for (const r of rows) keyThread.set(r.key, r.thread_id);
  }
  // Placeholders are negative and count down, so among them the first created is the largest;
  // any stored thread (positive) is older than every placeholder.
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.has(r)) r = parent.get(r)!;
    while (parent.has(x)) {
      const next = parent.get(x)!;
      parent.set(x, r);
      x = next;
    }
    return r;
  };
  const older = (a: number, b: number): boolean => (a > 0 && b > 0 ? a < b : a > 0 ? true : b > 0 ? false : a > b);
  let nextPlaceholder = -1;
  const merged: number[] = [];
  const moved: number[] = [];
  const newKeys = new Map<string, number>();
  const assigned: { emailId: number; thread: number }[] = [];
  for (const it of items) {
    const ids = new Set<number>();
    for (const k of it.keys) {
      const t = keyThread.get(k);
      if (t !== undefined) ids.add(find(t));
    }
    if (it.existingThreadId !== null) ids.add(find(it.existingThreadId));
    let thread: number;
    if (ids.size === 0) thread = nextPlaceholder--;
    else {
      const sorted = [...ids].sort((a, b) => (older(a, b) ? -1 : older(b, a) ? 1 : 0));
      thread = sorted[0]!;
      for (const other of sorted.slice(1)) {
        if (other > 0) {
          // Two stored threads proven one: the younger's rows move now, as message by message.
          moved.push(...(await all<{ id: number }>(tx, 'SELECT id FROM emails WHERE thread_id = ?', [other])).map((r) => r.id));
          await run(tx, 'UPDATE email_thread_keys SET thread_id = ? WHERE thread_id = ?', [thread, other]);
          await run(tx, 'UPDATE emails SET thread_id = ? WHERE thread_id = ?', [thread, other]);
          await run(tx, 'DELETE FROM email_threads WHERE id = ?', [other]);
          merged.push(other);
        }
        parent.set(other, thread);
      }
    }
    for (const k of it.keys) {
      if (!keyThread.has(k)) {
        keyThread.set(k, thread);
        newKeys.set(k, thread);
      }
    }
    assigned.push({ emailId: it.emailId, thread });
  }
  // Placeholders become threads, in creation order so ids grow as they would have.
  const real = new Map<number, number>();
  const placeholders = [...new Set(assigned.map((a) => find(a.thread)).filter((t) => t < 0))].sort((a, b) => b - a);
  for (let i = 0; i < placeholders.length; i += 200) {
    const chunk = placeholders.slice(i, i + 200);
    const r = await tx.execute({ sql: `INSERT INTO email_threads (message_count) VALUES ${chunk.map(() => '(0)').join(',')} RETURNING id`, args: [] });
    const ids = r.rows.map((row) => Number(row[0])).sort((a, b) => a - b);
    chunk.forEach((p, j) => real.set(p, ids[j]!));
  }
  const resolve = (t: number): number => {
    const root = find(t);
    return root < 0 ? real.get(root)! : root;
  };
  const keyRows = [...newKeys.entries()].map(([k, t]) => [k, resolve(t)] as const);
  for (let i = 0; i < keyRows.length; i += 200) {
    const chunk = keyRows.slice(i, i + 200);
    await run(tx, `INSERT INTO email_thread_keys (key, thread_id) VALUES ${chunk.map(() => '(?, ?)').join(',')} ON CONFLICT(key) DO NOTHING`, chunk.flat());
  }
  const threadOf = new Map<number, number>();
  for (const a of assigned) threadOf.set(a.emailId, resolve(a.thread));
  return { threadOf, merged, moved };
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
