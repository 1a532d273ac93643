import { afterEach, describe, expect, it } from 'vitest';
import { getAccount } from '../../lib/capture/accounts.js';
import { all, one, run } from '../../lib/db/client.js';
import { GmailStop } from '../../lib/gmail/types.js';
import { invoke } from '../../lib/core/fn.js';
import { beginAccountSync, defaultHooks } from '../../lib/capture/syncRunner.js';
import { LEASE_MS } from '../../lib/capture/runs.js';
import { enroll } from '../../functions/enroll.js';
import { runNow } from '../../functions/runNow.js';
import { syncAll } from '../../functions/syncAll.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addInvestor } from '../helpers/directory.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';
import type { FakeClock } from '../helpers/clock.js';

const ENV = { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test', CRM_GMAIL_BACKFILL_PAGE_SIZE: '2' };
const A = 'ann@fund.test';
const B = 'bob@fund.test';
const C = 'cat@fund.test';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function setup(env: Record<string, string> = {}) {
  const gmail = new FakeGmail();
  deps = await makeDeps({ env: { ...ENV, ...env }, gmail: () => gmail.factory() });
  await addInvestor(deps, 'Acme Capital', { domains: ['acme.test'], contacts: [{ name: 'Alice', emails: ['alice@acme.test'] }] });
  for (const e of [A, B, C]) await invoke(deps, enroll, { email: e, auth_method: 'dwd' });
  return gmail;
}

async function sync(email: string, hooks = {}) {
  const account = await getAccount(deps.db, { email });
  const begun = await beginAccountSync(deps, account, hooks);
  return begun.go!();
}

const count = async (sql: string, args: (string | number)[] = []) => Number((await one<{ n: number }>(deps.db, sql, args))!.n);

describe('backfill', () => {
  it('one message in three mailboxes → one email, three mappings', async () => {
    const gmail = await setup();
    const raw = eml({ from: 'alice@acme.test', to: [A, B], cc: [C], subject: 'Term sheet', messageId: '<ts-1@acme.test>' });
    for (const box of [A, B, C]) gmail.deliver(box, raw);
    for (const box of [A, B, C]) expect((await sync(box)).status).toBe('succeeded');
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(1);
    expect(await count('SELECT count(*) AS n FROM email_mailbox_messages')).toBe(3);
    const e = (await one<{ rfc822_message_id: string; is_matched: number }>(deps.db, 'SELECT * FROM emails'))!;
    expect(e.rfc822_message_id).toBe('ts-1@acme.test');
    expect(e.is_matched).toBe(1);
  });

  it('unmatched mail is stored metadata-only; matched mail keeps bodies and pending attachments', async () => {
    // Message by message, a file stays pending for the attachment step (the planner's own test saves it with the page).
    const gmail = await setup({ CRM_GMAIL_FETCH_STRATEGY: 'per-message' });
    gmail.deliver(A, eml({ from: B, to: [A], subject: 'Lunch?', body: 'internal secret body', attachment: { filename: 'menu.pdf', content: 'pdfbytes' } }));
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'Deck', body: 'investor body', attachment: { filename: 'deck.pdf', content: 'deckbytes' } }));
    await sync(A);
    const rows = await all<{ subject: string; body_text: string | null; body_html: string | null; snippet: string | null; is_matched: number; id: number }>(deps.db, 'SELECT * FROM emails ORDER BY subject');
    const deck = rows.find((r) => r.subject === 'Deck')!;
    const lunch = rows.find((r) => r.subject === 'Lunch?')!;
    expect(deck.is_matched).toBe(1);
    expect(deck.body_text).toContain('investor body');
    expect(lunch.is_matched).toBe(0);
    expect([lunch.body_text, lunch.body_html, lunch.snippet]).toEqual([null, null, null]);
    expect(await count('SELECT count(*) AS n FROM email_attachments WHERE email_id = ?', [lunch.id])).toBe(0);
    expect(await all(deps.db, 'SELECT filename, state FROM email_attachments WHERE email_id = ?', [deck.id])).toEqual([{ filename: 'deck.pdf', state: 'pending' }]);
    expect(deps.logs.text()).not.toContain('internal secret body');
  });

  it('drafts, chats, spam and trash are not captured at backfill', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'draft' }), { labelIds: ['DRAFT'] });
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'spam' }), { labelIds: ['SPAM'] });
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'trash' }), { labelIds: ['TRASH'] });
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'chat' }), { labelIds: ['CHAT'] });
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'kept' }));
    await sync(A);
    expect((await all<{ subject: string }>(deps.db, 'SELECT subject FROM emails')).map((r) => r.subject)).toEqual(['kept']);
  });

  it('a crash between pages and inside a page, then resume: exact results, nothing stored twice', async () => {
    const gmail = await setup();
    for (let i = 0; i < 7; i++) gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: `m${i}`, messageId: `<m${i}@acme.test>` }));
    // Between pages: the process dies right after the fetch page that brought the fourth email.
    const cut = async () => {
      if ((await count('SELECT count(*) AS n FROM emails')) === 4) throw new Error('power cut');
    };
    await expect(sync(A, { onPageCommitted: cut })).resolves.toMatchObject({ status: 'failed' });
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(4);
    // The pending list is the resume point: what is stored has left it, in the same transaction.
    expect(await count('SELECT count(*) AS n FROM email_pending_messages')).toBe(3);
    // Inside a page: the third fetch of the next run dies before the page commits.
    let gets = 0;
    gmail.fault = (_e, method) => {
      if (method === 'messages.get' && ++gets === 2) throw new Error('connection lost mid-page');
    };
    expect((await sync(A)).status).toBe('failed');
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(4);
    gmail.fault = undefined;
    const before = gmail.count('messages.get');
    const done = await sync(A);
    expect(done.status).toBe('succeeded');
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(7);
    expect(await count('SELECT count(*) AS n FROM email_mailbox_messages')).toBe(7);
    // The resumed run fetched only what was missing.
    expect(gmail.count('messages.get') - before).toBe(3);
    // Enumeration finished before the crash, so the resumed runs listed nothing again.
    expect(gmail.count('messages.list')).toBe(4);
    expect(await count('SELECT count(*) AS n FROM email_pending_messages')).toBe(0);
    const acc = await getAccount(deps.db, { email: A });
    expect(acc.backfill_history_id).toBeNull();
    expect(acc.history_id).not.toBeNull();
  });
});

