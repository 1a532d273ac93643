import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { all } from '../../lib/db/client.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let admin: string;

beforeEach(async () => {
  deps = await makeDeps();
  api = apiClient(deps);
  admin = (await userWithToken(deps, { role: 'admin' })).token;
});
afterEach(async () => {
  await deps.cleanup();
});

const queue = () => all<{ address: string | null; domain: string | null }>(deps.db, 'SELECT address, domain FROM email_rematch_queue ORDER BY id');

describe('exclusions', () => {
  it('an address or a domain is stored normalised (201), listed, and queued for rematch', async () => {
    const a = await api('POST', '/api/exclusions', { token: admin, body: { address: ' Noreply@Fund.com ' } });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ id: expect.any(Number), address: 'noreply@fund.com', domain: null });
    const d = await api('POST', '/api/exclusions', { token: admin, body: { domain: 'Mailer.Example.COM' } });
    expect(d.status).toBe(201);
    expect(d.body).toMatchObject({ address: null, domain: 'mailer.example.com' });
    const list = await api('GET', '/api/exclusions', { token: admin });
    expect(list.body.exclusions.map((e: { id: number }) => e.id).sort()).toEqual([a.body.id, d.body.id].sort());
    expect(await queue()).toEqual([
      { address: 'noreply@fund.com', domain: null },
      { address: null, domain: 'mailer.example.com' },
    ]);
  });

  it('exactly one of address and domain: neither or both is refused', async () => {
    for (const body of [{}, { address: 'a@b.com', domain: 'b.com' }]) {
      const r = await api('POST', '/api/exclusions', { token: admin, body });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/exactly one of address or domain/);
    }
  });

  it('a malformed value is refused naming the field', async () => {
    const bad = await api('POST', '/api/exclusions', { token: admin, body: { domain: 'https://b.com' } });
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION', field: 'domain' });
    const badAddress = await api('POST', '/api/exclusions', { token: admin, body: { address: 'b.com' } });
    expect(badAddress.body.error).toMatchObject({ code: 'VALIDATION', field: 'address' });
    expect(await queue()).toEqual([]);
  });

  it('a duplicate (any case) answers 409', async () => {
    await api('POST', '/api/exclusions', { token: admin, body: { domain: 'b.com' } });
    const dup = await api('POST', '/api/exclusions', { token: admin, body: { domain: 'B.COM' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
    // The same text as an address and as a domain are different exclusions.
    expect((await api('POST', '/api/exclusions', { token: admin, body: { address: 'x@b.com' } })).status).toBe(201);
  });

  it('DELETE answers 204 and queues the value again; a second DELETE answers 404', async () => {
    const d = (await api('POST', '/api/exclusions', { token: admin, body: { domain: 'b.com' } })).body;
    await deps.db.execute('DELETE FROM email_rematch_queue');
    expect((await api('DELETE', `/api/exclusions/${d.id}`, { token: admin })).status).toBe(204);
    expect(await queue()).toEqual([{ address: null, domain: 'b.com' }]);
    expect((await api('GET', '/api/exclusions', { token: admin })).body.exclusions).toEqual([]);
    const again = await api('DELETE', `/api/exclusions/${d.id}`, { token: admin });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('NOT_FOUND');
  });
});
