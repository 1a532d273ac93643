// Account states and run rows when Gmail misbehaves as it does in production, seen
// only through the HTTP API (run-now, runs, accounts, status) on the emulator: a mailbox
// without Gmail, the daily limit, a message deleted between list and get, an expired access
// token, and a revoked OAuth consent. One mailbox's failure never stops the others.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { captureLogger } from '../helpers/log.js';
import { startStack, type Stack } from '../../tools/stack.js';
import { contractViolations } from './shape.js';

let stack: Stack | undefined;
let dataDir: string;
let token: string;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

async function http(method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack!.url}${p}`, {
    method,
    redirect: 'manual',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : null;
  expect(contractViolations(parsed, `${method} ${p}`)).toEqual([]);
  return { status: res.status, body: parsed };
}

async function start(oauthMailbox: string | null = null) {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-contract-refusal-'));
  stack = await startStack({ dataDir, log: captureLogger().log, oauthMailbox, corpus: { seed: 'refusals', conversations: 12, fixtures: false, partners: 3 } });
  token = (await http('POST', '/api/auth/login', { username: stack.admin.username, password: stack.admin.password })).body.token;
  expect((await http('POST', '/api/email/accounts/enroll-all')).status).toBeLessThan(300);
  return stack;
}

/** run-now for everyone (or one mailbox), waited for; the runs it started, by mailbox. */
async function runNow(email?: string): Promise<Record<string, { status: string; kind: string; error: string | null; messages_stored: number }>> {
  const r = await http('POST', '/api/email/sync/run-now', email ? { email } : {});
  expect(r.status).toBe(202);
  await stack!.deps.background.idle();
  const ids = new Set(r.body.runs.map((x: { id: number }) => x.id));
  const runs = (await http('GET', '/api/email/sync/runs?limit=100')).body.runs.filter((x: { id: number }) => ids.has(x.id));
  return Object.fromEntries(runs.map((x: { account: string }) => [x.account, x]));
}

async function account(email: string): Promise<{ state: string; last_error: string | null; sync_enabled: boolean }> {
  return (await http('GET', '/api/email/accounts')).body.accounts.find((a: { email: string }) => a.email === email);
}

it('a mailbox without Gmail (400 failedPrecondition): auth_error with the reason, run failed, status unhealthy; the others succeed', async () => {
  const s = await start();
  const [broken, ...others] = s.corpus.mailboxes;
  s.emulator.control.updateMailbox(broken!, { hasGmail: false });
  const runs = await runNow();
  expect(runs[broken!]).toMatchObject({ status: 'failed' });
  expect(runs[broken!]!.error).toBeTruthy();
  for (const o of others) expect(runs[o]).toMatchObject({ status: 'succeeded' });
  const acc = await account(broken!);
  expect(acc.state).toBe('auth_error');
  expect(acc.last_error).toBeTruthy();
  expect((await http('GET', '/api/email/status')).body.healthy).toBe(false);
});

it('the daily limit (403 dailyLimitExceeded) stops that mailbox in state error, not retried in a loop; the others succeed', async () => {
  const s = await start();
  const [limited, ...others] = s.corpus.mailboxes;
  s.emulator.control.failNext({ method: 'messages.get', email: limited, fault: 'dailyLimit', count: 50 });
  const runs = await runNow();
  expect(runs[limited!]).toMatchObject({ status: 'failed' });
  expect(runs[limited!]!.error).toMatch(/daily/i);
  for (const o of others) expect(runs[o]).toMatchObject({ status: 'succeeded' });
  expect((await account(limited!)).state).toBe('error');
  // Stopped, not retried: at most the requests already in flight (8 per mailbox) met the limit.
  expect(s.emulator.control.stats().mailboxes[limited!]!.calls['messages.get'] ?? 0).toBeLessThanOrEqual(8);
  s.emulator.control.clearFailNext();
  // The next run starts over and succeeds: a successful run sets idle.
  expect((await runNow(limited))[limited!]).toMatchObject({ status: 'succeeded' });
  expect((await account(limited!)).state).toBe('idle');
});

it('a message deleted between list and get (404) is skipped; the run succeeds and stores the rest', async () => {
  const s = await start();
  const box = s.corpus.mailboxes[0]!;
  const capturable = s.emulator.control.messages(box).filter((m) => !m.labelIds.some((l) => ['SPAM', 'TRASH', 'DRAFT', 'CHAT'].includes(l))).length;
  s.emulator.control.failNext({ method: 'messages.get', email: box, fault: 'notFound' });
  const runs = await runNow(box);
  expect(runs[box]).toMatchObject({ status: 'succeeded' });
  expect(runs[box]!.messages_stored).toBe(capturable - 1);
  expect((await account(box)).state).toBe('idle');
});

it('an access token Gmail no longer accepts (401) is refreshed once and the run goes on', async () => {
  const s = await start();
  const box = s.corpus.mailboxes[1]!;
  s.emulator.control.failNext({ method: 'messages.list', email: box, fault: 'unauthenticated' });
  const runs = await runNow(box);
  expect(runs[box]).toMatchObject({ status: 'succeeded' });
  expect((await account(box)).state).toBe('idle');
});

it('a revoked OAuth consent (invalid_grant) is needs_consent and unhealthy; run-now tries it again', async () => {
  const s = await start('advisor@venture-partner.test');
  const mailbox = s.oauthMailbox!;
  expect((await http('POST', '/api/email/accounts/enroll', { email: mailbox, auth_method: 'oauth' })).status).toBe(201);
  const link = await http('GET', `/api/email/oauth/start?email=${encodeURIComponent(mailbox)}`);
  expect(link.status).toBe(302);
  expect((await fetch(link.body.url, { redirect: 'follow' })).status).toBe(200);
  expect((await runNow(mailbox))[mailbox]).toMatchObject({ status: 'succeeded' });

  s.emulator.control.revokeRefreshTokens({ email: mailbox });
  s.emulator.control.revokeAccessTokens({ email: mailbox });
  const runs = await runNow(mailbox);
  expect(runs[mailbox]).toMatchObject({ status: 'failed' });
  expect((await account(mailbox)).state).toBe('needs_consent');
  expect((await http('GET', '/api/email/status')).body.healthy).toBe(false);
  // run-now still tries it (the scheduler would skip it).
  const again = await http('POST', '/api/email/sync/run-now', { email: mailbox });
  expect(again.status).toBe(202);
  expect(again.body.runs).toEqual([expect.objectContaining({ account: mailbox, already_running: false })]);
  await s.deps.background.idle();
});
