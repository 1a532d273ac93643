import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { FakeClock } from '../helpers/clock.js';
import { one, run } from '../../lib/db/client.js';
import { CONSENT_PAGE_CSP, GMAIL_READONLY_SCOPE, refreshTokenFor } from '../../lib/auth/consent.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';
import { CLIENT_ID, FakeGoogle, GOOGLE, oauthEnv, REDIRECT_URL, visitConsent } from '../mocks/google-oauth.js';
import { server } from '../mocks/server.js';

let google: FakeGoogle;

let deps: TestDeps;
let app: ReturnType<typeof createApp>;
let clock: FakeClock;
const answers: string[] = [];

beforeEach(async () => {
  google = new FakeGoogle();
  server.use(...google.handlers());
  clock = new FakeClock();
  deps = await makeDeps({ env: oauthEnv, clock });
  app = createApp(deps);
  answers.length = 0;
});
afterEach(async () => {
  await deps.cleanup();
});

async function request(pathAndQuery: string, headers: Record<string, string> = {}) {
  const res = await app.request(pathAndQuery, { headers });
  const text = await res.text();
  answers.push(JSON.stringify(Object.fromEntries(res.headers)) + text);
  return { res, text };
}

async function start(email: string, auth: Record<string, string>) {
  return request(`/api/email/oauth/start?email=${encodeURIComponent(email)}`, auth);
}

/** start → the consent page → the callback, as the admin's browser would do it. */
async function connect(email: string, auth: Record<string, string>) {
  const s = await start(email, auth);
  expect(s.res.status).toBe(302);
  return request(await visitConsent(s.res.headers.get('location')!));
}

const account = (email: string) =>
  one<{ id: number; email: string; auth_method: string; sync_enabled: number; state: string; last_error: string | null; refresh_token_enc: string | null; history_id: string | null }>(
    deps.db,
    'SELECT * FROM email_accounts WHERE email = ?',
    [email],
  );

function databaseBytes(): Buffer {
  const file = path.join(deps.dataDir, 'crm.db');
  return Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
}

describe('GET /api/email/oauth/start', () => {
  it('answers 302 to the consent URL with exactly gmail.readonly, offline access, prompt=consent, login_hint and a state; the body holds the same URL', async () => {
    const admin = await userWithToken(deps, { role: 'admin', email: 'admin@fund.example' });
    const { res, text } = await start('Partner@Advisor.example', admin.auth);
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(JSON.parse(text)).toMatchObject({ url: location, email: 'partner@advisor.example' });
    const url = new URL(location);
    expect(`${url.origin}${url.pathname}`).toBe(`${GOOGLE}/o/oauth2/v2/auth`);
    const q = url.searchParams;
    expect(q.get('client_id')).toBe(CLIENT_ID);
    expect(q.get('redirect_uri')).toBe(REDIRECT_URL);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('scope')).toBe(GMAIL_READONLY_SCOPE);
    expect(q.get('access_type')).toBe('offline');
    expect(q.get('prompt')).toBe('consent');
    expect(q.get('login_hint')).toBe('partner@advisor.example');
    expect(q.get('state')).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(q.get('include_granted_scopes')).toBeNull();
    const row = await one<{ user_id: number; email: string; expires_at: string; used_at: string | null }>(deps.db, 'SELECT * FROM oauth_states');
    expect(row).toEqual({ nonce: expect.any(String), user_id: admin.id, email: 'partner@advisor.example', expires_at: new Date(clock.now() + 600_000).toISOString(), used_at: null });
  });

  it('a member may start consent for their own address but not for another (403)', async () => {
    const member = await userWithToken(deps, { role: 'member', email: 'ann@fund.example' });
    expect((await start('ANN@fund.example', member.auth)).res.status).toBe(302);
    const other = await start('bob@fund.example', member.auth);
    expect(other.res.status).toBe(403);
    expect(JSON.parse(other.text).error.code).toBe('FORBIDDEN');
    expect(await one(deps.db, "SELECT * FROM oauth_states WHERE email = 'bob@fund.example'")).toBeUndefined();
  });

  it('needs a bearer token (401)', async () => {
    expect((await start('ann@fund.example', {})).res.status).toBe(401);
  });

  it('with Gmail disabled answers 503 after auth, and a member asking for another address still gets 403', async () => {
    deps.config.gmail.enabled = false;
    const admin = await userWithToken(deps, { role: 'admin' });
    const member = await userWithToken(deps, { role: 'member', email: 'ann@fund.example' });
    expect((await start('ann@fund.example', {})).res.status).toBe(401);
    const a = await start('ann@fund.example', admin.auth);
    expect(a.res.status).toBe(503);
    expect(JSON.parse(a.text).error.code).toBe('DISABLED');
    expect((await start('bob@fund.example', member.auth)).res.status).toBe(403);
  });

  it('an incomplete OAuth client answers 409 naming the variables to set', async () => {
    deps.config.gmail.oauth = undefined;
    const admin = await userWithToken(deps, { role: 'admin' });
    const { res, text } = await start('ann@fund.example', admin.auth);
    expect(res.status).toBe(409);
    const msg = JSON.parse(text).error.message as string;
    for (const v of ['CRM_GMAIL_OAUTH_CLIENT_ID', 'CRM_GMAIL_OAUTH_CLIENT_SECRET', 'CRM_GMAIL_OAUTH_REDIRECT_URL']) expect(msg).toContain(v);
  });

  it('a missing or malformed address is a validation error on the email field', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    for (const q of ['', '?email=', '?email=not-an-address']) {
      const { res, text } = await request(`/api/email/oauth/start${q}`, admin.auth);
      expect(res.status).toBe(400);
      expect(JSON.parse(text).error).toMatchObject({ code: 'VALIDATION', field: 'email' });
    }
  });
});

