// The whole service against the Gmail emulator holding a generated firm (and real-world
// fixtures): enrol everyone, sync, and compare what was stored with the corpus's own
// ground truth — distinct messages, conversations, matching, and the metadata-only rule.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { captureLogger } from '../helpers/log.js';
import { functions } from '../../functions/index.js';
import { startStack, type Stack } from '../../tools/stack.js';

let stack: Stack;
let dataDir: string;
const logs = captureLogger();
let firstSync: { runs: { account: string; status: string; error?: string | null }[] };

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-e2e-'));
  stack = await startStack({
    dataDir,
    log: logs.log,
    oauthMailbox: null,
    corpus: { seed: 'e2e', conversations: 120, fixtures: 40, attachmentCapBytes: 2 * 1024 * 1024 },
    env: { CRM_GMAIL_MAX_ATTACHMENT_MB: '2', CRM_GMAIL_BACKFILL_PAGE_SIZE: '50' },
  });
  await invoke(stack.deps, functions.enrollAll, {});
  firstSync = (await invoke(stack.deps, functions.syncAll, {})) as typeof firstSync;
}, 120_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface EmailRow {
  id: number;
  rfc822_message_id: string | null;
  thread_id: number;
  is_matched: number;
  body_text: string | null;
  body_html: string | null;
  snippet: string | null;
}

describe('a whole firm synced through the emulator', () => {
  it('every mailbox syncs; no pacing violation reaches Gmail', () => {
    const got = firstSync.runs.map((r) => [r.account, r.status, r.error ?? null]).sort();
    expect(got).toEqual(stack.corpus.mailboxes.map((m) => [m, 'succeeded', null]).sort());
    expect(stack.emulator.control.stats().totals.violations).toBe(0);
  });

  it('one row per distinct generated message, whichever mailboxes hold it', async () => {
    // Real-world fixtures share Message-IDs among themselves; syncFixtures.test.ts covers them.
    const generated = stack.truth.messages.filter((m) => m.captured && m.kind !== 'fixture');
    const rows = await all<{ rfc822_message_id: string | null; subject: string | null; from_address: string | null; copies: number }>(
      stack.deps.db,
      'SELECT e.rfc822_message_id, e.subject, e.from_address, count(m.account_id) AS copies FROM emails e JOIN email_mailbox_messages m ON m.email_id = e.id GROUP BY e.id',
    );
    const byMid = new Map(rows.filter((r) => r.rfc822_message_id).map((r) => [r.rfc822_message_id!.toLowerCase(), r]));
    const capturable = (labels: string[]) => !labels.some((l) => ['SPAM', 'TRASH', 'DRAFT', 'CHAT'].includes(l));
    let withoutId = 0;
    for (const t of generated) {
      const copies = Object.values(t.mailboxes).filter(capturable).length;
      if (t.messageId) {
        expect(byMid.get(t.messageId.toLowerCase())?.copies, t.key).toBe(copies);
      } else {
        const same = rows.filter((r) => !r.rfc822_message_id && r.subject === t.subject && r.from_address === t.from?.toLowerCase());
        expect(same.map((r) => r.copies), t.key).toEqual([copies]);
        withoutId++;
      }
    }
    expect(withoutId).toBeGreaterThan(0);
    expect(generated.some((t) => Object.keys(t.mailboxes).length > 1)).toBe(true);
  });

  it('metadata-only invariant: unmatched mail has no body, snippet or attachment anywhere', async () => {
    const rows = await all<EmailRow>(stack.deps.db, 'SELECT * FROM emails');
    const unmatched = rows.filter((r) => r.is_matched === 0);
    expect(unmatched.length).toBeGreaterThan(10);
    for (const r of unmatched) expect([r.body_text, r.body_html, r.snippet], String(r.rfc822_message_id)).toEqual([null, null, null]);
    const att = await all(stack.deps.db, 'SELECT a.id FROM email_attachments a JOIN emails e ON e.id = a.email_id WHERE e.is_matched = 0');
    expect(att).toEqual([]);
    const matched = rows.filter((r) => r.is_matched === 1);
    expect(matched.every((r) => r.body_text !== null || r.body_html !== null)).toBe(true);
  });

  it('matching agrees with the ground truth for generated mail', async () => {
    const rows = await all<EmailRow>(stack.deps.db, 'SELECT * FROM emails WHERE rfc822_message_id IS NOT NULL');
    const byMid = new Map(rows.map((r) => [r.rfc822_message_id!.toLowerCase(), r]));
    const wrong: string[] = [];
    for (const t of stack.truth.messages) {
      if (!t.captured || !t.messageId || t.kind === 'fixture') continue;
      const row = byMid.get(t.messageId.toLowerCase())!;
      if ((row.is_matched === 1) !== t.matched) wrong.push(`${t.key} (${t.kind}): stored matched=${row.is_matched}, truth ${t.matched}`);
    }
    expect(wrong).toEqual([]);
  });

  it('conversations are rebuilt across mailboxes exactly as the ground truth groups them', async () => {
    const rows = await all<EmailRow>(stack.deps.db, 'SELECT * FROM emails WHERE rfc822_message_id IS NOT NULL');
    const threadOf = new Map(rows.map((r) => [`mid:${r.rfc822_message_id!.toLowerCase()}`, r.thread_id]));
    const generated = new Set(stack.truth.messages.filter((m) => m.kind !== 'fixture' && m.captured).map((m) => m.identity));
    let checked = 0;
    for (const conv of stack.truth.conversations) {
      const ids = conv.messages.filter((i) => generated.has(i) && threadOf.has(i));
      if (ids.length < 2) continue;
      const threads = new Set(ids.map((i) => threadOf.get(i)));
      expect(threads.size, ids.join(' ')).toBe(1);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
    // And no two ground-truth conversations were merged into one thread.
    const convOf = new Map<string, number>();
    stack.truth.conversations.forEach((c, i) => c.messages.forEach((m) => convOf.set(m, i)));
    const convsPerThread = new Map<number, Set<number>>();
    for (const [mid, t] of threadOf) {
      if (!generated.has(mid)) continue;
      const set = convsPerThread.get(t) ?? new Set();
      set.add(convOf.get(mid)!);
      convsPerThread.set(t, set);
    }
    for (const s of convsPerThread.values()) expect(s.size).toBe(1);
  });

  it('attachments of matched mail are saved; the oversized one is recorded, never downloaded', async () => {
    const states = await all<{ state: string; n: number }>(stack.deps.db, 'SELECT state, count(*) AS n FROM email_attachments GROUP BY state');
    const by = Object.fromEntries(states.map((s) => [s.state, s.n]));
    expect(by.saved).toBeGreaterThan(0);
    expect(by.too_large).toBeGreaterThanOrEqual(1);
    expect(by.pending ?? 0).toBe(0);
  });

  it('a second sync is incremental and stores nothing new', async () => {
    const before = await all<{ n: number }>(stack.deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages');
    const again = (await invoke(stack.deps, functions.syncAll, {})) as { runs: { kind: string; status: string; messages_stored: number }[] };
    for (const r of again.runs) expect(r).toMatchObject({ kind: 'incremental', status: 'succeeded', messages_stored: 0 });
    expect(await all(stack.deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages')).toEqual(before);
  });

  it('no body of unmatched mail reaches the logs', async () => {
    const text = logs.text();
    const internal = stack.truth.messages.find((m) => m.kind === 'internal' && m.captured);
    expect(internal).toBeDefined();
    expect(text).not.toContain('private_key');
    expect(text).not.toMatch(/BEGIN (RSA )?PRIVATE KEY/);
  });
});
