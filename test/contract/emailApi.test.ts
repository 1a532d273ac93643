// The email API, held to the letter over HTTP: status, enrolment, accounts, run-now,
// runs, threads, one thread, attachment downloads, rematch, OAuth start, healthz and the
// disabled gate — shapes, statuses and field names as written.
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { createApp } from '../../lib/http/app.js';
import { FakeClock } from '../helpers/clock.js';
import { all, one, run } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE } from '../helpers/mail.js';
import { userWithToken } from '../helpers/users.js';
import { expectContractTypes, expectError, TIME } from './shape.js';

const PARTNER = `partner@${WORKSPACE}`;
const ASSOCIATE = `associate@${WORKSPACE}`;

/** A mailbox whose first Gmail call waits until the test opens the gate. */
class GatedMailbox extends FakeMailbox {
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  release(): void {
    this.open();
  }
  override async getProfile() {
    await this.gate;
    return super.getProfile();
  }
}

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let admin: Awaited<ReturnType<typeof userWithToken>>;
let member: Awaited<ReturnType<typeof userWithToken>>;
let partner: FakeMailbox;
let associate: FakeMailbox;

async function setup(opts: { env?: Record<string, string>; enabled?: boolean; boxes?: FakeMailbox[] } = {}) {
  partner = opts.boxes?.[0] ?? new FakeMailbox(PARTNER);
  associate = opts.boxes?.[1] ?? new FakeMailbox(ASSOCIATE);
  deps = await makeDeps({ clock: new FakeClock(), env: opts.env ?? gmailEnv(), gmail: () => fakeGmail([partner, associate]) });
  if (opts.enabled === false) deps.config.gmail.enabled = false;
  api = apiClient(deps);
  admin = await userWithToken(deps, { username: 'root', role: 'admin', email: `root@${WORKSPACE}` });
  member = await userWithToken(deps, { username: 'mia', role: 'member', email: `mia@${WORKSPACE}` });
}

afterEach(async () => {
  await deps?.cleanup();
});

const enroll = async (email: string, extra: Record<string, unknown> = {}) => api('POST', '/api/email/accounts/enroll', { token: admin.token, body: { email, ...extra } });

/** An investor, a contact, and matched mail with an attachment plus an internal reply in one thread. */
async function capturedThread() {
  const acme = await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] });
  const bob = await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: acme.id });
  await enroll(PARTNER);
  partner.add(
    {
      from: 'Bob Jones <bob@acme.example>',
      to: [`Pat Partner <${PARTNER}>`, ASSOCIATE],
      cc: ['Carol <carol@acme.example>'],
      subject: 'Term sheet',
      messageId: 'Root.Msg-1@Acme.Example',
      date: '2025-03-01T09:00:00Z',
      text: 'Please find it attached.',
      html: '<p>Please find it attached.</p>',
      files: [{ filename: 'terms.pdf', mimeType: 'application/pdf', content: Buffer.from('%PDF-1.4 terms') }],
    },
    { threadId: 't1' },
  );
  partner.add(
    { from: PARTNER, to: [ASSOCIATE], subject: 'Re: Term sheet', messageId: `internal-1@${WORKSPACE}`, inReplyTo: 'Root.Msg-1@Acme.Example', date: '2025-03-01T10:00:00Z', text: 'Looks fine to me.' },
    { threadId: 't1' },
  );
  await syncMailbox(deps, PARTNER);
  return { acme, bob };
}