describe('the whole consent flow', () => {
  it('start → consent → callback enrols an OAuth account whose refresh token is stored only encrypted: never in the database bytes, the logs or an answer', async () => {
    const admin = await userWithToken(deps, { role: 'admin', email: 'admin@fund.example' });
    const { res, text } = await connect('partner@advisor.example', admin.auth);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(CONSENT_PAGE_CSP);
    expect(CONSENT_PAGE_CSP).toContain("default-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(text).toContain('Gmail capture for partner@advisor.example is connected; you can close this tab');
    expect(text).not.toMatch(/<script|https?:\/\//i);

    const row = (await account('partner@advisor.example'))!;
    expect(row).toMatchObject({ auth_method: 'oauth', sync_enabled: 1, state: 'idle', last_error: null, history_id: null });
    expect(row.refresh_token_enc).toMatch(/^v1:/);

    expect(google.issuedRefreshTokens).toHaveLength(1);
    const refreshToken = google.issuedRefreshTokens.at(-1)!;
    expect(await refreshTokenFor(deps.db, deps, row.id)).toBe(refreshToken);
    expect(row.refresh_token_enc).not.toContain(refreshToken);

    const secrets = [refreshToken, google.issuedAccessTokens.at(-1)!, google.issuedCodes.at(-1)!];
    const bytes = databaseBytes();
    const logText = deps.logs.text();
    for (const s of secrets) {
      expect(bytes.includes(Buffer.from(s))).toBe(false);
      expect(logText).not.toContain(s);
      for (const a of answers) expect(a).not.toContain(s);
    }
    expect(deps.logs.lines).toContainEqual(expect.objectContaining({ event: 'oauth.connected', email: 'partner@advisor.example', account_id: row.id }));
  });

  it('a code for another mailbox than the one asked for is refused, its token discarded and nothing stored', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    google.next = { signInAs: 'someone.else@gmail.com' };
    const { res, text } = await connect('partner@advisor.example', admin.auth);
    expect(res.status).toBe(400);
    expect(text).toContain('someone.else@gmail.com, not partner@advisor.example');
    expect(text).toContain('token was discarded');
    expect(await one(deps.db, 'SELECT * FROM email_accounts')).toBeUndefined();
    const rt = google.issuedRefreshTokens.at(-1)!;
    expect(databaseBytes().includes(Buffer.from(rt))).toBe(false);
    expect(deps.logs.text()).not.toContain(rt);
    expect(deps.logs.lines).toContainEqual(expect.objectContaining({ event: 'oauth.refused', email: 'partner@advisor.example' }));
  });

  it('the granted mailbox may differ from the one asked for only in case, or in dots of a gmail.com local part', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    google.next = { signInAs: 'Partner@Advisor.example' };
    expect((await connect('partner@advisor.example', admin.auth)).res.status).toBe(200);
    google.next = { signInAs: 'jane.doe@gmail.com' };
    expect((await connect('janedoe@googlemail.com', admin.auth)).res.status).toBe(200);
    expect((await account('janedoe@googlemail.com'))!.auth_method).toBe('oauth');
  });

  it('no refresh token from Google (an earlier consent) is refused with instructions to remove the app’s access', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    google.next = { noRefreshToken: true };
    const { res, text } = await connect('partner@advisor.example', admin.auth);
    expect(res.status).toBe(400);
    expect(text).toContain('no refresh token');
    expect(text).toContain('remove the app&#39;s access');
    expect(await one(deps.db, 'SELECT * FROM email_accounts')).toBeUndefined();
  });

  it('a consent without the gmail.readonly box ticked is refused', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    google.next = { scope: 'openid email' };
    const { res, text } = await connect('partner@advisor.example', admin.auth);
    expect(res.status).toBe(400);
    expect(text).toContain('did not include read access to Gmail');
    expect(await one(deps.db, 'SELECT * FROM email_accounts')).toBeUndefined();
  });

  it('the owner clicking Cancel (error=access_denied) gets a page saying nothing was stored, and the state is spent', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    google.next = { deny: true };
    const { res, text } = await connect('partner@advisor.example', admin.auth);
    expect(res.status).toBe(400);
    expect(text).toContain('access to partner@advisor.example was not granted');
    expect(google.tokenCalls).toBe(0);
    expect((await one<{ used_at: string | null }>(deps.db, 'SELECT used_at FROM oauth_states'))!.used_at).not.toBeNull();
    expect(await one(deps.db, 'SELECT * FROM email_accounts')).toBeUndefined();
  });

  it('a token endpoint that fails is reported once (no retry) and nothing is stored', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const { http, HttpResponse } = await import('msw');
    let calls = 0;
    server.use(http.post(`${GOOGLE}/token`, () => {
      calls++;
      return HttpResponse.json({ error: 'server_error' }, { status: 500 });
    }));
    const { res, text } = await connect('partner@advisor.example', admin.auth);
    expect(res.status).toBe(400);
    expect(text).toContain('CRM_GOOGLE_TOKEN_URL');
    expect(text).toContain('HTTP 500');
    expect(calls).toBe(1);
    expect(await one(deps.db, 'SELECT * FROM email_accounts')).toBeUndefined();
  });

  it('with Gmail disabled the callback answers a 503 page and spends nothing', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const s = await start('partner@advisor.example', admin.auth);
    const back = await visitConsent(s.res.headers.get('location')!);
    deps.config.gmail.enabled = false;
    const { res, text } = await request(back);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(text).toContain('disabled');
    expect((await one<{ used_at: string | null }>(deps.db, 'SELECT used_at FROM oauth_states'))!.used_at).toBeNull();
  });

  it('an existing paused DWD account switches to OAuth on consent and stays paused', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const now = new Date(clock.now()).toISOString();
    await run(deps.db, "INSERT INTO email_accounts (email, auth_method, sync_enabled, state, last_error, created_at, updated_at) VALUES ('ann@fund.example', 'dwd', 0, 'auth_error', 'DWD refused', ?, ?)", [now, now]);
    expect((await connect('ann@fund.example', admin.auth)).res.status).toBe(200);
    expect(await account('ann@fund.example')).toMatchObject({ auth_method: 'oauth', sync_enabled: 0, state: 'idle', last_error: null });
  });

  it('an unenrolled mailbox is enrolled again, enabled, by a new consent', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const now = new Date(clock.now()).toISOString();
    await run(deps.db, "INSERT INTO email_accounts (email, auth_method, sync_enabled, state, history_id, unenrolled_at, created_at, updated_at) VALUES ('ann@fund.example', 'oauth', 0, 'idle', '99', ?, ?, ?)", [now, now, now]);
    expect((await connect('ann@fund.example', admin.auth)).res.status).toBe(200);
    expect(await one(deps.db, "SELECT sync_enabled, unenrolled_at, history_id FROM email_accounts WHERE email = 'ann@fund.example'")).toEqual({ sync_enabled: 1, unenrolled_at: null, history_id: '99' });
  });

  it("a member's consent does not re-enrol a mailbox an admin unenrolled; nothing is stored", async () => {
    const member = await userWithToken(deps, { role: 'member', email: 'ann@fund.example' });
    const now = new Date(clock.now()).toISOString();
    await run(deps.db, "INSERT INTO email_accounts (email, auth_method, sync_enabled, state, history_id, unenrolled_at, created_at, updated_at) VALUES ('ann@fund.example', 'oauth', 0, 'idle', '99', ?, ?, ?)", [now, now, now]);
    const { res, text } = await connect('ann@fund.example', member.auth);
    expect(text).toContain('unenrolled');
    expect(res.status).toBe(400);
    expect(await one(deps.db, "SELECT sync_enabled, unenrolled_at, refresh_token_enc FROM email_accounts WHERE email = 'ann@fund.example'")).toEqual({ sync_enabled: 0, unenrolled_at: now, refresh_token_enc: null });
  });
});
