// The sync engine under stress: mail restored from Trash, a rejected page token, a directory
// change during a sync, messages that cannot be stored, unenrolment racing a start, and a
// lease kept alive by its holder's heartbeat.
import { afterEach, describe, expect, it } from 'vitest';
import { deleteAccount } from '../../functions/deleteAccount.js';
import { enroll } from '../../functions/enroll.js';
import { runNow } from '../../functions/runNow.js';
import { status } from '../../functions/status.js';
import { getAccount, instanceOf, LEASE_MS, HEARTBEAT_MS, renewHeldLeases, setSyncEnabled } from '../../lib/capture/accounts.js';
import { beginSync, sweepDeadRuns, takeOverAtStart } from '../../lib/capture/runs.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import type { FakeClock } from '../helpers/clock.js';
import { invoke } from '../../lib/core/fn.js';
import { all, one, run } from '../../lib/db/client.js';
import { InvalidPageToken } from '../../lib/gmail/types.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addInvestor } from '../helpers/directory.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';
import { emulatorWorld } from '../helpers/mail.js';

const ENV = { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test', CRM_GMAIL_BACKFILL_PAGE_SIZE: '2' };
const A = 'ann@fund.test';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function setup() {
  const gmail = new FakeGmail();
  deps = await makeDeps({ env: ENV, gmail: () => gmail.factory() });
  await addInvestor(deps, 'Acme Capital', { domains: ['acme.test'], contacts: [{ name: 'Alice', emails: ['alice@acme.test'] }] });
  await invoke(deps, enroll, { email: A, auth_method: 'dwd' });
  return gmail;
}

async function sync(email = A, hooks = {}) {
  const begun = await beginAccountSync(deps, await getAccount(deps.db, { email }), hooks);
  return begun.go!();
}

const clock = () => deps.clock as FakeClock;
const count = async (sql: string, args: (string | number)[] = []) => Number((await one<{ n: number }>(deps.db, sql, args))!.n);

describe('incremental history', () => {
  it('mail restored from Trash is captured, like mail rescued from Spam', async () => {
    const gmail = await setup();
    const trashed = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'binned' }), { labelIds: ['TRASH'] });
    const spam = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'junk' }), { labelIds: ['SPAM'] });
    await sync();
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(0);
    gmail.removeLabels(A, trashed, ['TRASH']);
    gmail.removeLabels(A, spam, ['SPAM']);
    await clock().advance(60_000);
    const r = await sync();
    expect(r).toMatchObject({ kind: 'incremental', status: 'succeeded', messages_stored: 2 });
    expect((await all<{ subject: string }>(deps.db, 'SELECT subject FROM emails ORDER BY subject')).map((e) => e.subject)).toEqual(['binned', 'junk']);
  });
});

describe('backfill listing', () => {
  it('a stored page token Gmail rejects restarts the listing from the start; nothing is stored twice', async () => {
    const gmail = await setup();
    for (let i = 0; i < 5; i++) gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: `s${i}` }));
    const crash = await sync(A, {
      onPageCommitted: () => {
        throw new Error('crash after the first page');
      },
    });
    expect(crash.status).toBe('failed');
    expect((await getAccount(deps.db, { email: A })).backfill_page_token).not.toBeNull();
    let rejected = 0;
    gmail.fault = (_e, method, args) => {
      const opts = args[0] as { pageToken?: string } | undefined;
      if (method === 'messages.list' && opts?.pageToken && rejected === 0) {
        rejected++;
        throw new InvalidPageToken('Gmail messages.list answered 400 badRequest: Invalid pageToken');
      }
    };
    const r = await sync();
    expect(r.status).toBe('succeeded');
    expect(rejected).toBe(1);
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(5);
    expect(await count('SELECT count(*) AS n FROM email_mailbox_messages')).toBe(5);
    expect(gmail.count('messages.get')).toBe(5);
  });
});

