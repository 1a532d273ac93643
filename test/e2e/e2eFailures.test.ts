// Refusals from Google through the real client against the emulator: one mailbox stops
// with a message that tells the admin what to fix; the others finish; run-now retries it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { getAccount } from '../../lib/capture/accounts.js';
import { invoke } from '../../lib/core/fn.js';
import { captureLogger } from '../helpers/log.js';
import { functions } from '../../functions/index.js';
import { startStack, type Stack } from '../../tools/stack.js';

let stack: Stack | undefined;
let dataDir: string;
afterEach(async () => {
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function start() {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-e2e-fail-'));
  stack = await startStack({ dataDir, log: captureLogger().log, oauthMailbox: null, corpus: { seed: 'fail', conversations: 20, fixtures: false } });
  await invoke(stack.deps, functions.enrollAll, {});
  return stack;
}

type Runs = { runs: { account: string; status: string; error?: string | null }[] };

it('DWD not authorised for one mailbox: auth_error with the fix named, the others succeed, run-now retries it', async () => {
  const s = await start();
  const [denied, ...others] = s.corpus.mailboxes;
  s.emulator.control.setDwdAuthorised(denied!, false);
  const r = (await invoke(s.deps, functions.syncAll, {})) as Runs;
  const byAccount = Object.fromEntries(r.runs.map((x) => [x.account, x.status]));
  expect(byAccount[denied!]).toBe('failed');
  for (const o of others) expect(byAccount[o]).toBe('succeeded');
  const acc = await getAccount(s.deps.db, { email: denied! });
  expect(acc.state).toBe('auth_error');
  expect(acc.last_error).toMatch(/Domain-wide delegation/i);
  expect(acc.last_error).toContain('gmail.readonly');
  // Not retried by the scheduler; one token request only (no retry storm).
  expect(s.emulator.control.stats().token['jwt-bearer:unauthorized_client']).toBe(1);
  const skipped = (await invoke(s.deps, functions.syncAll, {})) as Runs;
  expect(skipped.runs.map((x) => x.account)).not.toContain(denied);
  // The admin fixes delegation; run-now tries again.
  s.emulator.control.setDwdAuthorised(denied!, true);
  await invoke(s.deps, functions.runNow, { email: denied });
  await s.deps.background.idle();
  expect((await getAccount(s.deps.db, { email: denied! })).state).toBe('idle');
});

it('a suspended mailbox is auth_error with the reason; the history-expired mailbox backfills without storing twice', async () => {
  const s = await start();
  const [suspended, other] = s.corpus.mailboxes;
  s.emulator.control.setSuspended(suspended!, true);
  await invoke(s.deps, functions.syncAll, {});
  const acc = await getAccount(s.deps.db, { email: suspended! });
  expect(acc.state).toBe('auth_error');
  expect(acc.last_error).toMatch(/Invalid email or User ID|suspended|unknown/i);

  const stored = await s.deps.db.execute('SELECT count(*) FROM email_mailbox_messages');
  // New mail arrives, then Gmail forgets the history that would have told us.
  const late = `From: someone@elsewhere.test\r\nTo: ${other}\r\nSubject: late\r\nMessage-ID: <late@elsewhere.test>\r\nDate: Mon, 1 Sep 2025 10:00:00 +0000\r\n\r\nhi\r\n`;
  s.emulator.control.deliver(Buffer.from(late), { to: [other!] });
  s.emulator.control.expireHistory(other!, { before: Date.now() + 1000 });
  const r = (await invoke(s.deps, functions.runNow, { email: other })) as { runs: { id: number }[] };
  await s.deps.background.idle();
  const run = await s.deps.db.execute({ sql: 'SELECT kind, status, messages_stored FROM email_sync_runs WHERE id = ?', args: [r.runs[0]!.id] });
  expect(run.rows[0]).toMatchObject({ kind: 'backfill', status: 'succeeded', messages_stored: 1 });
  expect((await s.deps.db.execute('SELECT count(*) FROM email_mailbox_messages')).rows[0]![0]).toBe(Number(stored.rows[0]![0]) + 1);
});
