// The auth and directory API, held to the letter over HTTP: shapes, statuses, error
// envelopes, token revocation, and that every route but three needs a bearer token.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { FakeClock } from '../helpers/clock.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { gmailEnv } from '../helpers/mail.js';
import { userWithToken } from '../helpers/users.js';
import { expectContractTypes, expectError, TIME } from './shape.js';

const PASSWORD = 'correct horse battery';
const PUBLIC = new Set(['GET /healthz', 'POST /api/auth/login', 'GET /api/email/oauth/callback']);

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let admin: Awaited<ReturnType<typeof userWithToken>>;
let member: Awaited<ReturnType<typeof userWithToken>>;

beforeEach(async () => {
  deps = await makeDeps({ clock: new FakeClock(), env: gmailEnv() });
  api = apiClient(deps);
  admin = await userWithToken(deps, { username: 'root', role: 'admin' });
  member = await userWithToken(deps, { username: 'mia', role: 'member', email: 'mia@fund.example' });
});
afterEach(async () => {
  await deps.cleanup();
});

/** Every method and path the app serves, from Hono's own route list. */
function servedRoutes(): { method: string; path: string }[] {
  const app = createApp(deps);
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of app.routes) {
    if (r.method === 'ALL' || r.path.includes('*')) continue;
    // The console's pages use a session cookie, not bearer tokens.
    if (!r.path.startsWith('/api/') && r.path !== '/healthz') continue;
    seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path.replace(/:id\b/g, '1') });
  }
  return [...seen.values()];
}

describe('bearer tokens', () => {
  it('every route but /healthz, /api/auth/login and /api/email/oauth/callback answers 401 UNAUTHENTICATED without a token or with a bad one', async () => {
    const routes = servedRoutes();
    // The table must really list the API, or this test proves nothing.
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) {
      const key = `${r.method} ${r.path.replace(/\/1\b/g, '/:id')}`;
      if (PUBLIC.has(key)) continue;
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      expectError(await api(r.method, r.path, { body }), 401, 'UNAUTHENTICATED');
      expectError(await api(r.method, r.path, { body, headers: { authorization: 'Bearer not-a-token' } }), 401, 'UNAUTHENTICATED');
      expectError(await api(r.method, r.path, { body, headers: { authorization: `Basic ${Buffer.from('root:x').toString('base64')}` } }), 401, 'UNAUTHENTICATED');
    }
  });

  it('the three public routes answer without a token', async () => {
    expect((await api('GET', '/healthz')).status).toBe(200);
    expect((await api('POST', '/api/auth/login', { body: { username: 'root', password: PASSWORD } })).status).toBe(200);
    const cb = await createApp(deps).request('/api/email/oauth/callback?code=x&state=y');
    expect(cb.status).not.toBe(401);
  });
});