describe('a directory change during a sync', () => {
  it('a page fetched before the change is matched again before it is stored: new contact, exclusion, deleted contact', async () => {
    const gmail = await setup();
    const gone = await addInvestor(deps, 'Gone Ltd', { contacts: [{ name: 'Gus', emails: ['gus@gone.test'] }] });
    gmail.deliver(A, eml({ from: 'carol@newco.test', to: [A], subject: 'from carol', body: 'carol body' }));
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'from alice', body: 'alice body' }));
    gmail.deliver(A, eml({ from: 'gus@gone.test', to: [A], subject: 'from gus', body: 'gus body' }));
    let changed = false;
    gmail.fault = async (_e, method) => {
      if (method !== 'messages.get' || changed) return;
      changed = true;
      // Committed while the page is being fetched, as an admin's edits would be.
      const now = new Date(deps.clock.now()).toISOString();
      await addInvestor(deps, 'NewCo', { contacts: [{ name: 'Carol', emails: ['carol@newco.test'] }] });
      await run(deps.db, 'INSERT INTO exclusions (address, created_at) VALUES (?, ?)', ['alice@acme.test', now]);
      await run(deps.db, 'DELETE FROM contacts WHERE investor_id = ?', [gone]);
      await run(deps.db, 'DELETE FROM investors WHERE id = ?', [gone]);
    };
    const r = await sync();
    expect(r.status).toBe('succeeded');
    const rows = await all<{ subject: string; is_matched: number; body_text: string | null }>(deps.db, 'SELECT subject, is_matched, body_text FROM emails ORDER BY subject');
    expect(rows.map((e) => [e.subject, e.is_matched, e.body_text?.trim() ?? null])).toEqual([
      ['from alice', 0, null],
      ['from carol', 1, 'carol body'],
      ['from gus', 0, null],
    ]);
    expect(deps.logs.lines.some((l) => l.event === 'sync.directory_reloaded')).toBe(true);
  });
});

describe('a message that cannot be stored', () => {
  it('is recorded on the run with its Gmail id and skipped; the rest of its page is stored; after 3 tries it is left alone', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'good one' }));
    const bad = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'bad one' }));
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'good two' }));
    // The database refuses this one message's rows, as a constraint on hostile content would.
    await deps.db.execute(
      `CREATE TRIGGER refuse_bad BEFORE INSERT ON email_mailbox_messages WHEN NEW.gmail_message_id = '${bad}' BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END`,
    );
    const first = await sync();
    expect(first.status).toBe('succeeded');
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(2);
    const runRow = (await one<{ error: string; messages_failed: number }>(deps.db, 'SELECT error, messages_failed FROM email_sync_runs WHERE id = ?', [first.run_id]))!;
    expect(runRow.messages_failed).toBe(1);
    expect(runRow.error).toContain(bad);
    expect(runRow.error).toMatch(/cannot be stored/);
    let fetchesOfBad = 1;
    gmail.fault = (_e, method, args) => {
      if (method === 'messages.get' && args[0] === bad) fetchesOfBad++;
    };
    for (let i = 0; i < 3; i++) {
      // History lost: each run is a backfill that lists the mailbox again.
      gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: `later ${i}` }));
      gmail.expireHistory(A);
      await clock().advance(60_000);
      expect((await sync()).status).toBe('succeeded');
    }
    // Three tries in all; the fourth backfill no longer asks Gmail for it.
    expect(await one(deps.db, 'SELECT attempts FROM email_message_failures WHERE gmail_message_id = ?', [bad])).toEqual({ attempts: 3 });
    expect(fetchesOfBad).toBe(3);
    expect(await count('SELECT count(*) AS n FROM emails')).toBe(5);
    const s = await invoke(deps, status, {});
    expect(s.accounts[0]).toMatchObject({ messages_given_up: 1 });
  });
});