describe('threads', () => {
  async function threadPartition(order: number[]) {
    const gmail = await setup();
    const root = eml({ from: 'alice@acme.test', to: [A], subject: 'Fund III', messageId: '<root@acme.test>' });
    const r1 = eml({ from: A, to: ['alice@acme.test'], cc: [B], subject: 'Re: Fund III', messageId: '<r1@fund.test>', inReplyTo: '<root@acme.test>', references: ['<root@acme.test>'] });
    const r2 = eml({ from: 'alice@acme.test', to: [B], subject: 'Re: Fund III', messageId: '<r2@acme.test>', inReplyTo: '<r1@fund.test>', references: ['<root@acme.test>', '<r1@fund.test>'] });
    const other = eml({ from: 'alice@acme.test', to: [C], subject: 'Unrelated', messageId: '<other@acme.test>' });
    const plan: [string, string][] = [[A, root], [B, r1], [B, r2], [C, other]];
    for (const i of order) gmail.deliver(plan[i]![0], plan[i]![1]);
    for (const i of order) await sync(plan[i]![0]);
    const rows = await all<{ rfc822_message_id: string; thread_id: number }>(deps.db, 'SELECT rfc822_message_id, thread_id FROM emails');
    const byThread = new Map<number, string[]>();
    for (const r of rows) byThread.set(r.thread_id, [...(byThread.get(r.thread_id) ?? []), r.rfc822_message_id].sort());
    const threads = await all<{ message_count: number }>(deps.db, 'SELECT message_count FROM email_threads ORDER BY message_count');
    await deps.cleanup();
    return { groups: [...byThread.values()].map((g) => g.join(',')).sort(), counts: threads.map((t) => t.message_count) };
  }

  it('thread merge is independent of delivery order (replies before roots)', async () => {
    const expected = { groups: ['other@acme.test', 'r1@fund.test,r2@acme.test,root@acme.test'], counts: [1, 3] };
    expect(await threadPartition([0, 1, 2, 3])).toEqual(expected);
    expect(await threadPartition([2, 3, 1, 0])).toEqual(expected);
    expect(await threadPartition([3, 2, 0, 1])).toEqual(expected);
  });
});