describe('POST /api/auth/login → {token, expires_at, user}', () => {
  it('answers the token, its expiry as a contract time, and the user with an integer id', async () => {
    const r = await api('POST', '/api/auth/login', { body: { username: 'mia', password: PASSWORD } });
    expect(r.status).toBe(200);
    expect(typeof r.body.token).toBe('string');
    expect(r.body.expires_at).toMatch(TIME);
    expect(r.body.user).toMatchObject({ id: member.id, username: 'mia', email: 'mia@fund.example', role: 'member' });
    expectContractTypes(r.body);
    expect(JSON.stringify(r.body)).not.toMatch(/password|scrypt/);
  });

  it('a wrong password is 401 UNAUTHENTICATED in the envelope', async () => {
    expectError(await api('POST', '/api/auth/login', { body: { username: 'mia', password: 'wrong password' } }), 401, 'UNAUTHENTICATED');
  });

  it('repeated failures answer 429 RATE_LIMITED with a Retry-After of whole seconds', async () => {
    for (let i = 0; i < 10; i++) await api('POST', '/api/auth/login', { body: { username: 'mia', password: `guess ${i}` } });
    const r = await api('POST', '/api/auth/login', { body: { username: 'mia', password: PASSWORD } });
    expectError(r, 429, 'RATE_LIMITED');
    expect(r.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  });
});

describe('POST /api/auth/logout', () => {
  it('ends the session: the token answers 401 afterwards', async () => {
    const r = await api('POST', '/api/auth/logout', { token: member.token });
    expect([200, 204]).toContain(r.status);
    expectError(await api('GET', '/api/investors', { token: member.token }), 401, 'UNAUTHENTICATED');
  });
});

describe('POST /api/auth/password changes one\'s own password', () => {
  it('with the current and a new password: the new one logs in, the old one no longer does', async () => {
    const r = await api('POST', '/api/auth/password', { token: member.token, body: { current_password: PASSWORD, new_password: 'a brand new secret' } });
    expect([200, 204]).toContain(r.status);
    expect((await api('POST', '/api/auth/login', { body: { username: 'mia', password: 'a brand new secret' } })).status).toBe(200);
    expectError(await api('POST', '/api/auth/login', { body: { username: 'mia', password: PASSWORD } }), 401, 'UNAUTHENTICATED');
  });

  it('the old_password / password spellings are understood too', async () => {
    const r = await api('POST', '/api/auth/password', { token: member.token, body: { old_password: PASSWORD, password: 'another new secret' } });
    expect([200, 204]).toContain(r.status);
    expect((await api('POST', '/api/auth/login', { body: { username: 'mia', password: 'another new secret' } })).status).toBe(200);
  });

  it('a wrong current password is refused and changes nothing', async () => {
    const r = await api('POST', '/api/auth/password', { token: member.token, body: { current_password: 'not it at all', new_password: 'a brand new secret' } });
    expect([400, 401, 403]).toContain(r.status);
    expect((await api('POST', '/api/auth/login', { body: { username: 'mia', password: PASSWORD } })).status).toBe(200);
  });

  it('a missing new password is 400 VALIDATION naming it', async () => {
    const r = await api('POST', '/api/auth/password', { token: member.token, body: { current_password: PASSWORD } });
    expectError(r, 400, 'VALIDATION');
  });
});

describe('/api/users (admin): {username, email, password, role, disabled}', () => {
  it('GET answers {users:[…]} with integer ids, boolean disabled and contract times; never a password', async () => {
    const r = await api('GET', '/api/users', { token: admin.token });
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body.users)).toBe(true);
    expect(r.body.users.map((u: { username: string }) => u.username).sort()).toEqual(['mia', 'root']);
    for (const u of r.body.users) {
      expect(Object.keys(u)).toEqual(expect.arrayContaining(['id', 'username', 'email', 'role', 'disabled']));
      expect(typeof u.disabled).toBe('boolean');
    }
    expectContractTypes(r.body);
    expect(JSON.stringify(r.body)).not.toMatch(/password|scrypt/);
  });

  it('POST answers 201 with the user (role and disabled as given); the new user can log in', async () => {
    const r = await api('POST', '/api/users', { token: admin.token, body: { username: 'neo', email: 'Neo@Fund.example', password: 'long enough pw', role: 'admin', disabled: false } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: 'neo', email: 'neo@fund.example', role: 'admin', disabled: false });
    expect(Number.isInteger(r.body.id)).toBe(true);
    expectContractTypes(r.body);
    expect(JSON.stringify(r.body)).not.toMatch(/password|scrypt/);
    expect((await api('POST', '/api/auth/login', { body: { username: 'neo', password: 'long enough pw' } })).status).toBe(200);
  });

  it('bad input is 400 VALIDATION naming the field', async () => {
    const role = await api('POST', '/api/users', { token: admin.token, body: { username: 'neo', password: 'long enough pw', role: 'owner' } });
    expectError(role, 400, 'VALIDATION');
    expect(role.body.error.field).toBe('role');
    const pw = await api('POST', '/api/users', { token: admin.token, body: { username: 'neo' } });
    expectError(pw, 400, 'VALIDATION');
    expect(pw.body.error.field).toBe('password');
  });

  it('a taken username is 409 CONFLICT', async () => {
    expectError(await api('POST', '/api/users', { token: admin.token, body: { username: 'MIA', password: 'long enough pw' } }), 409, 'CONFLICT');
  });

  it('PATCH answers 200 with the changed user; disabling revokes their tokens (401), and so does deleting', async () => {
    const p = await api('PATCH', `/api/users/${member.id}`, { token: admin.token, body: { disabled: true } });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ id: member.id, disabled: true });
    expectContractTypes(p.body);
    expectError(await api('GET', '/api/investors', { token: member.token }), 401, 'UNAUTHENTICATED');
    // Re-enabling does not bring the old session back.
    await api('PATCH', `/api/users/${member.id}`, { token: admin.token, body: { disabled: false } });
    expectError(await api('GET', '/api/investors', { token: member.token }), 401, 'UNAUTHENTICATED');

    const other = await userWithToken(deps, { username: 'zoe', role: 'member' });
    expect((await api('GET', '/api/investors', { token: other.token })).status).toBe(200);
    const d = await api('DELETE', `/api/users/${other.id}`, { token: admin.token });
    expect(d.status).toBe(204);
    expect(d.body).toBeNull();
    expectError(await api('GET', '/api/investors', { token: other.token }), 401, 'UNAUTHENTICATED');
  });

  it('PATCH and DELETE of an unknown user are 404 NOT_FOUND', async () => {
    expectError(await api('PATCH', '/api/users/9999', { token: admin.token, body: { role: 'member' } }), 404, 'NOT_FOUND');
    expectError(await api('DELETE', '/api/users/9999', { token: admin.token }), 404, 'NOT_FOUND');
  });
});

