// The email routes over HTTP: the integration gate, enrolment, accounts, run-now, runs, status.
import { afterEach, describe, expect, it } from 'vitest';
import { all, one, run } from '../../lib/db/client.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addInvestor } from '../helpers/directory.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';
import { userWithToken } from '../helpers/users.js';
import type { FakeClock } from '../helpers/clock.js';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function setup(enabled = true) {
  const gmail = new FakeGmail();
  deps = await makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test' }, gmail: () => gmail.factory() });
  // The key-file checks of a real start are covered by the config tests.
  deps.config.gmail.enabled = enabled;
  const api = apiClient(deps);
  const admin = await userWithToken(deps, { role: 'admin', email: 'ann@fund.test' });
  const member = await userWithToken(deps, { role: 'member', email: 'bob@fund.test' });
  return { gmail, api, admin: admin.token, member: member.token };
}

describe('integration gate', () => {
  it('disabled: status answers enabled:false, every other email route 503 DISABLED after auth, data untouched', async () => {
    const { api, admin, member } = await setup(false);
    await run(deps.db, "INSERT INTO email_accounts (email, auth_method, created_at, updated_at) VALUES ('x@fund.test', 'dwd', 'now', 'now')");
    const st = await api('GET', '/api/email/status', { token: member });
    expect(st.status).toBe(200);
    expect(st.body.enabled).toBe(false);
    for (const [m, p] of [
      ['GET', '/api/email/accounts'],
      ['POST', '/api/email/accounts/enroll'],
      ['POST', '/api/email/sync/run-now'],
      ['GET', '/api/email/sync/runs'],
    ] as const) {
      const body = m === 'GET' ? undefined : {};
      const r = await api(m, p, { token: admin, body });
      expect(r.status, `${m} ${p}`).toBe(503);
      expect(r.body.error.code).toBe('DISABLED');
      // Auth and role come first.
      expect((await api(m, p, {})).status).toBe(401);
      expect((await api(m, p, { token: member, body })).status).toBe(403);
    }
    expect(await all(deps.db, 'SELECT email FROM email_accounts')).toEqual([{ email: 'x@fund.test' }]);
  });
});

describe('enrolment and accounts', () => {
  it('enroll: 201 then 200 with the same account; outside the workspace domain 400; oauth may be anywhere', async () => {
    const { api, admin } = await setup();
    const first = await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: ' Ann@Fund.test ' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ email: 'ann@fund.test', auth_method: 'dwd', sync_enabled: true, state: 'idle' });
    const again = await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'ann@fund.test' } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const outside = await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'someone@gmail.com' } });
    expect(outside.status).toBe(400);
    expect(outside.body.error).toMatchObject({ code: 'VALIDATION', field: 'email' });
    const oauth = await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'advisor@elsewhere.test', auth_method: 'oauth' } });
    expect(oauth.status).toBe(201);
    expect(oauth.body).toMatchObject({ auth_method: 'oauth', state: 'needs_consent' });
    const bad = await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'not-an-address' } });
    expect(bad.status).toBe(400);
  });

  it('enroll-all enrols every team member in the workspace domain, disabled ones too', async () => {
    const { api, admin } = await setup();
    await userWithToken(deps, { role: 'member', email: 'outsider@other.test' });
    // A disabled member cannot sign in, but the firm's mail in their mailbox is still the firm's.
    const gone = await userWithToken(deps, { role: 'member', email: 'cyd@fund.test' });
    expect((await api('PATCH', `/api/users/${gone.id}`, { token: admin, body: { disabled: true } })).status).toBe(200);
    const r = await api('POST', '/api/email/accounts/enroll-all', { token: admin });
    expect(r.status).toBe(200);
    expect(r.body.accounts.map((a: { email: string }) => a.email).sort()).toEqual(['ann@fund.test', 'bob@fund.test', 'cyd@fund.test']);
    const list = await api('GET', '/api/email/accounts', { token: admin });
    expect(list.body.accounts).toHaveLength(3);
    expect((await api('POST', '/api/email/accounts/enroll-all', { token: admin })).body.created).toBe(0);
  });

  it('PATCH pauses a mailbox without changing its state; run-now on it answers 409', async () => {
    const { api, admin } = await setup();
    const acc = (await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'ann@fund.test' } })).body;
    const p = await api('PATCH', `/api/email/accounts/${acc.id}`, { token: admin, body: { sync_enabled: false } });
    expect(p.body).toMatchObject({ sync_enabled: false, state: 'idle' });
    expect((await api('POST', '/api/email/sync/run-now', { token: admin, body: { email: 'ann@fund.test' } })).status).toBe(409);
    expect((await api('PATCH', `/api/email/accounts/${acc.id}`, { token: admin, body: { sync_enabled: 'no' } })).status).toBe(400);
    expect((await api('PATCH', '/api/email/accounts/999', { token: admin, body: { sync_enabled: true } })).status).toBe(404);
  });
});