describe('incremental', () => {
  it('new mail, deletes and label changes arrive through history; deleted copies are marked, never erased', async () => {
    const gmail = await setup();
    const keep = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'one' }));
    const gone = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'two' }));
    await sync(A);
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'three' }));
    gmail.remove(A, gone);
    gmail.addLabels(A, keep, ['TRASH']);
    (deps.clock as FakeClock).advance(60_000);
    const r = await sync(A);
    expect(r).toMatchObject({ kind: 'incremental', status: 'succeeded', messages_stored: 1 });
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(3);
    const copies = await all<{ gmail_message_id: string; deleted_at: string | null; label_ids: string }>(deps.db, 'SELECT * FROM email_mailbox_messages');
    expect(copies.find((c) => c.gmail_message_id === gone)!.deleted_at).not.toBeNull();
    expect(JSON.parse(copies.find((c) => c.gmail_message_id === keep)!.label_ids)).toContain('TRASH');
    expect(await count("SELECT count(*) AS n FROM emails WHERE subject = 'two'")).toBe(1);
  });

  it('history 404 → full backfill, nothing stored twice', async () => {
    const gmail = await setup();
    for (let i = 0; i < 3; i++) gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: `s${i}` }));
    await sync(A);
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'late' }));
    gmail.expireHistory(A);
    const gets = gmail.count('messages.get');
    const r = await sync(A);
    expect(r).toMatchObject({ kind: 'backfill', status: 'succeeded', messages_stored: 1 });
    expect(gmail.count('messages.get') - gets).toBe(1);
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(4);
    const runs = await all<{ kind: string }>(deps.db, 'SELECT kind FROM email_sync_runs ORDER BY id');
    expect(runs.map((x) => x.kind)).toEqual(['backfill', 'backfill']);
  });

  it('a mailbox not synced for longer than the stale window gets a backfill', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 's' }));
    await sync(A);
    await (deps.clock as FakeClock).advance(6 * 86_400_000);
    expect((await sync(A)).kind).toBe('backfill');
  });

  it('historyIds are compared as BigInt (beyond 2^53)', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 's' }));
    await sync(A);
    const acc = await getAccount(deps.db, { email: A });
    expect(BigInt(acc.history_id!)).toBe(gmail.mailbox(A).historyId);
    expect(acc.history_id).toBe(gmail.mailbox(A).historyId.toString());
  });

  it('a pace below the budget is remembered on the account; at the budget nothing is learned', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 's' }));
    await sync(A);
    expect((await getAccount(deps.db, { email: A })).learned_units_sec).toBeNull();
    gmail.pace = 61.237;
    await sync(A);
    expect((await getAccount(deps.db, { email: A })).learned_units_sec).toBe(61.24);
    // A run that fails before Gmail is reached keeps what was learned.
    gmail.fault = () => {
      throw new Error('network down');
    };
    await sync(A);
    expect((await getAccount(deps.db, { email: A })).learned_units_sec).toBe(61.24);
  });
});