describe('/api/investors: {name, domains, emails}', () => {
  it('POST answers 201 with the investor; GET lists {investors:[…]}; GET one, PATCH 200, DELETE 204 then 404', async () => {
    const c = await api('POST', '/api/investors', { token: admin.token, body: { name: 'Acme Capital', domains: ['Acme.com'], emails: ['LP@Gmail.com'] } });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ name: 'Acme Capital', domains: ['acme.com'], emails: ['lp@gmail.com'] });
    expect(Number.isInteger(c.body.id)).toBe(true);
    expectContractTypes(c.body);

    const list = await api('GET', '/api/investors', { token: member.token });
    expect(list.status).toBe(200);
    expect(list.body.investors).toEqual([expect.objectContaining({ id: c.body.id, name: 'Acme Capital', domains: ['acme.com'], emails: ['lp@gmail.com'] })]);
    expectContractTypes(list.body);

    const one = await api('GET', `/api/investors/${c.body.id}`, { token: member.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: c.body.id, name: 'Acme Capital', domains: ['acme.com'], emails: ['lp@gmail.com'] });
    expectContractTypes(one.body);

    const p = await api('PATCH', `/api/investors/${c.body.id}`, { token: admin.token, body: { domains: ['acme.com', 'acme.co.uk'] } });
    expect(p.status).toBe(200);
    expect(p.body.domains.sort()).toEqual(['acme.co.uk', 'acme.com']);
    expect(p.body.name).toBe('Acme Capital');
    expectContractTypes(p.body);

    const d = await api('DELETE', `/api/investors/${c.body.id}`, { token: admin.token });
    expect(d.status).toBe(204);
    expectError(await api('GET', `/api/investors/${c.body.id}`, { token: member.token }), 404, 'NOT_FOUND');
    expectError(await api('DELETE', `/api/investors/${c.body.id}`, { token: admin.token }), 404, 'NOT_FOUND');
  });

  it('a missing name is 400 VALIDATION naming it; members may write investors too', async () => {
    const r = await api('POST', '/api/investors', { token: admin.token, body: { domains: ['acme.com'] } });
    expectError(r, 400, 'VALIDATION');
    expect(r.body.error.field).toBe('name');
    expect((await api('POST', '/api/investors', { token: member.token, body: { name: 'Member Added' } })).status).toBe(201);
  });
});

