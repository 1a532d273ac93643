import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { one } from '../../lib/db/client.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let admin: Awaited<ReturnType<typeof userWithToken>>;

beforeEach(async () => {
  deps = await makeDeps();
  api = apiClient(deps);
  admin = await userWithToken(deps, { username: 'root', role: 'admin' });
});
afterEach(async () => {
  await deps.cleanup();
});

const create = (body: Record<string, unknown>) => api('POST', '/api/users', { token: admin.token, body });

describe('team members', () => {
  it('create answers 201 with the user, email in lower case, member by default, no password hash anywhere', async () => {
    const r = await create({ username: 'ada', email: '  Ada@Fund.COM ', password: 'long enough pw' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: 'ada', email: 'ada@fund.com', role: 'member', disabled: false });
    expect(r.body).not.toHaveProperty('password_hash');
    expect(r.body).not.toHaveProperty('password');
    const list = await api('GET', '/api/users', { token: admin.token });
    expect(list.body.users.map((u: { username: string }) => u.username)).toEqual(['ada', 'root']);
    expect(JSON.stringify(list.body)).not.toMatch(/scrypt|password/);
    const login = await api('POST', '/api/auth/login', { body: { username: 'ada', password: 'long enough pw' } });
    expect(login.status).toBe(200);
  });

  it('a duplicate username (any case) or email answers 409', async () => {
    await create({ username: 'ada', email: 'ada@fund.com', password: 'long enough pw' });
    const sameName = await create({ username: 'ADA', password: 'long enough pw' });
    expect(sameName.status).toBe(409);
    expect(sameName.body.error).toMatchObject({ code: 'CONFLICT', field: 'username' });
    const sameEmail = await create({ username: 'bob', email: 'ADA@fund.com', password: 'long enough pw' });
    expect(sameEmail.status).toBe(409);
    expect(sameEmail.body.error.field).toBe('email');
    const bob = await create({ username: 'bob', password: 'long enough pw' });
    const rename = await api('PATCH', `/api/users/${bob.body.id}`, { token: admin.token, body: { email: 'ada@fund.com' } });
    expect(rename.status).toBe(409);
  });

  it('bad input is refused naming the field: role, short password, bad email, bad username', async () => {
    expect((await create({ username: 'ada', password: 'long enough pw', role: 'owner' })).body.error.field).toBe('role');
    expect((await create({ username: 'ada', password: 'short' })).body.error.field).toBe('password');
    expect((await create({ username: 'ada', password: 'long enough pw', email: 'not-an-email' })).body.error.field).toBe('email');
    const spaced = await create({ username: 'a da', password: 'long enough pw' });
    expect(spaced.status).toBe(400);
    expect(spaced.body.error.field).toBe('username');
  });

  it('update changes the fields given; a new password ends the user\'s sessions', async () => {
    const ada = await userWithToken(deps, { username: 'ada', role: 'member' });
    const r = await api('PATCH', `/api/users/${ada.id}`, { token: admin.token, body: { email: 'ADA@x.org', role: 'admin' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: ada.id, username: 'ada', email: 'ada@x.org', role: 'admin', disabled: false });
    expect((await api('GET', '/api/users', { token: ada.token })).status).toBe(200);
    await api('PATCH', `/api/users/${ada.id}`, { token: admin.token, body: { password: 'brand new password' } });
    expect((await api('GET', '/api/users', { token: ada.token })).status).toBe(401);
    const cleared = await api('PATCH', `/api/users/${ada.id}`, { token: admin.token, body: { email: null } });
    expect(cleared.body.email).toBeNull();
  });

  it('deleting a user removes them and their tokens', async () => {
    const ada = await userWithToken(deps, { username: 'ada', role: 'member' });
    expect((await api('DELETE', `/api/users/${ada.id}`, { token: admin.token })).status).toBe(204);
    expect((await api('GET', '/api/investors', { token: ada.token })).status).toBe(401);
    expect(await one(deps.db, 'SELECT 1 FROM tokens WHERE user_id = ?', [ada.id])).toBeUndefined();
    expect((await api('DELETE', `/api/users/${ada.id}`, { token: admin.token })).status).toBe(404);
    expect((await api('PATCH', '/api/users/99999', { token: admin.token, body: { role: 'member' } })).status).toBe(404);
  });

  it('the last enabled admin cannot be demoted, disabled or deleted (409); with another admin they can', async () => {
    for (const body of [{ role: 'member' }, { disabled: true }]) {
      const r = await api('PATCH', `/api/users/${admin.id}`, { token: admin.token, body });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('CONFLICT');
    }
    expect((await api('DELETE', `/api/users/${admin.id}`, { token: admin.token })).status).toBe(409);

    // A disabled admin does not count as the other admin.
    const sleeping = await userWithToken(deps, { username: 'sleeping', role: 'admin' });
    await api('PATCH', `/api/users/${sleeping.id}`, { token: admin.token, body: { disabled: true } });
    expect((await api('PATCH', `/api/users/${admin.id}`, { token: admin.token, body: { role: 'member' } })).status).toBe(409);

    await api('PATCH', `/api/users/${sleeping.id}`, { token: admin.token, body: { disabled: false } });
    expect((await api('PATCH', `/api/users/${admin.id}`, { token: admin.token, body: { role: 'member' } })).status).toBe(200);
    const u = await one<{ role: string }>(deps.db, 'SELECT role FROM users WHERE id = ?', [admin.id]);
    expect(u!.role).toBe('member');
  });
});

describe('team member changes in the audit log', () => {
  it('creating, changing and deleting a user are recorded with who, before and after, and never a password or its hash', async () => {
    const made = await create({ username: 'ada', email: 'ada@fund.com', password: 'long enough pw' });
    expect((await api('PATCH', `/api/users/${made.body.id}`, { token: admin.token, body: { role: 'admin', password: 'another long pw' } })).status).toBe(200);
    expect((await api('DELETE', `/api/users/${made.body.id}`, { token: admin.token })).status).toBe(204);
    const entries = (await api('GET', '/api/audit', { token: admin.token })).body.entries;
    expect(entries.map((e: { action: string }) => e.action)).toEqual(['user.delete', 'user.update', 'user.create']);
    for (const e of entries) expect(e).toMatchObject({ user: { username: 'root' }, target: `user:${made.body.id}` });
    expect(entries[1].detail).toMatchObject({ before: { role: 'member' }, after: { role: 'admin' }, password_changed: true });
    const text = JSON.stringify(entries);
    expect(text).not.toMatch(/long enough pw|another long pw|scrypt|password_hash/);
  });
});