describe('unenrolment and pausing race a starting sync', () => {
  it('a sync begun from a stale account row after an unenrol or a pause does not start', async () => {
    await setup();
    const stale = await getAccount(deps.db, { email: A });
    await setSyncEnabled(deps.db, stale.id, false, new Date(deps.clock.now()).toISOString());
    await expect(beginAccountSync(deps, stale)).rejects.toMatchObject({ code: 'CONFLICT' });
    await setSyncEnabled(deps.db, stale.id, true, new Date(deps.clock.now()).toISOString());
    await invoke(deps, deleteAccount, { id: stale.id });
    await expect(beginAccountSync(deps, stale)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await count("SELECT count(*) AS n FROM email_sync_runs WHERE status = 'running'")).toBe(0);
  });

  it('unenrolling a mailbox whose run holds the lease answers 409, checked inside the write', async () => {
    await setup();
    const acc = await getAccount(deps.db, { email: A });
    const begun = await beginAccountSync(deps, acc);
    await expect(invoke(deps, deleteAccount, { id: acc.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    await begun.go!();
    await invoke(deps, deleteAccount, { id: acc.id });
  });
});

describe('leases follow their holder', () => {
  it('a run kept waiting longer than the lease (a long Retry-After) keeps its lease by the heartbeat; another process cannot take over', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'slow' }));
    const other = { ...deps, instanceId: 'another-process' };
    let probe: Awaited<ReturnType<typeof beginSync>> | undefined;
    gmail.fault = async (_e, method) => {
      if (method !== 'messages.get' || probe) return;
      // Gmail asked this run to wait five minutes; its process's heartbeat keeps renewing.
      for (let t = 0; t < 5 * 60_000; t += HEARTBEAT_MS) {
        await clock().advance(HEARTBEAT_MS);
        await renewHeldLeases(deps.db, instanceOf(deps), deps.clock.now());
      }
      probe = await beginSync(other, (await getAccount(deps.db, { email: A })).id, 'incremental');
    };
    const r = await sync();
    expect(probe).toMatchObject({ started: false });
    expect(r.status).toBe('succeeded');
  });

  it('without a heartbeat the lease of a dead holder runs out within a minute and the next caller takes over', async () => {
    await setup();
    const acc = await getAccount(deps.db, { email: A });
    const dead = await beginSync({ ...deps, instanceId: 'dead-process' }, acc.id, 'backfill');
    expect(dead.started).toBe(true);
    await clock().advance(LEASE_MS - 1000);
    expect((await beginAccountSync(deps, acc)).run.already_running).toBe(true);
    await clock().advance(1000);
    const r = await invoke(deps, runNow, { email: A });
    expect(r.runs[0]).toMatchObject({ already_running: false });
    await deps.background.idle();
    expect(await one(deps.db, 'SELECT status, error FROM email_sync_runs WHERE id = ?', [(dead as { lease: { runId: number } }).lease.runId])).toEqual({ status: 'failed', error: 'interrupted' });
  });

  it('on a shared database, a run whose holder stopped renewing is closed interrupted by the sweep after any run', async () => {
    await setup();
    const acc = await getAccount(deps.db, { email: A });
    const dead = await beginSync({ ...deps, instanceId: 'dead-process' }, acc.id, 'backfill');
    expect(await sweepDeadRuns(deps)).toBe(0);
    await clock().advance(LEASE_MS);
    expect(await sweepDeadRuns(deps)).toBe(1);
    expect(await one(deps.db, 'SELECT status, error FROM email_sync_runs WHERE id = ?', [(dead as { lease: { runId: number } }).lease.runId])).toEqual({ status: 'failed', error: 'interrupted' });
    expect(await one(deps.db, 'SELECT state, lease_owner FROM email_accounts WHERE id = ?', [acc.id])).toEqual({ state: 'error', lease_owner: null });
  });

  it('a process on an embedded database takes over every lease not its own at start; run-now then starts a run at once', async () => {
    await setup();
    const acc = await getAccount(deps.db, { email: A });
    const dead = await beginSync({ ...deps, instanceId: 'killed-process' }, acc.id, 'backfill');
    expect(dead.started).toBe(true);
    const taken = await takeOverAtStart({ ...deps, instanceId: 'restarted-process' });
    expect(taken.map((t) => t.email)).toEqual([A]);
    expect(await one(deps.db, 'SELECT status, error FROM email_sync_runs')).toEqual({ status: 'failed', error: 'interrupted' });
    expect((await getAccount(deps.db, { email: A })).state).toBe('error');
    const r = await invoke({ ...deps, instanceId: 'restarted-process' }, runNow, { email: A });
    expect(r.runs[0]).toMatchObject({ already_running: false });
    await deps.background.idle();
  });
});

describe('a page token Gmail refuses, through the production client', () => {
  it('the emulator\'s 400 "Invalid pageToken" comes back as InvalidPageToken; a bad first page is not mistaken for one', async () => {
    const world = await emulatorWorld(['tok@fund.example']);
    try {
      const gmail = world.deps.gmail({ id: 1, email: 'tok@fund.example', auth_method: 'dwd' });
      await expect(world.run(gmail.listMessages({ maxResults: 10, pageToken: 'not-a-token' }))).rejects.toBeInstanceOf(InvalidPageToken);
      await expect(world.run(gmail.listMessages({ maxResults: 10 }))).resolves.toMatchObject({ messages: [] });
    } finally {
      await world.close();
    }
  });
});
