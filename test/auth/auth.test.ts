import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOG_N, hashPassword, passwordStats, TOKEN_TTL_MS } from '../../lib/auth/credentials.js';
import { FakeClock } from '../helpers/clock.js';
import { all, run } from '../../lib/db/client.js';
import { LOGIN_MAX_CLIENT_FAILURES, LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS, USERNAME_BACKOFF_MAX_MS } from '../../lib/auth/throttle.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

const PASSWORD = 'correct horse battery';

let deps: TestDeps;
let clock: FakeClock;
let api: ReturnType<typeof apiClient>;

beforeEach(async () => {
  clock = new FakeClock();
  deps = await makeDeps({ clock });
  api = apiClient(deps);
});
afterEach(async () => {
  await deps.cleanup();
});

const login = (username: string, password: string, peer = '10.0.0.1', headers: Record<string, string> = {}) =>
  api('POST', '/api/auth/login', { body: { username, password }, headers: { 'x-test-peer': peer, ...headers } });

describe('login', () => {
  it('the right password gives a token, its expiry and the user (never the hash)', async () => {
    const u = await userWithToken(deps, { username: 'ada', role: 'member', email: 'ada@fund.com' });
    const r = await login('ada', PASSWORD);
    expect(r.status).toBe(200);
    expect(r.body.token).toMatch(/^[\w-]{40,}$/);
    expect(r.body.expires_at).toBe(new Date(clock.now() + TOKEN_TTL_MS).toISOString());
    expect(r.body.user).toEqual({ id: u.id, username: 'ada', email: 'ada@fund.com', role: 'member' });
    expect(JSON.stringify(r.body)).not.toContain('scrypt');
    const me = await api('GET', '/api/investors', { token: r.body.token });
    expect(me.status).toBe(200);
  });

  it('usernames are matched without regard to case', async () => {
    await userWithToken(deps, { username: 'Ada' });
    expect((await login('ADA', PASSWORD)).status).toBe(200);
  });

  it('a wrong password and an unknown username both answer 401 with the same message', async () => {
    await userWithToken(deps, { username: 'ada' });
    const wrong = await login('ada', 'not the password');
    const unknown = await login('nobody', PASSWORD);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error).toEqual({ code: 'UNAUTHENTICATED', message: unknown.body.error.message });
  });

  it('a missing password is a validation error naming the field', async () => {
    const r = await api('POST', '/api/auth/login', { body: { username: 'ada' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION', field: 'password' });
  });

  it('a disabled user cannot log in', async () => {
    const u = await userWithToken(deps, { username: 'ada', role: 'member' });
    await userWithToken(deps, { username: 'root', role: 'admin' }).then((admin) =>
      api('PATCH', `/api/users/${u.id}`, { token: admin.token, body: { disabled: true } }),
    );
    expect((await login('ada', PASSWORD)).status).toBe(401);
  });

  it('the password never reaches the logs', async () => {
    await userWithToken(deps, { username: 'ada' });
    await login('ada', 'a secret guess 123');
    await login('ada', PASSWORD);
    expect(deps.logs.text()).not.toContain('a secret guess 123');
    expect(deps.logs.text()).not.toContain(PASSWORD);
  });
});

/** Run an API call to completion under the fake clock (the throttle may make it wait first). */
async function settle<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const out = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < 200 && !done; i++) {
    await new Promise((r) => setImmediate(r));
    if (!done && clock.pending) await clock.advance(clock.nextWakeAt! - clock.now());
  }
  return out;
}