describe('GET /api/email/status (any user)', () => {
  it('answers {enabled, auth_method, workspace_domain, accounts:[{id,email,sync_enabled,state,last_sync_at,last_error}], counts:{emails,matched,threads,attachments}, last_runs}', async () => {
    await setup();
    await capturedThread();
    const r = await api('GET', '/api/email/status', { token: member.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ enabled: true, auth_method: 'dwd', workspace_domain: WORKSPACE });
    expect(r.body.accounts).toHaveLength(1);
    const a = r.body.accounts[0];
    expect(Object.keys(a)).toEqual(expect.arrayContaining(['id', 'email', 'sync_enabled', 'state', 'last_sync_at', 'last_error']));
    expect(a).toMatchObject({ email: PARTNER, sync_enabled: true, state: 'idle', last_error: null });
    expect(a.last_sync_at).toMatch(TIME);
    expect(r.body.counts).toEqual({ emails: 2, matched: 1, threads: 1, attachments: 1 });
    expect(Array.isArray(r.body.last_runs)).toBe(true);
    expect(r.body.last_runs[0]).toMatchObject({ account: PARTNER, kind: 'backfill', status: 'succeeded' });
    expect(typeof r.body.healthy).toBe('boolean');
    expectContractTypes(r.body);
  });

  it('disabled: 200 {enabled:false, …} with the same shape; every other /api/email route answers 503 DISABLED', async () => {
    await setup({ enabled: false });
    const r = await api('GET', '/api/email/status', { token: member.token });
    expect(r.status).toBe(200);
    expect(r.body.enabled).toBe(false);
    for (const k of ['auth_method', 'workspace_domain', 'accounts', 'counts', 'last_runs']) expect(r.body, k).toHaveProperty(k);
    expectContractTypes(r.body);
  });

  it('healthy:false when an enabled mailbox is in auth_error or needs_consent, or missed two sync intervals; a paused one does not count', async () => {
    await setup();
    const acc = (await enroll(PARTNER)).body;
    const healthy = async () => (await api('GET', '/api/email/status', { token: member.token })).body.healthy;
    expect(await healthy()).toBe(true);
    for (const state of ['auth_error', 'needs_consent']) {
      await run(deps.db, 'UPDATE email_accounts SET state = ? WHERE id = ?', [state, acc.id]);
      expect(await healthy(), state).toBe(false);
    }
    await api('PATCH', `/api/email/accounts/${acc.id}`, { token: admin.token, body: { sync_enabled: false } });
    expect(await healthy()).toBe(true);
    await api('PATCH', `/api/email/accounts/${acc.id}`, { token: admin.token, body: { sync_enabled: true } });
    await run(deps.db, "UPDATE email_accounts SET state = 'idle', last_sync_at = ? WHERE id = ?", [new Date(deps.clock.now()).toISOString(), acc.id]);
    expect(await healthy()).toBe(true);
    await (deps.clock as FakeClock).advance(2 * deps.config.gmail.syncIntervalMin * 60_000 + 60_000);
    expect(await healthy()).toBe(false);
  });
});

describe('POST /api/email/accounts/enroll {email, auth_method?}', () => {
  it('201 with the account, then 200 with the same one; fields as documented, with boolean sync_enabled', async () => {
    await setup();
    const first = await enroll(PARTNER);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ email: PARTNER, auth_method: 'dwd', sync_enabled: true, state: 'idle', last_sync_at: null, last_error: null });
    expect(Number.isInteger(first.body.id)).toBe(true);
    expectContractTypes(first.body);
    const again = await enroll(PARTNER.toUpperCase());
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
  });

  it('a dwd mailbox outside the workspace domain is 400 VALIDATION; an oauth one may be anywhere and starts in needs_consent', async () => {
    await setup();
    const r = await enroll('someone@elsewhere.example');
    expectError(r, 400, 'VALIDATION');
    expect(r.body.error.field).toBe('email');
    const o = await enroll('advisor@elsewhere.example', { auth_method: 'oauth' });
    expect(o.status).toBe(201);
    expect(o.body).toMatchObject({ auth_method: 'oauth', state: 'needs_consent' });
  });

  it('a missing or malformed email is 400 VALIDATION naming email', async () => {
    await setup();
    for (const body of [{}, { email: 'nope' }]) {
      const r = await api('POST', '/api/email/accounts/enroll', { token: admin.token, body });
      expectError(r, 400, 'VALIDATION');
      expect(r.body.error.field).toBe('email');
    }
  });
});

