// Thread assignment for a whole page gives the same threads as message by message, in order.
import { afterEach, describe, expect, it } from 'vitest';
import { all, run } from '../../lib/db/client.js';
import { assignThread, assignThreads } from '../../lib/capture/threading.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';

const open: TestDeps[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.cleanup();
});

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

async function emails(deps: TestDeps, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await deps.db.execute({
      sql: "INSERT INTO emails (dedup_key, sent_at, internal_date, created_at, updated_at) VALUES (?, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', 'x', 'x') RETURNING id",
      args: [`k${i}`],
    });
    ids.push(Number(r.rows[0]![0]));
  }
  return ids;
}

/**
 * Threads as sets of email ids and keys. Numbering may differ: a thread a page creates and
 * merges within itself was never written, so it never takes an id.
 */
async function partition(deps: TestDeps, ids: number[]) {
  const pos = new Map(ids.map((id, i) => [id, i]));
  const rows = await all<{ id: number; thread_id: number }>(deps.db, 'SELECT id, thread_id FROM emails ORDER BY id');
  const keys = await all<{ key: string; thread_id: number }>(deps.db, 'SELECT key, thread_id FROM email_thread_keys');
  const by = new Map<number, { emails: number[]; keys: string[] }>();
  const get = (t: number) => by.get(t) ?? (by.set(t, { emails: [], keys: [] }), by.get(t)!);
  for (const r of rows) get(r.thread_id).emails.push(pos.get(r.id)!);
  for (const k of keys) get(k.thread_id).keys.push(k.key);
  const threads = (await all<{ id: number }>(deps.db, 'SELECT id FROM email_threads ORDER BY id')).map((t) => t.id);
  // Every thread row holds emails, and the groups in the order of their ids (older first).
  return {
    groups: threads.map((t) => ({ emails: [...(by.get(t)?.emails ?? [])].sort((a, b) => a - b), keys: [...(by.get(t)?.keys ?? [])].sort() })),
    orphans: [...by.keys()].filter((t) => !threads.includes(t)).length,
  };
}

describe('page thread assignment', () => {
  it('matches message-by-message assignment over random pages (keys of stored threads, merges within and across pages)', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed);
      const a = await makeDeps();
      const b = await makeDeps();
      open.push(a, b);
      const n = 40;
      const ida = await emails(a, n);
      const idb = await emails(b, n);
      const pages = [0, 15, 28, n];
      for (let p = 0; p < pages.length - 1; p++) {
        const items = [];
        for (let i = pages[p]!; i < pages[p + 1]!; i++) {
          const keys = new Set<string>([`mid:${i}`]);
          const refs = Math.floor(r() * 3);
          for (let j = 0; j < refs; j++) keys.add(`mid:${Math.floor(r() * n)}`);
          if (r() < 0.3) keys.add(`gm:1:${Math.floor(r() * 8)}`);
          items.push({ i, keys: [...keys] });
        }
        for (const it of items) {
          const { threadId } = await assignThread(a.db as never, it.keys, null);
          await run(a.db, 'UPDATE emails SET thread_id = ? WHERE id = ?', [threadId, ida[it.i]!]);
        }
        const { threadOf } = await assignThreads(b.db as never, items.map((it) => ({ emailId: idb[it.i]!, keys: it.keys, existingThreadId: null })));
        for (const it of items) await run(b.db, 'UPDATE emails SET thread_id = ? WHERE id = ?', [threadOf.get(idb[it.i]!)!, idb[it.i]!]);
      }
      expect(await partition(b, idb), `seed ${seed}`).toEqual(await partition(a, ida));
    }
  });
});