describe('login throttling', () => {
  it(`${LOGIN_MAX_FAILURES} failures for one username from one client → 429 with Retry-After for that client, even for the right password, until the window passes`, async () => {
    await userWithToken(deps, { username: 'ada' });
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) {
      expect((await login('ada', `guess-${i}`, '10.0.1.1')).status).toBe(401);
      await clock.advance(1000);
    }
    const blocked = await login('ada', PASSWORD, '10.0.1.1');
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('RATE_LIMITED');
    // The first failure was 10 s ago: the throttle lifts when it leaves the 15-minute window.
    expect(blocked.headers.get('retry-after')).toBe(String(LOGIN_WINDOW_MS / 1000 - 10));
    await clock.advance(LOGIN_WINDOW_MS - 10_000 - 1000);
    expect((await login('ada', PASSWORD, '10.0.1.1')).status).toBe(429);
    await clock.advance(1000);
    expect((await login('ada', PASSWORD, '10.0.1.1')).status).toBe(200);
  });

  it('a lock-out from one client does not lock the user out from another', async () => {
    await userWithToken(deps, { username: 'ada' });
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) expect((await login('ada', `guess-${i}`, '198.51.100.66')).status).toBe(401);
    expect((await login('ada', PASSWORD, '198.51.100.66')).status).toBe(429);
    // The attacker's page cannot lock the admin out: from the admin's own address the right password works.
    expect((await settle(login('ada', PASSWORD, '10.0.0.2'))).status).toBe(200);
  });

  it('a username guessed from many clients backs off (the check waits), but is never locked out everywhere', async () => {
    await userWithToken(deps, { username: 'ada' });
    for (let c = 0; c < 4; c++) {
      for (let i = 0; i < LOGIN_MAX_FAILURES; i++) await settle(login('ada', 'guess', `203.0.113.${c}`));
    }
    const started = clock.now();
    const ok = await settle(login('ada', PASSWORD, '10.0.0.3'));
    expect(ok.status).toBe(200);
    // 40 failures elsewhere: the attempt waited before its check, by a bounded amount.
    const waited = clock.now() - started;
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThanOrEqual(USERNAME_BACKOFF_MAX_MS);
  });

  it(`${LOGIN_MAX_CLIENT_FAILURES} failures from one client address → 429 for any username from it`, async () => {
    await userWithToken(deps, { username: 'ada' });
    for (let i = 0; i < LOGIN_MAX_CLIENT_FAILURES; i++) {
      expect((await login(`user${i}`, 'guess', '192.0.2.7')).status).toBe(401);
    }
    const blocked = await login('ada', PASSWORD, '192.0.2.7');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBe(LOGIN_WINDOW_MS / 1000);
    expect((await login('ada', PASSWORD, '192.0.2.8')).status).toBe(200);
    await clock.advance(LOGIN_WINDOW_MS);
    expect((await login('ada', PASSWORD, '192.0.2.7')).status).toBe(200);
  });

  it('40 parallel wrong guesses get at most 10 password checks: attempts are counted before the check', async () => {
    await userWithToken(deps, { username: 'ada' });
    const before = passwordStats.verifications;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login('ada', `guess-${i}`, '10.6.6.6')));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(LOGIN_MAX_FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40 - LOGIN_MAX_FAILURES);
    expect(passwordStats.verifications - before).toBeLessThanOrEqual(LOGIN_MAX_FAILURES);
  });

  it('failures spread over more than the window never throttle', async () => {
    await userWithToken(deps, { username: 'ada' });
    for (let i = 0; i < LOGIN_MAX_FAILURES * 2; i++) {
      expect((await login('ada', 'guess')).status).toBe(401);
      await clock.advance(LOGIN_WINDOW_MS / (LOGIN_MAX_FAILURES - 1));
    }
    expect((await login('ada', PASSWORD)).status).toBe(200);
  });

  it("a success clears that username's failures for that client", async () => {
    await userWithToken(deps, { username: 'ada' });
    for (let i = 0; i < LOGIN_MAX_FAILURES - 1; i++) await login('ada', 'guess', '10.0.3.1');
    expect((await login('ada', PASSWORD, '10.0.3.1')).status).toBe(200);
    for (let i = 0; i < LOGIN_MAX_FAILURES - 1; i++) expect((await login('ada', 'guess', '10.0.3.1')).status).toBe(401);
    expect((await login('ada', PASSWORD, '10.0.3.1')).status).toBe(200);
  });

  it('behind a trusted proxy the client is the last X-Forwarded-For hop; an untrusted peer is itself', async () => {
    await deps.cleanup();
    deps = await makeDeps({ clock, env: { CRM_TRUSTED_PROXIES: '10.0.0.254' } });
    api = apiClient(deps);
    await userWithToken(deps, { username: 'ada' });
    for (let i = 0; i < LOGIN_MAX_CLIENT_FAILURES; i++) {
      await login(`user${i}`, 'guess', '10.0.0.254', { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.9` });
    }
    expect((await login('ada', PASSWORD, '10.0.0.254', { 'x-forwarded-for': '198.51.100.9' })).status).toBe(429);
    expect((await login('ada', PASSWORD, '10.0.0.254', { 'x-forwarded-for': '198.51.100.10' })).status).toBe(200);
    // A forged header from a peer that is not a trusted proxy changes nothing.
    for (let i = 0; i < LOGIN_MAX_CLIENT_FAILURES; i++) {
      await login(`other${i}`, 'guess', '192.0.2.50', { 'x-forwarded-for': `203.0.113.${i}` });
    }
    expect((await login('ada', PASSWORD, '192.0.2.50', { 'x-forwarded-for': '203.0.113.200' })).status).toBe(429);
    const rows = await all<{ client: string }>(deps.db, 'SELECT DISTINCT client FROM login_attempts ORDER BY client');
    expect(rows.map((r) => r.client)).toEqual(['192.0.2.50', '198.51.100.9']);
  });

  it('attempted usernames are never stored or logged as typed; only real accounts are named in the log', async () => {
    await userWithToken(deps, { username: 'ada' });
    await login('hunter2-my-password', 'x', '10.0.7.1');
    await login('ada', 'wrong', '10.0.7.1');
    const stored = JSON.stringify(await all(deps.db, 'SELECT * FROM login_attempts'));
    expect(stored).not.toContain('hunter2');
    expect(stored).not.toContain('ada');
    const logged = deps.logs.text();
    expect(logged).not.toContain('hunter2');
    expect(deps.logs.lines.filter((e) => e.event === 'auth.login_failed').map((e) => e.username ?? null)).toEqual([null, 'ada']);
  });

  it('a disabled user with the right password gets exactly the answer of a wrong password', async () => {
    const u = await userWithToken(deps, { username: 'ada' });
    await run(deps.db, 'UPDATE users SET disabled = 1 WHERE id = ?', [u.id]);
    const disabled = await login('ada', PASSWORD, '10.0.8.1');
    const wrong = await login('ada', 'not it', '10.0.8.2');
    expect(disabled.status).toBe(401);
    expect(disabled.body).toEqual(wrong.body);
  });

  it('JSON routes refuse a text/plain body (415): a cross-site form cannot reach the login', async () => {
    const ada = await userWithToken(deps, { username: 'ada' });
    const r = await api('POST', '/api/auth/login', { raw: JSON.stringify({ username: 'ada', password: PASSWORD }), headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(415);
    expect(r.body.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-type' });
    expect(await all(deps.db, 'SELECT * FROM login_attempts')).toEqual([]);
    const form = await api('POST', '/api/contacts', { token: ada.token, raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect((await login('ada', PASSWORD)).status).toBe(200);
  });
});

describe('password hashes', () => {
  it('new hashes use scrypt N=2^17 by default; an older 2^14 hash still verifies and is upgraded at the next login', async () => {
    await deps.cleanup();
    deps = await makeDeps({ clock, env: { CRM_PASSWORD_SCRYPT_LOG_N: '17' } });
    api = apiClient(deps);
    expect(deps.config.passwordHashLogN).toBe(DEFAULT_LOG_N);
    expect(DEFAULT_LOG_N).toBe(17);
    const now = new Date(clock.now()).toISOString();
    await run(deps.db, "INSERT INTO users (username, role, password_hash, disabled, created_at, updated_at) VALUES ('old', 'member', ?, 0, ?, ?)", [
      await hashPassword(PASSWORD, 14),
      now,
      now,
    ]);
    expect((await login('old', PASSWORD)).status).toBe(200);
    const row = await all<{ password_hash: string }>(deps.db, "SELECT password_hash FROM users WHERE username = 'old'");
    expect(row[0]!.password_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect((await login('old', PASSWORD)).status).toBe(200);
  }, 60_000);
});

describe('tokens', () => {
  it('an expired token answers 401', async () => {
    const u = await userWithToken(deps, { role: 'member' });
    expect((await api('GET', '/api/investors', { token: u.token })).status).toBe(200);
    await clock.advance(TOKEN_TTL_MS);
    const r = await api('GET', '/api/investors', { token: u.token });
    expect(r.status).toBe(401);
    expect(r.body.error).toEqual({ code: 'UNAUTHENTICATED', message: 'token expired' });
  });

  it('logout revokes the presented token only (204)', async () => {
    await userWithToken(deps, { username: 'ada', role: 'member' });
    const a = (await login('ada', PASSWORD)).body.token;
    const b = (await login('ada', PASSWORD)).body.token;
    const out = await api('POST', '/api/auth/logout', { token: a });
    expect(out.status).toBe(204);
    expect(out.body).toBeNull();
    expect((await api('GET', '/api/investors', { token: a })).status).toBe(401);
    expect((await api('GET', '/api/investors', { token: b })).status).toBe(200);
    expect((await api('POST', '/api/auth/logout', { token: a })).status).toBe(401);
  });

  it('logout without a token answers 401', async () => {
    expect((await api('POST', '/api/auth/logout')).status).toBe(401);
  });

  it('disabling a user revokes their tokens, and re-enabling does not bring them back', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    const member = await userWithToken(deps, { role: 'member' });
    expect((await api('PATCH', `/api/users/${member.id}`, { token: admin.token, body: { disabled: true } })).status).toBe(200);
    expect((await api('GET', '/api/investors', { token: member.token })).status).toBe(401);
    await api('PATCH', `/api/users/${member.id}`, { token: admin.token, body: { disabled: false } });
    const r = await api('GET', '/api/investors', { token: member.token });
    expect(r.status).toBe(401);
    expect(r.body.error.message).toBe('token revoked');
  });

  it('a garbage bearer token answers 401', async () => {
    const r = await api('GET', '/api/investors', { token: 'not-a-token' });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHENTICATED');
  });
});

describe('changing one\'s own password', () => {
  it('needs the current password, keeps this session and ends the others', async () => {
    await userWithToken(deps, { username: 'ada', role: 'member' });
    const here = (await login('ada', PASSWORD)).body.token;
    const elsewhere = (await login('ada', PASSWORD)).body.token;
    const bad = await api('POST', '/api/auth/password', { token: here, body: { current_password: 'nope', new_password: 'a new passphrase' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('current_password');

    const ok = await api('POST', '/api/auth/password', { token: here, body: { current_password: PASSWORD, new_password: 'a new passphrase' } });
    expect(ok.status).toBe(200);
    expect((await api('GET', '/api/investors', { token: here })).status).toBe(200);
    expect((await api('GET', '/api/investors', { token: elsewhere })).status).toBe(401);
    expect((await login('ada', PASSWORD)).status).toBe(401);
    expect((await login('ada', 'a new passphrase')).status).toBe(200);
  });

  it('a new password shorter than 8 characters is refused', async () => {
    const u = await userWithToken(deps, { role: 'member' });
    const r = await api('POST', '/api/auth/password', { token: u.token, body: { current_password: PASSWORD, new_password: 'short' } });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('new_password');
  });

  it('a password change is not a login attempt: it neither counts towards nor is refused by the throttle', async () => {
    const u = await userWithToken(deps, { username: 'ada', role: 'member' });
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) {
      const r = await api('POST', '/api/auth/password', { token: u.token, body: { current_password: `guess${i}`, new_password: 'a new passphrase' } });
      expect(r.status).toBe(400);
    }
    expect(await all(deps.db, 'SELECT * FROM login_attempts')).toEqual([]);
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) await login('ada', `guess-${i}`);
    const r = await api('POST', '/api/auth/password', { token: u.token, body: { current_password: PASSWORD, new_password: 'a new passphrase' } });
    expect(r.status).toBe(200);
  });
});