describe('enroll-all and the accounts routes', () => {
  it('enroll-all takes every team member whose email is in the workspace domain', async () => {
    await setup();
    await userWithToken(deps, { username: 'out', role: 'member', email: 'out@elsewhere.example' });
    await userWithToken(deps, { username: 'noemail', role: 'member' });
    const r = await api('POST', '/api/email/accounts/enroll-all', { token: admin.token });
    expect(r.status).toBeLessThan(300);
    const list = await api('GET', '/api/email/accounts', { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.accounts.map((a: { email: string }) => a.email).sort()).toEqual([`mia@${WORKSPACE}`, `root@${WORKSPACE}`]);
    expectContractTypes(list.body);
    expectContractTypes(r.body);
  });

  it('PATCH {sync_enabled} answers the account, pausing keeps the state; DELETE answers 204; unknown ids 404', async () => {
    await setup();
    const acc = (await enroll(PARTNER)).body;
    const p = await api('PATCH', `/api/email/accounts/${acc.id}`, { token: admin.token, body: { sync_enabled: false } });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ id: acc.id, sync_enabled: false, state: 'idle' });
    expectContractTypes(p.body);
    const bad = await api('PATCH', `/api/email/accounts/${acc.id}`, { token: admin.token, body: { sync_enabled: 'yes' } });
    expectError(bad, 400, 'VALIDATION');
    expect(bad.body.error.field).toBe('sync_enabled');
    const d = await api('DELETE', `/api/email/accounts/${acc.id}`, { token: admin.token });
    expect(d.status).toBe(204);
    expect((await api('GET', '/api/email/accounts', { token: admin.token })).body.accounts).toEqual([]);
    expectError(await api('PATCH', '/api/email/accounts/999', { token: admin.token, body: { sync_enabled: true } }), 404, 'NOT_FOUND');
    expectError(await api('DELETE', '/api/email/accounts/999', { token: admin.token }), 404, 'NOT_FOUND');
  });

  it('DELETE ?purge=true deletes that mailbox’s copies, the email no other mailbox holds, and its files', async () => {
    await setup();
    await capturedThread();
    const acc = (await api('GET', '/api/email/accounts', { token: admin.token })).body.accounts[0];
    const files = await all<{ storage_path: string }>(deps.db, "SELECT storage_path FROM email_attachments WHERE state = 'saved'");
    expect(files).toHaveLength(1);
    const { existsSync } = await import('node:fs');
    const path = await import('node:path');
    expect(existsSync(path.join(deps.config.dataDir, files[0]!.storage_path))).toBe(true);
    expect((await api('DELETE', `/api/email/accounts/${acc.id}?purge=true`, { token: admin.token })).status).toBe(204);
    expect(await one(deps.db, 'SELECT count(*) AS n FROM emails')).toEqual({ n: 0 });
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages')).toEqual({ n: 0 });
    expect(existsSync(path.join(deps.config.dataDir, files[0]!.storage_path))).toBe(false);
  });
});

