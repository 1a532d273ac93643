// The fetch planner: cost-minimal choices under both cost models, and the same database as
// message-by-message fetching, row by row, on one emulator corpus.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planFetches, planFiles, RAW_MAX_BYTES } from '../../lib/capture/planner.js';
import { QUOTA_COSTS } from '../../lib/gmail/costs.js';
import { all } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { importInvestors } from '../../functions/importInvestors.js';
import { deliverCorpus, generateCorpus, type Corpus } from '../../tools/corpus/index.js';
import { addAccount, emulatorWorld, syncMailbox } from '../helpers/mail.js';
import type { TestDeps } from '../helpers/deps.js';

const legacy = QUOTA_COSTS.legacy;
const y2026 = QUOTA_COSTS['2026'];
const MiB = 1024 * 1024;

describe('planning', () => {
  const items = (thread: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${thread}-${i}`, threadId: thread }));

  it('a thread is fetched whole only when that costs fewer units than its messages one by one', () => {
    for (const costs of [legacy, y2026]) {
      const plans = planFetches([...items('a', 1), ...items('b', 2), ...items('c', 3), ...items('d', 7)], costs, { threads: true });
      expect(plans.filter((p) => p.kind === 'thread').map((p) => (p as { threadId: string }).threadId).sort()).toEqual(['c', 'd']);
      expect(plans.find((p) => p.kind === 'messages')!.ids.sort()).toEqual(['a-0', 'b-0', 'b-1']);
    }
    // A cost table where a thread costs as much as three messages: three is a tie, so one by one.
    const pricey = { ...legacy, 'threads.get': 15 };
    expect(planFetches(items('c', 3), pricey, { threads: true })).toEqual([{ kind: 'messages', ids: ['c-0', 'c-1', 'c-2'] }]);
    expect(planFetches(items('c', 4), pricey, { threads: true })[0]!.kind).toBe('thread');
  });

  it('without threads.get (or per message) every message is one messages.get, each id once', () => {
    const plans = planFetches([...items('c', 5), { id: 'c-0', threadId: 'c' }], legacy, { threads: false });
    expect(plans).toEqual([{ kind: 'messages', ids: ['c-0', 'c-1', 'c-2', 'c-3', 'c-4'] }]);
  });

  it('files come in one raw fetch only when cheaper, the size is known, under the cap and within the day budget', () => {
    const base = { sizeEstimate: 100_000, maxBytes: 50 * MiB, budgetLeft: 2000 * MiB };
    for (const costs of [legacy, y2026]) {
      expect(planFiles({ ...base, parts: 0, costs })).toBe('none');
      // One file: the same units either way, and attachments.get downloads fewer bytes.
      expect(planFiles({ ...base, parts: 1, costs })).toBe('parts');
      expect(planFiles({ ...base, parts: 2, costs })).toBe('raw');
      expect(planFiles({ ...base, parts: 3, sizeEstimate: null, costs })).toBe('parts');
      expect(planFiles({ ...base, parts: 3, sizeEstimate: 51 * MiB, costs })).toBe('parts');
      expect(planFiles({ ...base, parts: 3, budgetLeft: 99_999, costs })).toBe('parts');
    }
  });

  it('a message larger than RAW_MAX_BYTES has its files fetched one by one, though raw would cost fewer units', () => {
    // A raw answer is held several times over while decoded; a file alone streams into one buffer.
    const base = { maxBytes: 50 * MiB, budgetLeft: 2000 * MiB, costs: legacy };
    expect(planFiles({ ...base, parts: 2, sizeEstimate: RAW_MAX_BYTES })).toBe('raw');
    expect(planFiles({ ...base, parts: 2, sizeEstimate: RAW_MAX_BYTES + 1 })).toBe('parts');
    expect(planFiles({ ...base, parts: 5, sizeEstimate: 40 * MiB })).toBe('parts');
  });
});

// ---------------------------------------------------------------------------------------

const DROP = new Set(['id', 'created_at', 'updated_at']);

/** Every capture table with surrogate ids replaced by natural keys, sorted. */
async function snapshot(deps: TestDeps): Promise<Record<string, string[]>> {
  const emails = await all<Record<string, unknown>>(deps.db, 'SELECT * FROM emails');
  const keyOf = new Map(emails.map((e) => [e.id as number, e.dedup_key as string]));
  const members = new Map<number, string[]>();
  for (const e of emails) if (e.thread_id !== null) members.set(e.thread_id as number, [...(members.get(e.thread_id as number) ?? []), e.dedup_key as string]);
  const threadKey = (id: unknown) => (id === null ? null : (members.get(id as number) ?? []).sort().join('|'));
  const accounts = new Map((await all<{ id: number; email: string }>(deps.db, 'SELECT id, email FROM email_accounts')).map((a) => [a.id, a.email]));
  const canon = (rows: Record<string, unknown>[], drop: string[] = []) =>
    rows
      .map((r) => {
        const o: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r)) {
          if (DROP.has(k) || drop.includes(k)) continue;
          if (k === 'email_id') o[k] = keyOf.get(v as number);
          else if (k === 'thread_id') o[k] = threadKey(v);
          else if (k === 'account_id') o[k] = accounts.get(v as number);
          else o[k] = v;
        }
        return JSON.stringify(o);
      })
      .sort();
  return {
    emails: canon(emails),
    copies: canon(await all(deps.db, 'SELECT * FROM email_mailbox_messages'), ['gmail_message_id', 'gmail_thread_id']),
    participants: canon(await all(deps.db, 'SELECT * FROM email_participants')),
    links: canon(await all(deps.db, 'SELECT * FROM email_investor_links')),
    attachments: canon(await all(deps.db, 'SELECT * FROM email_attachments')),
    threads: canon((await all<Record<string, unknown>>(deps.db, 'SELECT * FROM email_threads')).map((t) => ({ ...t, members: threadKey(t.id) }))),
    files: readdirSync(path.join(deps.dataDir, 'attachments'), { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => d.name)
      .sort(),
  };
}

async function capture(corpus: Corpus, strategy: 'planner' | 'per-message') {
  const world = await emulatorWorld(corpus.mailboxes, {
    env: { CRM_GMAIL_FETCH_STRATEGY: strategy, CRM_GMAIL_MAX_ATTACHMENT_MB: '1', CRM_GMAIL_WORKSPACE_DOMAIN: corpus.team[0]!.email.split('@')[1]! },
  });
  try {
    await deliverCorpus(world.emu.control, corpus);
    await invoke(world.deps, importInvestors, corpus.directory);
    for (const m of corpus.mailboxes) await addAccount(world.deps, m);
    for (const m of corpus.mailboxes) await world.run(syncMailbox(world.deps, m));
    // The relationship activity tables hold exactly what a sort over the links would give.
    for (const [table, column] of [
      ['email_investor_threads', 'investor_id'],
      ['email_contact_threads', 'contact_id'],
    ]) {
      const kept = await all(world.deps.db, `SELECT ${column} AS owner, thread_id, last_message_at FROM ${table} ORDER BY 1, 2`);
      const brute = await all(
        world.deps.db,
        `SELECT DISTINCT l.${column} AS owner, e.thread_id, coalesce(t.last_message_at, '') AS last_message_at
           FROM email_investor_links l JOIN emails e ON e.id = l.email_id AND e.is_matched = 1 JOIN email_threads t ON t.id = e.thread_id
          WHERE l.${column} IS NOT NULL ORDER BY 1, 2`,
      );
      expect(brute.length).toBeGreaterThan(10);
      expect(kept, table).toEqual(brute);
    }
    const stats = world.emu.control.stats().mailboxes;
    const calls: Record<string, number> = {};
    let units = 0;
    for (const s of Object.values(stats)) {
      units += s.unitsTotal;
      for (const [k, v] of Object.entries(s.calls)) calls[k] = (calls[k] ?? 0) + (v as number);
    }
    return { snap: await snapshot(world.deps), units, calls };
  } finally {
    await world.close();
  }
}

describe('planner against message-by-message fetching', () => {
  it('stores exactly the same rows, bodies, files and threads for fewer quota units', async () => {
    const corpus = generateCorpus({ seed: 'planner-equivalence', conversations: 70, attachmentCapBytes: MiB, fixtures: 12 });
    const perMessage = await capture(corpus, 'per-message');
    const planned = await capture(corpus, 'planner');
    expect(perMessage.snap.emails.length).toBeGreaterThan(100);
    expect(perMessage.snap.attachments.some((a) => a.includes('"saved"'))).toBe(true);
    expect(perMessage.snap.attachments.some((a) => a.includes('"too_large"'))).toBe(true);
    for (const table of Object.keys(perMessage.snap)) expect(planned.snap[table], table).toEqual(perMessage.snap[table]);
    expect(planned.calls['threads.get'] ?? 0).toBeGreaterThan(0);
    expect(perMessage.calls['threads.get'] ?? 0).toBe(0);
    // Files come with the fetch (ids just handed out, or raw): never a second messages.get for them.
    expect(planned.calls['messages.attachments.get'] ?? 0).toBeLessThanOrEqual(perMessage.calls['messages.attachments.get'] ?? 0);
    expect(planned.calls['messages.get']!).toBeLessThan(perMessage.calls['messages.get']! - (planned.calls['threads.get'] ?? 0));
    expect(planned.units).toBeLessThan(perMessage.units * 0.9);
  }, 120_000);
});

describe('planner in a backfill (emulator, production client)', () => {
  const BOX = 'pat@fund.test';

  async function world3(env: Record<string, string>, files: { filename: string; content: Buffer }[]) {
    const world = await emulatorWorld([BOX], { env });
    const { createContact } = await import('../../functions/createContact.js');
    await invoke(world.deps, createContact, { name: 'Ann', emails: ['ann@lp.example'] });
    const account = await addAccount(world.deps, BOX);
    const { rawMessage } = await import('../helpers/mail.js');
    for (let n = 1; n <= 3; n++) {
      world.emu.control.deliver(
        rawMessage({
          from: 'ann@lp.example',
          to: [BOX],
          subject: n === 1 ? 'Terms' : 'Re: Terms',
          messageId: `t${n}@lp.example`,
          ...(n > 1 ? { inReplyTo: 't1@lp.example' } : {}),
          date: `2025-02-0${n}T10:00:00Z`,
          text: `message ${n}`,
          files: n === 2 ? files : [],
        }),
        { to: [BOX], internalDate: Date.parse(`2025-02-0${n}T10:00:00Z`) },
      );
    }
    return { world, account };
  }

  const two = [
    { filename: 'a.pdf', content: Buffer.from('%PDF a') },
    { filename: 'b.txt', content: Buffer.from('bee') },
  ];

  it('a thread of three is one threads.get, and two files come in one raw fetch counted against the day budget', async () => {
    const { world, account } = await world3({}, two);
    try {
      await world.run(syncMailbox(world.deps, BOX));
      const s = world.emu.control.stats().mailboxes[BOX]!;
      expect(s.calls['threads.get']).toBe(1);
      expect(s.calls['messages.get']).toBe(1);
      expect(s.calls['messages.attachments.get'] ?? 0).toBe(0);
      expect(await all(world.deps.db, "SELECT filename, state FROM email_attachments ORDER BY filename")).toEqual([
        { filename: 'a.pdf', state: 'saved' },
        { filename: 'b.txt', state: 'saved' },
      ]);
      const size = (await all<{ size_estimate: number }>(world.deps.db, "SELECT size_estimate FROM emails WHERE rfc822_message_id = 't2@lp.example'"))[0]!.size_estimate;
      expect(await all(world.deps.db, 'SELECT account_id, bytes FROM email_download_budget')).toEqual([{ account_id: account.id, bytes: size }]);
      expect(await all(world.deps.db, 'SELECT * FROM email_pending_messages')).toEqual([]);
      expect(await all(world.deps.db, 'SELECT attachments_saved FROM email_sync_runs')).toEqual([{ attachments_saved: 2 }]);
    } finally {
      await world.close();
    }
  });

  it('with the day download budget spent, files come by attachments.get with the ids the thread handed out', async () => {
    const { world, account } = await world3({ CRM_GMAIL_DAILY_DOWNLOAD_MB: '1' }, two);
    try {
      const day = new Date(world.clock.now()).toISOString().slice(0, 10);
      await world.deps.db.execute({ sql: 'INSERT INTO email_download_budget (account_id, day, bytes) VALUES (?, ?, ?)', args: [account.id, day, MiB - 100] });
      await world.run(syncMailbox(world.deps, BOX));
      const s = world.emu.control.stats().mailboxes[BOX]!;
      expect(s.calls['threads.get']).toBe(1);
      expect(s.calls['messages.get'] ?? 0).toBe(0);
      expect(s.calls['messages.attachments.get']).toBe(2);
      expect(await all(world.deps.db, "SELECT state FROM email_attachments WHERE state = 'saved'")).toHaveLength(2);
    } finally {
      await world.close();
    }
  });

  it('a file over the cap is never downloaded, not even inside raw', async () => {
    const big = Buffer.alloc(MiB + 10, 7);
    const { world } = await world3({ CRM_GMAIL_MAX_ATTACHMENT_MB: '1' }, [...two, { filename: 'big.bin', content: big }]);
    try {
      await world.run(syncMailbox(world.deps, BOX));
      const s = world.emu.control.stats().mailboxes[BOX]!;
      expect(s.calls['messages.get'] ?? 0).toBe(0);
      expect(s.calls['messages.attachments.get']).toBe(2);
      expect(s.bytesSent).toBeLessThan(MiB);
      expect(await all(world.deps.db, 'SELECT filename, state FROM email_attachments ORDER BY filename')).toEqual([
        { filename: 'a.pdf', state: 'saved' },
        { filename: 'b.txt', state: 'saved' },
        { filename: 'big.bin', state: 'too_large' },
      ]);
    } finally {
      await world.close();
    }
  });
});

describe('download byte bound', () => {
  it('admits downloads while they fit, lets an oversized one run alone, and serves in order', async () => {
    const { ByteGate } = await import('../../lib/capture/planner.js');
    const gate = new ByteGate(100);
    const order: string[] = [];
    const a = await gate.acquire(60);
    const b = await gate.acquire(40);
    let cDone = false;
    const c = gate.acquire(500).then((r) => {
      cDone = true;
      order.push('c');
      return r;
    });
    const d = gate.acquire(10).then((r) => {
      order.push('d');
      return r;
    });
    await Promise.resolve();
    expect(cDone).toBe(false);
    a();
    await Promise.resolve();
    expect(cDone).toBe(false);
    b();
    const rc = await c;
    await Promise.resolve();
    expect(order).toEqual(['c']);
    rc();
    (await d)();
    expect(order).toEqual(['c', 'd']);
  });
});