describe('runs, leases and failures', () => {
  it('DWD denied for one mailbox while the others finish', async () => {
    const gmail = await setup();
    for (const box of [A, B, C]) gmail.deliver(box, eml({ from: 'alice@acme.test', to: [box], subject: `hi ${box}` }));
    gmail.fault = (email) => {
      if (email === B) throw new GmailStop('auth_error', 'Domain-wide delegation is not authorised for this client');
    };
    const r = await invoke(deps, syncAll, {});
    const byAccount = Object.fromEntries(r.runs.map((x) => [x.account, x.status]));
    expect(byAccount).toEqual({ [A]: 'succeeded', [B]: 'failed', [C]: 'succeeded' });
    const b = await getAccount(deps.db, { email: B });
    expect(b.state).toBe('auth_error');
    expect(b.last_error).toContain('Domain-wide delegation');
    // The scheduler skips it until the admin fixes it; run-now tries again.
    const again = await invoke(deps, syncAll, {});
    expect(again.runs.map((x) => x.account).sort()).toEqual([A, C]);
  });

  it('two concurrent run-now calls start one run per mailbox', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'x' }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    gmail.fault = async (_e, method) => {
      if (method === 'getProfile') await gate;
    };
    const [r1, r2] = await Promise.all([invoke(deps, runNow, { email: A }), invoke(deps, runNow, { email: A })]);
    const runs = [...r1.runs, ...r2.runs];
    expect(runs.filter((r) => !r.already_running)).toHaveLength(1);
    expect(runs.filter((r) => r.already_running)).toHaveLength(1);
    expect(runs[0]!.id).toBe(runs[1]!.id);
    expect(await one(deps.db, 'SELECT status FROM email_sync_runs WHERE id = ?', [runs[0]!.id])).toEqual({ status: 'running' });
    release();
    await deps.background.idle();
    expect(await count("SELECT count(*) AS n FROM email_sync_runs WHERE status = 'succeeded'")).toBe(1);
  });

  it('an expired lease is taken over and its run closed as interrupted', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'x' }));
    const account = await getAccount(deps.db, { email: A });
    const crashed = await beginAccountSync(deps, account); // its holder "dies": go() never runs
    const blocked = await beginAccountSync(deps, account);
    expect(blocked.run).toMatchObject({ id: crashed.run.id, already_running: true });
    await (deps.clock as FakeClock).advance(16 * 60_000);
    const r = await sync(A);
    expect(r.status).toBe('succeeded');
    expect(await one(deps.db, 'SELECT status, error FROM email_sync_runs WHERE id = ?', [crashed.run.id])).toEqual({ status: 'failed', error: 'interrupted' });
  });

  it('attachment downloads after the pages extend the lease, so a long download is not taken over', async () => {
    // Message by message, files are left to the attachment step.
    const gmail = await setup({ CRM_GMAIL_FETCH_STRATEGY: 'per-message' });
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'deck', attachment: { filename: 'deck.pdf', content: 'pdf' } }));
    // Mail in, attachment pending: a sync without the attachment step.
    await sync(A);
    const account = await getAccount(deps.db, { email: A });
    await beginAccountSync(deps, account);
    const lease = (await one<{ lease_owner: string; lease_run_id: number }>(deps.db, 'SELECT lease_owner, lease_run_id FROM email_accounts WHERE id = ?', [account.id]))!;
    gmail.fault = async (_e, method) => {
      // The download takes longer than a lease lasts.
      if (method === 'messages.attachments.get') await (deps.clock as FakeClock).advance(16 * 60_000);
    };
    const saved = await defaultHooks.afterSync!(deps, gmail.api(A), account, { accountId: account.id, owner: lease.lease_owner, runId: lease.lease_run_id });
    expect(saved).toBe(1);
    const after = (await one<{ lease_expires_at: string }>(deps.db, 'SELECT lease_expires_at FROM email_accounts WHERE id = ?', [account.id]))!;
    expect(Date.parse(after.lease_expires_at)).toBe(deps.clock.now() + LEASE_MS);
    expect((await beginAccountSync(deps, account)).run.already_running).toBe(true);
  });

  it('run-now: unknown mailbox 404, paused mailbox 409', async () => {
    await setup();
    await expect(invoke(deps, runNow, { email: 'nobody@fund.test' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await run(deps.db, 'UPDATE email_accounts SET sync_enabled = 0 WHERE email = ?', [A]);
    await expect(invoke(deps, runNow, { email: A })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