describe('/api/contacts: {name, emails, investor_id?}', () => {
  it('POST 201 with investor_id; without one investor_id is null; list {contacts:[…]}; PATCH moves; DELETE 204', async () => {
    const inv = (await api('POST', '/api/investors', { token: admin.token, body: { name: 'Acme' } })).body;
    const c = await api('POST', '/api/contacts', { token: admin.token, body: { name: 'Bob', emails: ['Bob@Acme.com'], investor_id: inv.id } });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ name: 'Bob', emails: ['bob@acme.com'], investor_id: inv.id });
    expectContractTypes(c.body);
    const free = await api('POST', '/api/contacts', { token: admin.token, body: { name: 'Free Agent', emails: ['fa@else.com'] } });
    expect(free.status).toBe(201);
    expect(free.body.investor_id).toBeNull();

    const list = await api('GET', '/api/contacts', { token: member.token });
    expect(list.status).toBe(200);
    expect(list.body.contacts.map((x: { name: string }) => x.name)).toEqual(['Bob', 'Free Agent']);
    expectContractTypes(list.body);

    const got = await api('GET', `/api/contacts/${c.body.id}`, { token: member.token });
    expect(got.body).toMatchObject({ id: c.body.id, name: 'Bob', emails: ['bob@acme.com'], investor_id: inv.id });

    const moved = await api('PATCH', `/api/contacts/${free.body.id}`, { token: admin.token, body: { investor_id: inv.id } });
    expect(moved.status).toBe(200);
    expect(moved.body.investor_id).toBe(inv.id);
    const unlinked = await api('PATCH', `/api/contacts/${free.body.id}`, { token: admin.token, body: { investor_id: null } });
    expect(unlinked.body.investor_id).toBeNull();

    expect((await api('DELETE', `/api/contacts/${c.body.id}`, { token: admin.token })).status).toBe(204);
    expectError(await api('GET', `/api/contacts/${c.body.id}`, { token: member.token }), 404, 'NOT_FOUND');
  });

  it('an unknown investor_id is refused naming investor_id', async () => {
    const r = await api('POST', '/api/contacts', { token: admin.token, body: { name: 'Bob', emails: ['bob@acme.com'], investor_id: 4242 } });
    expect([400, 404]).toContain(r.status);
    expect(r.body.error.field ?? 'investor_id').toBe('investor_id');
  });
});

describe('/api/exclusions (admin): {address} or {domain}, exactly one', () => {
  it('POST {address} and {domain} answer 201 with the exclusion; GET lists {exclusions:[…]}; DELETE 204', async () => {
    const a = await api('POST', '/api/exclusions', { token: admin.token, body: { address: 'Noise@Acme.com' } });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ address: 'noise@acme.com' });
    expect(a.body.domain ?? null).toBeNull();
    expectContractTypes(a.body);
    const d = await api('POST', '/api/exclusions', { token: admin.token, body: { domain: 'Spam.example' } });
    expect(d.status).toBe(201);
    expect(d.body).toMatchObject({ domain: 'spam.example' });
    expect(d.body.address ?? null).toBeNull();

    const list = await api('GET', '/api/exclusions', { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.exclusions.map((x: { id: number }) => x.id).sort()).toEqual([a.body.id, d.body.id].sort());
    expectContractTypes(list.body);

    expect((await api('DELETE', `/api/exclusions/${a.body.id}`, { token: admin.token })).status).toBe(204);
    expectError(await api('DELETE', `/api/exclusions/${a.body.id}`, { token: admin.token }), 404, 'NOT_FOUND');
  });

  it('neither or both is 400 VALIDATION with a field', async () => {
    expectError(await api('POST', '/api/exclusions', { token: admin.token, body: {} }), 400, 'VALIDATION');
    expectError(await api('POST', '/api/exclusions', { token: admin.token, body: { address: 'a@b.com', domain: 'b.com' } }), 400, 'VALIDATION');
  });

  it('the shape the list answers ({address, domain: null}) is accepted back: a null side counts as absent', async () => {
    const a = await api('POST', '/api/exclusions', { token: admin.token, body: { address: 'x@acme.com', domain: null } });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ address: 'x@acme.com', domain: null });
    const d = await api('POST', '/api/exclusions', { token: admin.token, body: { address: null, domain: 'acme.org' } });
    expect(d.status).toBe(201);
    expect(d.body).toMatchObject({ address: null, domain: 'acme.org' });
    expectError(await api('POST', '/api/exclusions', { token: admin.token, body: { address: null, domain: null } }), 400, 'VALIDATION');
  });

  it('members may not read or write exclusions (403)', async () => {
    expectError(await api('GET', '/api/exclusions', { token: member.token }), 403, 'FORBIDDEN');
    expectError(await api('POST', '/api/exclusions', { token: member.token, body: { domain: 'x.com' } }), 403, 'FORBIDDEN');
  });
});

