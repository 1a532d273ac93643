import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { FakeClock } from '../helpers/clock.js';
import { one, run } from '../../lib/db/client.js';
import { signValue } from '../../lib/auth/secrets.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';
import { FakeGoogle, oauthEnv, visitConsent } from '../mocks/google-oauth.js';
import { server } from '../mocks/server.js';

let google: FakeGoogle;

let deps: TestDeps;
let app: ReturnType<typeof createApp>;
let clock: FakeClock;

beforeEach(async () => {
  google = new FakeGoogle();
  server.use(...google.handlers());
  clock = new FakeClock();
  deps = await makeDeps({ env: oauthEnv, clock });
  app = createApp(deps);
});
afterEach(async () => {
  await deps.cleanup();
});

/** A consent link for `email`, and where the consent page sends the browser back (code + state). */
async function consentReturn(email: string, auth: Record<string, string>): Promise<URL> {
  const res = await app.request(`/api/email/oauth/start?email=${encodeURIComponent(email)}`, { headers: auth });
  expect(res.status).toBe(302);
  return new URL(await visitConsent(res.headers.get('location')!), 'http://127.0.0.1:8080');
}

async function callback(u: URL) {
  const res = await app.request(`${u.pathname}${u.search}`);
  return { status: res.status, text: await res.text() };
}

const accounts = async () => (await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM email_accounts'))!.n;

function withState(u: URL, state: string): URL {
  const v = new URL(u);
  v.searchParams.set('state', state);
  return v;
}

describe('the callback refuses a state that is', () => {
  it('replayed: the second use is refused even with a fresh code, and stores nothing', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const first = await consentReturn('partner@advisor.example', admin.auth);
    expect((await callback(first)).status).toBe(200);
    await run(deps.db, 'DELETE FROM email_accounts');
    const fresh = await consentReturn('partner@advisor.example', admin.auth);
    const replay = withState(fresh, first.searchParams.get('state')!);
    const calls = google.tokenCalls;
    const r = await callback(replay);
    expect(r.status).toBe(400);
    expect(r.text).toContain('already used');
    expect(google.tokenCalls).toBe(calls);
    expect(await accounts()).toBe(0);
  });

  it('expired: more than 10 minutes after it was issued', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const u = await consentReturn('partner@advisor.example', admin.auth);
    await clock.advance(10 * 60_000);
    const r = await callback(u);
    expect(r.status).toBe(400);
    expect(r.text).toContain('expired');
    expect(google.tokenCalls).toBe(0);
    expect(await accounts()).toBe(0);
  });

  it('still accepted just before the 10 minutes are up', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const u = await consentReturn('partner@advisor.example', admin.auth);
    await clock.advance(10 * 60_000 - 1);
    expect((await callback(u)).status).toBe(200);
  });

  it('tampered: its payload changed to another address (signature kept)', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const u = await consentReturn('partner@advisor.example', admin.auth);
    const [body, sig] = u.searchParams.get('state')!.split('.');
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
    payload.e = 'victim@advisor.example';
    const forged = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
    const r = await callback(withState(u, forged));
    expect(r.status).toBe(400);
    expect(r.text).toContain('was not issued by this service or was altered');
    expect(google.tokenCalls).toBe(0);
    expect(await accounts()).toBe(0);
  });

  it('foreign: the same payload signed by another service’s key', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const u = await consentReturn('partner@advisor.example', admin.auth);
    const [body] = u.searchParams.get('state')!.split('.');
    const foreignKey = { dataDir: deps.dataDir, secretKeyHex: 'f'.repeat(64) };
    const r = await callback(withState(u, `${body}.${signValue(foreignKey, body!)}`));
    expect(r.status).toBe(400);
    expect(r.text).toContain('was not issued by this service');
    expect(await accounts()).toBe(0);
    // The genuine state is still unspent: a forgery does not burn it.
    expect((await callback(u)).status).toBe(200);
  });

  it('missing or malformed', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const u = await consentReturn('partner@advisor.example', admin.auth);
    const noState = new URL(u);
    noState.searchParams.delete('state');
    expect((await callback(noState)).text).toContain('has no state');
    const r = await callback(withState(u, 'garbage'));
    expect(r.status).toBe(400);
    expect(r.text).toContain('malformed');
  });

  it('issued to a team member who has since been disabled', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const u = await consentReturn('partner@advisor.example', admin.auth);
    await run(deps.db, 'UPDATE users SET disabled = 1 WHERE id = ?', [admin.id]);
    const r = await callback(u);
    expect(r.status).toBe(400);
    expect(r.text).toContain('no longer exists or is disabled');
    expect(await accounts()).toBe(0);
  });

  it('issued to a team member who has since been deleted', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const u = await consentReturn('partner@advisor.example', admin.auth);
    await run(deps.db, 'DELETE FROM users WHERE id = ?', [admin.id]);
    const r = await callback(u);
    expect(r.status).toBe(400);
    expect(r.text).toContain('ask for a new one');
    expect(google.tokenCalls).toBe(0);
    expect(await accounts()).toBe(0);
  });

  it('issued to a member whose address has since changed', async () => {
    const member = await userWithToken(deps, { role: 'member', email: 'ann@fund.example' });
    const u = await consentReturn('ann@fund.example', member.auth);
    await run(deps.db, "UPDATE users SET email = 'ann.new@fund.example' WHERE id = ?", [member.id]);
    const r = await callback(u);
    expect(r.status).toBe(400);
    expect(r.text).toContain('may no longer connect ann@fund.example');
  });
});

it('a member’s own consent connects their mailbox', async () => {
  const member = await userWithToken(deps, { role: 'member', email: 'ann@fund.example' });
  const r = await callback(await consentReturn('ann@fund.example', member.auth));
  expect(r.status).toBe(200);
  expect(r.text).toContain('Gmail capture for ann@fund.example is connected');
  const used = await one<{ user_id: number; used_at: string }>(deps.db, 'SELECT user_id, used_at FROM oauth_states');
  expect(used).toEqual({ user_id: member.id, used_at: new Date(clock.now()).toISOString() });
});

it('old spent states are swept when new ones are issued', async () => {
  const admin = await userWithToken(deps, { role: 'admin' });
  await consentReturn('a@advisor.example', admin.auth);
  await clock.advance(25 * 3600_000);
  const later = await userWithToken(deps, { role: 'admin' });
  await consentReturn('b@advisor.example', later.auth);
  const rows = await deps.db.execute('SELECT email FROM oauth_states');
  expect(rows.rows.map((r) => r.email)).toEqual(['b@advisor.example']);
});