describe('POST /api/email/sync/run-now {email?} → 202 {runs:[{id, account, already_running}]}', () => {
  it('one entry per enabled mailbox, the run rows exist (running) before the answer; a paused mailbox has no entry', async () => {
    const p = new GatedMailbox(PARTNER);
    const a = new GatedMailbox(ASSOCIATE);
    await setup({ boxes: [p, a] });
    await enroll(PARTNER);
    const paused = (await enroll(ASSOCIATE)).body;
    await api('PATCH', `/api/email/accounts/${paused.id}`, { token: admin.token, body: { sync_enabled: false } });
    const r = await api('POST', '/api/email/sync/run-now', { token: admin.token, body: {} });
    expect(r.status).toBe(202);
    expect(r.body.runs).toHaveLength(1);
    const entry = r.body.runs[0];
    expect(entry).toMatchObject({ account: PARTNER, already_running: false });
    expect(Number.isInteger(entry.id)).toBe(true);
    expectContractTypes(r.body);
    expect(await one(deps.db, 'SELECT status, account_id IS NOT NULL AS has_account FROM email_sync_runs WHERE id = ?', [entry.id])).toEqual({ status: 'running', has_account: 1 });

    // While it syncs, a second run-now reports the same run as already running.
    const again = await api('POST', '/api/email/sync/run-now', { token: admin.token, body: { email: PARTNER } });
    expect(again.status).toBe(202);
    expect(again.body.runs).toEqual([expect.objectContaining({ id: entry.id, account: PARTNER, already_running: true })]);
    p.release();
    a.release();
    await deps.background.idle();
    expect(await one(deps.db, 'SELECT status FROM email_sync_runs WHERE id = ?', [entry.id])).toEqual({ status: 'succeeded' });
  });

  it('an unknown email is 404 NOT_FOUND; a paused one is 409 CONFLICT', async () => {
    await setup();
    const acc = (await enroll(PARTNER)).body;
    expectError(await api('POST', '/api/email/sync/run-now', { token: admin.token, body: { email: 'nobody@fund.example' } }), 404, 'NOT_FOUND');
    await api('PATCH', `/api/email/accounts/${acc.id}`, { token: admin.token, body: { sync_enabled: false } });
    expectError(await api('POST', '/api/email/sync/run-now', { token: admin.token, body: { email: PARTNER } }), 409, 'CONFLICT');
  });

  it('mailboxes in auth_error or needs_consent are tried again by run-now', async () => {
    await setup();
    const p = (await enroll(PARTNER)).body;
    const a = (await enroll(ASSOCIATE)).body;
    await run(deps.db, "UPDATE email_accounts SET state = 'auth_error', last_error = 'denied' WHERE id = ?", [p.id]);
    await run(deps.db, "UPDATE email_accounts SET state = 'needs_consent' WHERE id = ?", [a.id]);
    const r = await api('POST', '/api/email/sync/run-now', { token: admin.token, body: {} });
    expect(r.status).toBe(202);
    expect(r.body.runs.map((x: { account: string }) => x.account).sort()).toEqual([ASSOCIATE, PARTNER].sort());
    await deps.background.idle();
    const states = await all<{ email: string; state: string }>(deps.db, 'SELECT email, state FROM email_accounts ORDER BY email');
    // Both are dwd mailboxes the fake Gmail serves: the retry succeeds and sets idle.
    expect(states.map((s) => s.state)).toEqual(['idle', 'idle']);
  });
});

describe('optional fields given as null count as absent', () => {
  it('enroll {auth_method: null}, run-now {email: null}, rematch {since: null}', async () => {
    await setup();
    const e = await api('POST', '/api/email/accounts/enroll', { token: admin.token, body: { email: PARTNER, auth_method: null } });
    expect(e.status).toBe(201);
    expect(e.body.auth_method).toBe('dwd');
    const r = await api('POST', '/api/email/sync/run-now', { token: admin.token, body: { email: null } });
    expect(r.status).toBe(202);
    expect(r.body.runs.map((x: { account: string }) => x.account)).toEqual([PARTNER]);
    await deps.background.idle();
    const m = await api('POST', '/api/email/rematch', { token: admin.token, body: { since: null } });
    expect(m.status).toBe(202);
    await deps.background.idle();
  });
});