describe('POST /api/investors/import (admin) → {investors, contacts} counts', () => {
  it('JSON: upsert by investor name and by contact email; the counts are records created or changed', async () => {
    const body = [
      { name: 'Acme', domains: ['acme.com'], emails: ['ir@acme.com'], contacts: [{ name: 'Bob', emails: ['bob@acme.com'] }, { name: 'Sue', emails: ['sue@acme.com'] }] },
      { name: 'Beta LP', domains: ['beta.com'], emails: [], contacts: [] },
    ];
    const r = await api('POST', '/api/investors/import', { token: admin.token, body });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ investors: 2, contacts: 2 });
    expect(Number.isInteger(r.body.investors) && Number.isInteger(r.body.contacts)).toBe(true);
    const again = await api('POST', '/api/investors/import', { token: admin.token, body });
    expect(again.body).toMatchObject({ investors: 0, contacts: 0 });
    // Same investor in another case, a new domain, a known contact renamed: one of each changed.
    const more = await api('POST', '/api/investors/import', { token: admin.token, body: [{ name: 'ACME', domains: ['acme.io'], contacts: [{ name: 'Robert', emails: ['bob@acme.com'] }] }] });
    expect(more.body).toMatchObject({ investors: 1, contacts: 1 });
    const inv = (await api('GET', '/api/investors', { token: admin.token })).body.investors;
    expect(inv.map((i: { name: string }) => i.name)).toEqual(['Acme', 'Beta LP']);
    expect(inv[0].domains).toEqual(['acme.com', 'acme.io']);
  });

  it('CSV with header investor,domain,contact_name,contact_email and the optional investor_email column', async () => {
    const csv = [
      'investor,domain,contact_name,contact_email,investor_email',
      'Acme,acme.com,Bob,bob@acme.com,ir@acme.com',
      'Acme,,Sue,sue@acme.com,',
      'Beta LP,beta.com,,,',
    ].join('\n');
    const r = await api('POST', '/api/investors/import', { token: admin.token, raw: csv, headers: { 'content-type': 'text/csv' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ investors: 2, contacts: 2 });
    const acme = (await api('GET', '/api/investors', { token: admin.token })).body.investors.find((i: { name: string }) => i.name === 'Acme');
    expect(acme).toMatchObject({ domains: ['acme.com'], emails: ['ir@acme.com'] });
    const contacts = (await api('GET', `/api/contacts?investor_id=${acme.id}`, { token: admin.token })).body.contacts;
    expect(contacts.map((c: { name: string }) => c.name)).toEqual(['Bob', 'Sue']);

    const plain = 'investor,domain,contact_name,contact_email\nGamma,gamma.com,Gil,gil@gamma.com\n';
    const g = await api('POST', '/api/investors/import', { token: admin.token, raw: plain, headers: { 'content-type': 'text/csv; charset=utf-8' } });
    expect(g.body).toMatchObject({ investors: 1, contacts: 1 });
    const app = await api('POST', '/api/investors/import', { token: admin.token, raw: 'investor,domain\nDelta,delta.com\n', headers: { 'content-type': 'application/csv' } });
    expect(app.body).toMatchObject({ investors: 1, contacts: 0 });
  });

  it('a bad row is 400 VALIDATION with a field, and nothing is imported', async () => {
    const r = await api('POST', '/api/investors/import', { token: admin.token, body: [{ name: 'Ok' }, { name: 'Bad', domains: ['not a domain'] }] });
    expectError(r, 400, 'VALIDATION');
    expect((await api('GET', '/api/investors', { token: admin.token })).body.investors).toEqual([]);
  });
});

describe('the error envelope', () => {
  it('a body that is not JSON, or not an object, is 400 VALIDATION with a field', async () => {
    const notJson = await api('POST', '/api/investors', { token: admin.token, raw: '{nope', headers: { 'content-type': 'application/json' } });
    expectError(notJson, 400, 'VALIDATION');
    const notObject = await api('POST', '/api/investors', { token: admin.token, body: [1, 2] });
    expectError(notObject, 400, 'VALIDATION');
    const badImport = await api('POST', '/api/investors/import', { token: admin.token, body: { investors: 'nope' } });
    expectError(badImport, 400, 'VALIDATION');
  });
});
