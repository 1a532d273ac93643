// Every admin-only route refuses a request without a token (401) and a member's (403), and
// does so before it looks at the body or the id. Add new admin routes to ADMIN_ROUTES.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
}

export const ADMIN_ROUTES: AdminRoute[] = [
  // Team members
  { method: 'GET', path: '/api/users' },
  { method: 'POST', path: '/api/users', body: { username: 'x', password: 'long enough pw' } },
  { method: 'PATCH', path: '/api/users/1', body: { role: 'admin' } },
  { method: 'DELETE', path: '/api/users/1' },
  // The bulk import (investors and contacts one at a time are for any signed-in user)
  { method: 'POST', path: '/api/investors/import', body: [{ name: 'X' }] },
  // Exclusions
  { method: 'GET', path: '/api/exclusions' },
  { method: 'POST', path: '/api/exclusions', body: { domain: 'x.com' } },
  { method: 'DELETE', path: '/api/exclusions/1' },
  // Mailboxes and syncs
  { method: 'POST', path: '/api/email/accounts/enroll', body: { email: 'a@fund.test' } },
  { method: 'POST', path: '/api/email/accounts/enroll-all' },
  { method: 'GET', path: '/api/email/accounts' },
  { method: 'PATCH', path: '/api/email/accounts/1', body: { sync_enabled: false } },
  { method: 'DELETE', path: '/api/email/accounts/1' },
  { method: 'POST', path: '/api/email/sync/run-now', body: {} },
  { method: 'GET', path: '/api/email/sync/runs' },
];

/** Routes any signed-in user may call, but not a stranger. */
export const USER_ROUTES: AdminRoute[] = [
  { method: 'GET', path: '/api/investors' },
  { method: 'GET', path: '/api/investors/1' },
  { method: 'GET', path: '/api/contacts' },
  { method: 'GET', path: '/api/contacts/1' },
  { method: 'POST', path: '/api/investors', body: { name: 'X' } },
  { method: 'PATCH', path: '/api/investors/1', body: { name: 'Y' } },
  { method: 'DELETE', path: '/api/investors/1' },
  { method: 'POST', path: '/api/contacts', body: { name: 'X' } },
  { method: 'PATCH', path: '/api/contacts/1', body: { name: 'Y' } },
  { method: 'DELETE', path: '/api/contacts/1' },
  { method: 'POST', path: '/api/auth/logout' },
  { method: 'POST', path: '/api/auth/password', body: { current_password: 'x', new_password: 'long enough pw' } },
];

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let member: string;
let admin: string;

beforeAll(async () => {
  deps = await makeDeps();
  api = apiClient(deps);
  admin = (await userWithToken(deps, { role: 'admin' })).token;
  member = (await userWithToken(deps, { role: 'member' })).token;
});
afterAll(async () => {
  await deps.cleanup();
});

const label = (r: AdminRoute) => `${r.method} ${r.path}`;

describe('admin routes', () => {
  it.each(ADMIN_ROUTES.map((r) => [label(r), r] as const))('%s without a token → 401 UNAUTHENTICATED', async (_l, r) => {
    const res = await api(r.method, r.path, { body: r.body });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
  });

  it.each(ADMIN_ROUTES.map((r) => [label(r), r] as const))('%s as a member → 403 FORBIDDEN', async (_l, r) => {
    const res = await api(r.method, r.path, { token: member, body: r.body });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  it.each(ADMIN_ROUTES.map((r) => [label(r), r] as const))('%s as an admin is let through (neither 401 nor 403)', async (_l, r) => {
    const res = await api(r.method, r.path, { token: admin, body: r.body });
    expect([401, 403]).not.toContain(res.status);
  });
});

describe('signed-in routes', () => {
  it.each(USER_ROUTES.map((r) => [label(r), r] as const))('%s without a token → 401; a member is let through', async (_l, r) => {
    expect((await api(r.method, r.path, { body: r.body })).status).toBe(401);
    // A fresh member each time: logout would otherwise end the shared member's session.
    const own = (await userWithToken(deps, { role: 'member' })).token;
    expect([401, 403]).not.toContain((await api(r.method, r.path, { token: own, body: r.body })).status);
  });
});