describe('GET /api/email/sync/runs?limit= → {runs:[…]}, newest first', () => {
  it('each run has id, account, kind, status, messages_seen, messages_stored, attachments_saved, quota_units, error, started_at, finished_at', async () => {
    await setup();
    await capturedThread();
    const rm = await api('POST', '/api/email/rematch', { token: admin.token, body: {} });
    expect(rm.status).toBe(202);
    expect(Number.isInteger(rm.body.run_id)).toBe(true);
    await deps.background.idle();
    const r = await api('GET', '/api/email/sync/runs', { token: admin.token });
    expect(r.status).toBe(200);
    expect(r.body.runs.length).toBe(2);
    const [newest, older] = r.body.runs;
    expect(newest.id).toBeGreaterThan(older.id);
    for (const x of r.body.runs) {
      expect(Object.keys(x)).toEqual(
        expect.arrayContaining(['id', 'account', 'kind', 'status', 'messages_seen', 'messages_stored', 'attachments_saved', 'quota_units', 'error', 'started_at', 'finished_at']),
      );
      for (const k of ['messages_seen', 'messages_stored', 'attachments_saved', 'quota_units']) expect(Number.isInteger(x[k]), k).toBe(true);
    }
    expect(newest).toMatchObject({ id: rm.body.run_id, account: null, kind: 'rematch', status: 'succeeded' });
    expect(older).toMatchObject({ account: PARTNER, kind: 'backfill', status: 'succeeded', messages_seen: 2, messages_stored: 2, attachments_saved: 1, error: null });
    expect(older.started_at).toMatch(TIME);
    expect(older.finished_at).toMatch(TIME);
    expectContractTypes(r.body);
    const one1 = await api('GET', '/api/email/sync/runs?limit=1', { token: admin.token });
    expect(one1.body.runs).toEqual([newest]);
  });
});

describe('GET /api/email/threads (any user)', () => {
  it('→ {threads:[{id, subject, first_message_at, last_message_at, message_count}], next_cursor}; by investor_id or contact_id', async () => {
    await setup();
    const { acme, bob } = await capturedThread();
    for (const q of [`investor_id=${acme.id}`, `contact_id=${bob.id}`]) {
      const r = await api('GET', `/api/email/threads?${q}`, { token: member.token });
      expect(r.status, q).toBe(200);
      expect(r.body.next_cursor).toBeNull();
      expect(r.body.threads).toEqual([
        { id: expect.any(Number), subject: 'Term sheet', first_message_at: '2025-03-01T09:00:00.000Z', last_message_at: '2025-03-01T10:00:00.000Z', message_count: 2 },
      ]);
      expectContractTypes(r.body);
    }
  });

  it('an empty query parameter counts as absent (cursor= on the first page, investor_id= beside contact_id)', async () => {
    await setup();
    const { acme, bob } = await capturedThread();
    const first = await api('GET', `/api/email/threads?investor_id=${acme.id}&limit=&cursor=`, { token: member.token });
    expect(first.status).toBe(200);
    expect(first.body.threads).toHaveLength(1);
    const byContact = await api('GET', `/api/email/threads?investor_id=&contact_id=${bob.id}`, { token: member.token });
    expect(byContact.status).toBe(200);
    expect(byContact.body.threads).toHaveLength(1);
  });

  it('limit is 50 by default and 200 at most; exactly one filter, else 400', async () => {
    await setup();
    const acme = await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] });
    await enroll(PARTNER);
    for (let i = 0; i < 51; i++) {
      partner.add({ from: 'lp@acme.example', to: [PARTNER], subject: `t${i}`, messageId: `m${i}@acme.example`, date: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString(), text: 'x' });
    }
    await syncMailbox(deps, PARTNER);
    const first = await api('GET', `/api/email/threads?investor_id=${acme.id}`, { token: member.token });
    expect(first.body.threads).toHaveLength(50);
    expect(typeof first.body.next_cursor).toBe('string');
    const rest = await api('GET', `/api/email/threads?investor_id=${acme.id}&cursor=${encodeURIComponent(first.body.next_cursor)}`, { token: member.token });
    expect(rest.body.threads).toHaveLength(1);
    expect(rest.body.next_cursor).toBeNull();
    expect((await api('GET', `/api/email/threads?investor_id=${acme.id}&limit=200`, { token: member.token })).body.threads).toHaveLength(51);
    expectError(await api('GET', `/api/email/threads?investor_id=${acme.id}&limit=201`, { token: member.token }), 400, 'VALIDATION');
    expectError(await api('GET', '/api/email/threads', { token: member.token }), 400, 'VALIDATION');
    expectError(await api('GET', `/api/email/threads?investor_id=${acme.id}&contact_id=1`, { token: member.token }), 400, 'VALIDATION');
  });
});

