// A large relationship (thousands of linked emails) lists its threads by walking them newest
// first; the pages must be exactly those of a small one: same order, same cursor rules.
import { afterEach, expect, it } from 'vitest';
import { all } from '../lib/db.js';
import { invoke } from '../lib/fn.js';
import { WALK_OVER, listThreads } from '../functions/listThreads.js';
import { makeDeps, type TestDeps } from './helpers/deps.js';
import { addInvestor } from './helpers/directory.js';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function pages(investorId: number, limit: number) {
  const seen: number[] = [];
  let cursor: string | undefined;
  for (;;) {
    const r = (await invoke(deps, listThreads, { investor_id: investorId, limit, cursor })) as { threads: { id: number }[]; next_cursor: string | null };
    seen.push(...r.threads.map((t) => t.id));
    if (!r.next_cursor) return seen;
    cursor = r.next_cursor;
  }
}

it('threads of a large and a small investor page identically, newest activity first', async () => {
  deps = await makeDeps();
  const big = await addInvestor(deps, 'Big', { domains: ['big.test'] });
  const small = await addInvestor(deps, 'Small', { domains: ['small.test'] });
  const threads = 60;
  const stmts = [];
  for (let t = 1; t <= threads; t++) {
    // Ties in last_message_at on purpose: the id breaks them.
    const at = new Date(Date.UTC(2025, 0, 1 + Math.floor(t / 3))).toISOString();
    stmts.push({ sql: 'INSERT INTO email_threads (id, subject, first_message_at, last_message_at, message_count) VALUES (?, ?, ?, ?, 0)', args: [t, `t${t}`, at, at] });
  }
  let emailId = 0;
  for (let i = 0; i < WALK_OVER + 600; i++) {
    const t = (i % threads) + 1;
    emailId++;
    // Every third thread of the big investor holds only unmatched mail: not listed.
    const matched = t % 3 === 0 ? 0 : 1;
    stmts.push({
      sql: "INSERT INTO emails (id, dedup_key, thread_id, sent_at, is_matched, created_at, updated_at) VALUES (?, ?, ?, '2025-01-01T00:00:00.000Z', ?, 'x', 'x')",
      args: [emailId, `k${emailId}`, t, matched],
    });
    stmts.push({
      sql: "INSERT INTO email_investor_links (email_id, investor_id, match_kind, confidence, address, created_at) VALUES (?, ?, 'domain', 0.5, ?, 'x')",
      args: [emailId, t <= 10 ? small : big, `p${i}@x.test`],
    });
  }
  await deps.db.batch(stmts, 'write');
  const expected = async (inv: number) =>
    (
      await all<{ id: number }>(
        deps.db,
        `SELECT DISTINCT t.id, t.last_message_at FROM email_threads t JOIN emails e ON e.thread_id = t.id AND e.is_matched = 1
           JOIN email_investor_links l ON l.email_id = e.id WHERE l.investor_id = ? ORDER BY t.last_message_at DESC, t.id DESC`,
        [inv],
      )
    ).map((r) => r.id);
  const bigLinks = await all<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM email_investor_links WHERE investor_id = ?', [big]);
  expect(bigLinks[0]!.n).toBeGreaterThan(WALK_OVER);
  expect(await pages(big, 7)).toEqual(await expected(big));
  expect(await pages(small, 4)).toEqual(await expected(small));
  expect((await expected(big)).length).toBeGreaterThan(20);
});
