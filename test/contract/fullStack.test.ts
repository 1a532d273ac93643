// The whole service on a real socket against the Gmail emulator, driven only through the HTTP
// API as an operator would with curl: sign in, enrol, run-now, read runs, status, every
// investor's threads, their messages and files, and an OAuth mailbox from consent to sync.
// Every JSON answer is held to the API's value types (integer ids, boolean flags, ISO times).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../tools/stack.js';
import { captureLogger } from '../helpers/log.js';
import { contractViolations, TIME } from './shape.js';

let stack: Stack;
let dataDir: string;
let adminToken: string;
let memberToken: string;
const violations: string[] = [];

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  bytes: Buffer;
}

async function http(method: string, p: string, opts: { token?: string; body?: unknown; redirect?: 'manual' | 'follow' } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${stack.url}${p}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), redirect: opts.redirect ?? 'manual' });
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: any = null;
  if ((res.headers.get('content-type') ?? '').includes('application/json') && bytes.length) {
    body = JSON.parse(bytes.toString('utf8'));
    violations.push(...contractViolations(body, `${method} ${p}`));
  }
  return { status: res.status, headers: res.headers, body, bytes };
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-contract-stack-'));
  stack = await startStack({
    dataDir,
    log: captureLogger().log,
    corpus: { seed: 'contract', conversations: 40, fixtures: 6, attachmentRate: 0.3, attachmentCapBytes: 300 * 1024 },
    env: { CRM_GMAIL_MAX_ATTACHMENT_MB: '1' },
  });
  const login = await http('POST', '/api/auth/login', { body: { username: stack.admin.username, password: stack.admin.password } });
  expect(login.status).toBe(200);
  adminToken = login.body.token;
  const m = stack.corpus.team[1]!;
  const ml = await http('POST', '/api/auth/login', { body: { username: m.username, password: `${m.username}-demo-password` } });
  expect(ml.status).toBe(200);
  memberToken = ml.body.token;
}, 120_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the service over HTTP against the Gmail emulator', () => {
  it('enroll-all, run-now (202, rows running before the answer), then runs, accounts and status', async () => {
    const all = await http('POST', '/api/email/accounts/enroll-all', { token: adminToken });
    expect(all.status).toBeLessThan(300);
    const accounts = await http('GET', '/api/email/accounts', { token: adminToken });
    expect(accounts.body.accounts.map((a: { email: string }) => a.email).sort()).toEqual(stack.corpus.team.map((t) => t.email).sort());

    const r = await http('POST', '/api/email/sync/run-now', { token: adminToken, body: {} });
    expect(r.status).toBe(202);
    expect(r.body.runs).toHaveLength(stack.corpus.team.length);
    for (const x of r.body.runs) expect(Object.keys(x).sort()).toEqual(expect.arrayContaining(['id', 'account', 'already_running']));
    await stack.deps.background.idle();

    const runs = await http('GET', '/api/email/sync/runs?limit=100', { token: adminToken });
    expect(runs.status).toBe(200);
    expect(runs.body.runs.map((x: { id: number }) => x.id)).toEqual([...runs.body.runs.map((x: { id: number }) => x.id)].sort((a: number, b: number) => b - a));
    for (const x of runs.body.runs) {
      expect(x, JSON.stringify(x)).toMatchObject({ kind: 'backfill', status: 'succeeded', error: null });
      expect(x.finished_at).toMatch(TIME);
    }

    const st = await http('GET', '/api/email/status', { token: memberToken });
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ enabled: true, auth_method: 'dwd', healthy: true });
    expect(st.body.counts.emails).toBeGreaterThan(0);
    expect(st.body.counts.matched).toBeGreaterThan(0);
    expect(st.body.counts.matched).toBeLessThan(st.body.counts.emails);
    for (const a of st.body.accounts) expect(a).toMatchObject({ state: 'idle', sync_enabled: true, last_error: null });
    expect(violations).toEqual([]);
  });

  it('every investor’s threads: listed ones are readable, messages in sent order, bodies only on matched ones, files download safely', async () => {
    const investors = (await http('GET', '/api/investors', { token: memberToken })).body.investors as { id: number }[];
    expect(investors.length).toBeGreaterThan(0);
    let threadsSeen = 0;
    let filesSeen = 0;
    for (const inv of investors) {
      const list = await http('GET', `/api/email/threads?investor_id=${inv.id}&limit=200`, { token: memberToken });
      expect(list.status).toBe(200);
      expect(list.body).toHaveProperty('next_cursor');
      const stamps = list.body.threads.map((t: { last_message_at: string }) => t.last_message_at);
      expect(stamps).toEqual([...stamps].sort().reverse());
      for (const t of list.body.threads) {
        threadsSeen++;
        const one = await http('GET', `/api/email/threads/${t.id}`, { token: memberToken });
        expect(one.status, `thread ${t.id}`).toBe(200);
        expect(one.body.id).toBe(t.id);
        expect(one.body.messages).toHaveLength(t.message_count);
        const sent = one.body.messages.map((m: { sent_at: string }) => m.sent_at);
        expect(sent).toEqual([...sent].sort());
        expect(one.body.messages.some((m: { is_matched: boolean }) => m.is_matched)).toBe(true);
        for (const m of one.body.messages) {
          expect(m.from === null || (typeof m.from.address === 'string' && 'name' in m.from)).toBe(true);
          expect(Array.isArray(m.to) && Array.isArray(m.cc)).toBe(true);
          if (!m.is_matched) {
            expect([m.body_text, m.body_html, m.attachments.length]).toEqual([null, null, 0]);
            continue;
          }
          for (const a of m.attachments) {
            expect(['saved', 'too_large', 'pending', 'failed']).toContain(a.state);
            if (a.state !== 'saved' || filesSeen >= 5) continue;
            filesSeen++;
            const f = await http('GET', `/api/email/attachments/${a.id}`, { token: memberToken });
            expect(f.status).toBe(200);
            expect(f.bytes.length).toBe(a.size);
            expect(f.headers.get('content-disposition')).toMatch(/^attachment;/);
            expect(f.headers.get('x-content-type-options')).toBe('nosniff');
            expect(f.headers.get('content-security-policy')).toMatch(/\bsandbox\b/);
          }
        }
      }
    }
    expect(threadsSeen).toBeGreaterThan(0);
    expect(filesSeen).toBeGreaterThan(0);
    expect(violations).toEqual([]);
  });

  it('an OAuth mailbox: enrol (needs_consent, status unhealthy), oauth/start 302 to consent, callback, then run-now syncs it', async () => {
    const mailbox = stack.oauthMailbox!;
    const e = await http('POST', '/api/email/accounts/enroll', { token: adminToken, body: { email: mailbox, auth_method: 'oauth' } });
    expect(e.status).toBe(201);
    expect(e.body).toMatchObject({ auth_method: 'oauth', state: 'needs_consent' });
    expect((await http('GET', '/api/email/status', { token: memberToken })).body.healthy).toBe(false);

    const start = await http('GET', `/api/email/oauth/start?email=${encodeURIComponent(mailbox)}`, { token: adminToken });
    expect(start.status).toBe(302);
    expect(start.headers.get('location')).toBe(start.body.url);
    // The mailbox owner's browser: the consent screen sends it back to the callback.
    const consent = await fetch(start.body.url, { redirect: 'follow' });
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('connected');

    const acc = (await http('GET', '/api/email/accounts', { token: adminToken })).body.accounts.find((a: { email: string }) => a.email === mailbox);
    expect(acc.state).not.toBe('needs_consent');
    const r = await http('POST', '/api/email/sync/run-now', { token: adminToken, body: { email: mailbox } });
    expect(r.status).toBe(202);
    expect(r.body.runs).toEqual([expect.objectContaining({ account: mailbox, already_running: false })]);
    await stack.deps.background.idle();
    const runs = (await http('GET', '/api/email/sync/runs?limit=1', { token: adminToken })).body.runs;
    expect(runs[0]).toMatchObject({ id: r.body.runs[0].id, account: mailbox, status: 'succeeded', messages_stored: 3 });
    expect((await http('GET', '/api/email/status', { token: memberToken })).body.healthy).toBe(true);
    expect(violations).toEqual([]);
  });
});