describe('GET /api/email/threads/:id (any user)', () => {
  it('→ {id, subject, messages:[{id, rfc822_message_id, from{address,name}, to[], cc[], subject, sent_at, is_matched, body_text, body_html, attachments[…]}]} in sent order', async () => {
    await setup();
    const { acme } = await capturedThread();
    const list = await api('GET', `/api/email/threads?investor_id=${acme.id}`, { token: member.token });
    const id = list.body.threads[0].id;
    const r = await api('GET', `/api/email/threads/${id}`, { token: member.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, subject: 'Term sheet' });
    expectContractTypes(r.body);
    const [root, reply] = r.body.messages;
    expect(r.body.messages).toHaveLength(2);
    expect(root).toMatchObject({
      rfc822_message_id: 'Root.Msg-1@Acme.Example',
      from: { address: 'bob@acme.example', name: 'Bob Jones' },
      to: [
        { address: PARTNER, name: 'Pat Partner' },
        { address: ASSOCIATE, name: expect.toSatisfy((n: unknown) => n === null || n === '') },
      ],
      cc: [{ address: 'carol@acme.example', name: 'Carol' }],
      subject: 'Term sheet',
      sent_at: '2025-03-01T09:00:00.000Z',
      is_matched: true,
    });
    expect(root.body_text).toContain('Please find it attached.');
    expect(root.body_html).toContain('<p>Please find it attached.</p>');
    expect(root.attachments).toHaveLength(1);
    const att = root.attachments[0];
    expect(Object.keys(att)).toEqual(expect.arrayContaining(['id', 'filename', 'mime_type', 'size', 'sha256', 'state']));
    expect(att).toMatchObject({ filename: 'terms.pdf', mime_type: 'application/pdf', size: 14, state: 'saved' });
    expect(att.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The partners-only reply inside the investor thread is internal mail: metadata only.
    expect(reply).toMatchObject({ from: { address: PARTNER }, is_matched: false, body_text: null, body_html: null, attachments: [], sent_at: '2025-03-01T10:00:00.000Z' });
    expect(reply.to).toEqual([{ address: ASSOCIATE, name: expect.toSatisfy((n: unknown) => n === null || n === '') }]);
    expect(reply.cc).toEqual([]);
  });

  it('a thread none of whose emails is matched, and an unknown id, are 404 NOT_FOUND', async () => {
    await setup();
    await enroll(PARTNER);
    partner.add({ from: ASSOCIATE, to: [PARTNER], subject: 'lunch?', messageId: `l1@${WORKSPACE}`, date: '2025-03-02T09:00:00Z', text: 'x' });
    await syncMailbox(deps, PARTNER);
    const t = await one<{ id: number }>(deps.db, 'SELECT id FROM email_threads');
    expectError(await api('GET', `/api/email/threads/${t!.id}`, { token: member.token }), 404, 'NOT_FOUND');
    expectError(await api('GET', '/api/email/threads/99999', { token: member.token }), 404, 'NOT_FOUND');
  });
});

describe('GET /api/email/attachments/:id (any user)', () => {
  it('the file as Content-Disposition: attachment with a safe name, nosniff and CSP sandbox', async () => {
    await setup();
    await capturedThread();
    const att = await one<{ id: number }>(deps.db, 'SELECT id FROM email_attachments');
    const res = await createApp(deps).request(`/api/email/attachments/${att!.id}`, { headers: { authorization: `Bearer ${member.token}` } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe('%PDF-1.4 terms');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(res.headers.get('content-disposition')).toContain('terms.pdf');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toMatch(/\bsandbox\b/);
    expectError(await api('GET', '/api/email/attachments/99999', { token: member.token }), 404, 'NOT_FOUND');
    expectError(await api('GET', `/api/email/attachments/${att!.id}`), 401, 'UNAUTHENTICATED');
  });
});

describe('POST /api/email/rematch {since?} → 202 {run_id}', () => {
  it('admin only; the run shows with kind rematch and account null; a bad since is 400 naming it', async () => {
    await setup();
    expectError(await api('POST', '/api/email/rematch', { token: member.token, body: {} }), 403, 'FORBIDDEN');
    const r = await api('POST', '/api/email/rematch', { token: admin.token, body: { since: '2025-01-01' } });
    expect(r.status).toBe(202);
    expect(Object.keys(r.body)).toContain('run_id');
    expectContractTypes(r.body);
    await deps.background.idle();
    const runs = (await api('GET', '/api/email/sync/runs', { token: admin.token })).body.runs;
    expect(runs[0]).toMatchObject({ id: r.body.run_id, kind: 'rematch', account: null });
    const bad = await api('POST', '/api/email/rematch', { token: admin.token, body: { since: 'last tuesday' } });
    expectError(bad, 400, 'VALIDATION');
    expect(bad.body.error.field).toBe('since');
  });
});

describe('rematch over HTTP', () => {
  it('a contact added later: rematch brings the body and the file, the thread becomes readable; deleting the contact takes them away again', async () => {
    await setup();
    await enroll(PARTNER);
    partner.add({ from: 'Dana <dana@newfund.example>', to: [PARTNER], subject: 'intro', messageId: 'intro@newfund.example', date: '2025-04-01T09:00:00Z', text: 'hello from dana', files: [{ filename: 'memo.pdf', content: Buffer.from('memo bytes') }] });
    await syncMailbox(deps, PARTNER);
    const tid = (await one<{ id: number }>(deps.db, 'SELECT id FROM email_threads'))!.id;
    expectError(await api('GET', `/api/email/threads/${tid}`, { token: member.token }), 404, 'NOT_FOUND');

    const contact = (await api('POST', '/api/contacts', { token: admin.token, body: { name: 'Dana', emails: ['dana@newfund.example'] } })).body;
    expect((await api('POST', '/api/email/rematch', { token: admin.token, body: {} })).status).toBe(202);
    await deps.background.idle();
    const t = await api('GET', `/api/email/threads/${tid}`, { token: member.token });
    expect(t.status).toBe(200);
    expect(t.body.messages[0]).toMatchObject({ is_matched: true, body_text: expect.stringContaining('hello from dana') });
    expect(t.body.messages[0].attachments).toEqual([expect.objectContaining({ filename: 'memo.pdf', state: 'saved', size: 10 })]);
    const listed = await api('GET', `/api/email/threads?contact_id=${contact.id}`, { token: member.token });
    expect(listed.body.threads.map((x: { id: number }) => x.id)).toEqual([tid]);

    expect((await api('DELETE', `/api/contacts/${contact.id}`, { token: admin.token })).status).toBe(204);
    expect((await api('POST', '/api/email/rematch', { token: admin.token, body: {} })).status).toBe(202);
    await deps.background.idle();
    expectError(await api('GET', `/api/email/threads/${tid}`, { token: member.token }), 404, 'NOT_FOUND');
    expect(await one(deps.db, 'SELECT body_text, snippet, is_matched FROM emails')).toEqual({ body_text: null, snippet: null, is_matched: 0 });
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments')).toEqual({ n: 0 });
  });
});

describe('GET /api/email/oauth/start?email=', () => {
  const oauthEnv = () => ({
    CRM_GMAIL_INTEGRATION_ENABLED: 'true',
    CRM_GMAIL_AUTH_METHOD: 'oauth',
    CRM_GMAIL_WORKSPACE_DOMAIN: WORKSPACE,
    CRM_GMAIL_OAUTH_CLIENT_ID: 'client-id.apps.googleusercontent.com',
    CRM_GMAIL_OAUTH_CLIENT_SECRET: 'client-secret',
    CRM_GMAIL_OAUTH_REDIRECT_URL: 'http://127.0.0.1:8080/api/email/oauth/callback',
    CRM_SECRET_KEY: 'ab'.repeat(32),
  });

  it('admin, or the member whose address it is: 302 with Location = the consent URL and body {url}; another member is 403', async () => {
    await setup({ env: oauthEnv() });
    for (const [who, email] of [
      [admin.token, 'advisor@elsewhere.example'],
      [member.token, `mia@${WORKSPACE}`],
    ] as const) {
      const r = await api('GET', `/api/email/oauth/start?email=${encodeURIComponent(email)}`, { token: who });
      expect(r.status).toBe(302);
      expect(typeof r.body.url).toBe('string');
      expect(r.headers.get('location')).toBe(r.body.url);
      expect(r.body.url).toMatch(/^https:\/\/accounts\.google\.com\/o\/oauth2\/v2\/auth\?/);
      expect(new URL(r.body.url).searchParams.get('scope')).toContain('https://www.googleapis.com/auth/gmail.readonly');
      expectContractTypes(r.body);
    }
    expectError(await api('GET', `/api/email/oauth/start?email=${encodeURIComponent(`root@${WORKSPACE}`)}`, { token: member.token }), 403, 'FORBIDDEN');
    expectError(await api('GET', `/api/email/oauth/start?email=x@y.example`), 401, 'UNAUTHENTICATED');
  });

  it('disabled: 401 without a token, 403 for another member’s address, then 503 DISABLED', async () => {
    await setup({ env: oauthEnv(), enabled: false });
    expectError(await api('GET', '/api/email/oauth/start?email=x@y.example'), 401, 'UNAUTHENTICATED');
    expectError(await api('GET', '/api/email/oauth/start?email=x@y.example', { token: member.token }), 403, 'FORBIDDEN');
    expectError(await api('GET', '/api/email/oauth/start?email=x@y.example', { token: admin.token }), 503, 'DISABLED');
    // Whatever the query holds: the gate answers before the address is read.
    for (const q of ['', '?email=', '?email=not-an-address']) {
      expectError(await api('GET', `/api/email/oauth/start${q}`, { token: admin.token }), 503, 'DISABLED');
      expectError(await api('GET', `/api/email/oauth/start${q}`, { token: member.token }), 503, 'DISABLED');
    }
  });

  it('enabled: a missing or malformed address is a 400 naming email', async () => {
    await setup({ env: oauthEnv() });
    for (const q of ['', '?email=not-an-address']) {
      const r = await api('GET', `/api/email/oauth/start${q}`, { token: admin.token });
      expectError(r, 400, 'VALIDATION');
      expect(r.body.error.field).toBe('email');
    }
  });
});

describe('the disabled gate (auth and role are checked before it)', () => {
  it('every /api/email route but status: 401 without a token, 403 for a member on admin routes, else 503 DISABLED', async () => {
    await setup({ enabled: false });
    const adminRoutes: [string, string, unknown?][] = [
      ['POST', '/api/email/accounts/enroll', { email: PARTNER }],
      ['POST', '/api/email/accounts/enroll-all', {}],
      ['GET', '/api/email/accounts'],
      ['PATCH', '/api/email/accounts/1', { sync_enabled: false }],
      ['DELETE', '/api/email/accounts/1'],
      ['POST', '/api/email/sync/run-now', {}],
      ['GET', '/api/email/sync/runs'],
      ['POST', '/api/email/rematch', {}],
    ];
    const userRoutes: [string, string][] = [
      ['GET', '/api/email/threads?investor_id=1'],
      ['GET', '/api/email/threads/1'],
      ['GET', '/api/email/attachments/1'],
    ];
    for (const [m, p, body] of adminRoutes) {
      expectError(await api(m, p, { body }), 401, 'UNAUTHENTICATED');
      expectError(await api(m, p, { body, token: member.token }), 403, 'FORBIDDEN');
      expectError(await api(m, p, { body, token: admin.token }), 503, 'DISABLED');
    }
    for (const [m, p] of userRoutes) {
      expectError(await api(m, p), 401, 'UNAUTHENTICATED');
      expectError(await api(m, p, { token: member.token }), 503, 'DISABLED');
    }
  });
});

describe('GET /healthz', () => {
  it('200 {ok:true} without a token when the database answers; not 200 when it does not', async () => {
    await setup();
    const r = await api('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
    deps.db.close();
    const down = await createApp(deps).request('/healthz');
    expect(down.status).toBeGreaterThanOrEqual(500);
  });
});