describe('syncing over HTTP', () => {
  it('run-now answers 202 with run rows that already exist; runs and status show the result', async () => {
    const { gmail, api, admin, member } = await setup();
    await addInvestor(deps, 'Acme', { domains: ['acme.test'] });
    for (const e of ['ann@fund.test', 'bob@fund.test']) await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: e } });
    gmail.deliver('ann@fund.test', eml({ from: 'x@acme.test', to: ['ann@fund.test', 'bob@fund.test'], subject: 'Hello', messageId: '<h@acme.test>' }));
    gmail.deliver('bob@fund.test', eml({ from: 'x@acme.test', to: ['ann@fund.test', 'bob@fund.test'], subject: 'Hello', messageId: '<h@acme.test>' }));
    gmail.deliver('bob@fund.test', eml({ from: 'ann@fund.test', to: ['bob@fund.test'], subject: 'internal' }));
    const r = await api('POST', '/api/email/sync/run-now', { token: admin, body: {} });
    expect(r.status).toBe(202);
    expect(r.body.runs).toHaveLength(2);
    for (const x of r.body.runs) {
      expect(x.already_running).toBe(false);
      expect(await one(deps.db, 'SELECT status FROM email_sync_runs WHERE id = ?', [x.id])).toBeDefined();
    }
    await deps.background.idle();
    const runs = await api('GET', '/api/email/sync/runs?limit=10', { token: admin });
    expect(runs.body.runs).toHaveLength(2);
    for (const x of runs.body.runs) {
      expect(x).toMatchObject({ kind: 'backfill', status: 'succeeded', error: null });
      expect(x.quota_units).toBeGreaterThan(0);
      expect(x.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const st = await api('GET', '/api/email/status', { token: member });
    expect(st.body).toMatchObject({ enabled: true, auth_method: 'dwd', workspace_domain: 'fund.test', healthy: true });
    expect(st.body.counts).toEqual({ emails: 2, matched: 1, threads: 2, attachments: 0 });
    expect(st.body.accounts.map((a: { state: string }) => a.state)).toEqual(['idle', 'idle']);
    expect(st.body.last_runs).toHaveLength(2);
  });

  it('status is unhealthy when an enabled mailbox misses two sync intervals or needs the admin', async () => {
    const { api, admin, member } = await setup();
    await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'ann@fund.test' } });
    expect((await api('GET', '/api/email/status', { token: member })).body.healthy).toBe(true);
    await (deps.clock as FakeClock).advance(2 * 180 * 60_000 + 1);
    expect((await api('GET', '/api/email/status', { token: member })).body.healthy).toBe(false);
  });

  it('unenrol keeps captured mail; purge deletes what no other mailbox holds', async () => {
    const { gmail, api, admin } = await setup();
    await addInvestor(deps, 'Acme', { domains: ['acme.test'] });
    const a = (await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'ann@fund.test' } })).body;
    const b = (await api('POST', '/api/email/accounts/enroll', { token: admin, body: { email: 'bob@fund.test' } })).body;
    const shared = eml({ from: 'x@acme.test', to: ['ann@fund.test', 'bob@fund.test'], subject: 'Shared', messageId: '<s@acme.test>' });
    gmail.deliver('ann@fund.test', shared);
    gmail.deliver('bob@fund.test', shared);
    gmail.deliver('bob@fund.test', eml({ from: 'x@acme.test', to: ['bob@fund.test'], subject: 'Only Bob', messageId: '<o@acme.test>' }));
    await api('POST', '/api/email/sync/run-now', { token: admin, body: {} });
    await deps.background.idle();
    expect((await api('DELETE', `/api/email/accounts/${a.id}`, { token: admin })).status).toBe(204);
    expect((await api('GET', '/api/email/accounts', { token: admin })).body.accounts.map((x: { email: string }) => x.email)).toEqual(['bob@fund.test']);
    expect(await all(deps.db, 'SELECT subject FROM emails ORDER BY subject')).toEqual([{ subject: 'Only Bob' }, { subject: 'Shared' }]);
    expect((await api('DELETE', `/api/email/accounts/${b.id}?purge=true`, { token: admin })).status).toBe(204);
    // Ann's copy of "Shared" is still held (unenrolled without purge), so it stays.
    expect(await all(deps.db, 'SELECT subject FROM emails ORDER BY subject')).toEqual([{ subject: 'Shared' }]);
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_threads')).toEqual({ n: 1 });
    // An unenrolled mailbox can still be purged later: now nothing holds "Shared".
    expect((await api('DELETE', `/api/email/accounts/${a.id}?purge=true`, { token: admin })).status).toBe(204);
    expect(await all(deps.db, 'SELECT subject FROM emails')).toEqual([]);
    expect(await all(deps.db, 'SELECT id FROM email_accounts')).toEqual([]);
    expect((await api('DELETE', `/api/email/accounts/${a.id}`, { token: admin })).status).toBe(404);
  });
});
