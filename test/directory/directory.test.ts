import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { all } from '../../lib/db/client.js';
import { addressField, domainField } from '../../lib/directory/directory.js';
import { AppError } from '../../lib/core/errors.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let admin: string;
let member: string;

beforeEach(async () => {
  deps = await makeDeps();
  api = apiClient(deps);
  admin = (await userWithToken(deps, { role: 'admin' })).token;
  member = (await userWithToken(deps, { role: 'member' })).token;
});
afterEach(async () => {
  await deps.cleanup();
});

const queue = async () => {
  const rows = await all<{ address: string | null; domain: string | null }>(deps.db, 'SELECT address, domain FROM email_rematch_queue ORDER BY id');
  return rows.map((r) => r.address ?? `domain:${r.domain}`).sort();
};
const clearQueue = () => deps.db.execute('DELETE FROM email_rematch_queue');

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('accepted');
}

describe('normalisation', () => {
  it('domains are trimmed and lower-cased; subdomains are fine', () => {
    expect(domainField('  Fund.COM ', 'domains[0]')).toBe('fund.com');
    expect(domainField('mail.fundx.com', 'domains[0]')).toBe('mail.fundx.com');
  });

  it.each([
    ['https://x.com', /is a URL/],
    ['x.com/a', /has a path/],
    ['@x.com', /starts with @/],
    ['ann@x.com', /is an email address/],
    ['x .com', /contains spaces/],
    ['localhost', /not a domain name/],
    ['x..com', /not a domain name/],
    ['-x.com', /not a domain name/],
    ['x.com:8080', /not a domain name/],
    ['', /is empty/],
  ])('domain %j is refused with a message naming the field', (raw, why) => {
    const err = refusal(() => domainField(raw, 'domains[1]'));
    expect(err.code).toBe('VALIDATION');
    expect(err.field).toBe('domains[1]');
    expect(err.message).toMatch(/^domains\[1\]: /);
    expect(err.message).toMatch(why);
  });

  it('addresses are trimmed and lower-cased; malformed ones are refused', () => {
    expect(addressField(' Ann.Lee+deals@Fund.com ', 'emails[0]')).toBe('ann.lee+deals@fund.com');
    for (const bad of ['ann', 'ann@', '@fund.com', 'ann@fund', 'ann lee@fund.com', 'ann@@fund.com', 'ann@fund..com', '.ann@fund.com', 'a<b>@fund.com']) {
      expect(refusal(() => addressField(bad, 'emails[2]')).field).toBe('emails[2]');
    }
  });
});

describe('investors', () => {
  it('create answers 201 with normalised, de-duplicated lists and queues them for rematch', async () => {
    const r = await api('POST', '/api/investors', {
      token: admin,
      body: { name: ' Fund X ', domains: ['FundX.com', 'mail.fundx.com', 'fundx.com'], emails: ['IR@FundX.com'] },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'Fund X', domains: ['fundx.com', 'mail.fundx.com'], emails: ['ir@fundx.com'] });
    expect(r.body.id).toEqual(expect.any(Number));
    expect(await queue()).toEqual(['domain:fundx.com', 'domain:mail.fundx.com', 'ir@fundx.com']);
  });

  it('a bad domain is refused naming it (domains[1]) and nothing is stored', async () => {
    const r = await api('POST', '/api/investors', { token: admin, body: { name: 'Fund X', domains: ['fundx.com', 'https://fundx.com'] } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION', field: 'domains[1]' });
    expect((await api('GET', '/api/investors', { token: admin })).body.investors).toEqual([]);
    expect(await queue()).toEqual([]);
  });

  it('a missing name is refused; a duplicate name (any case) answers 409', async () => {
    expect((await api('POST', '/api/investors', { token: admin, body: { domains: [] } })).body.error.field).toBe('name');
    await api('POST', '/api/investors', { token: admin, body: { name: 'Fund X' } });
    const dup = await api('POST', '/api/investors', { token: admin, body: { name: 'FUND x' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
  });

  it('members read the list and one investor (with its contacts); ?q= filters by name', async () => {
    const x = (await api('POST', '/api/investors', { token: admin, body: { name: 'Fund X', domains: ['fundx.com'] } })).body;
    await api('POST', '/api/investors', { token: admin, body: { name: 'Acme Capital' } });
    await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', emails: ['ann@fundx.com'], investor_id: x.id } });
    const list = await api('GET', '/api/investors', { token: member });
    expect(list.status).toBe(200);
    expect(list.body.investors.map((i: { name: string }) => i.name)).toEqual(['Acme Capital', 'Fund X']);
    expect((await api('GET', '/api/investors?q=fund', { token: member })).body.investors.map((i: { id: number }) => i.id)).toEqual([x.id]);
    expect((await api('GET', '/api/investors?q=%25', { token: member })).body.investors).toEqual([]);
    const one = await api('GET', `/api/investors/${x.id}`, { token: member });
    expect(one.body).toMatchObject({ id: x.id, name: 'Fund X', domains: ['fundx.com'], emails: [] });
    expect(one.body.contacts).toEqual([expect.objectContaining({ name: 'Ann', emails: ['ann@fundx.com'], investor_id: x.id })]);
    expect((await api('GET', '/api/investors/9999', { token: member })).status).toBe(404);
    expect((await api('GET', '/api/investors/abc', { token: member })).status).toBe(404);
  });

  it('PATCH replaces the lists given and queues what was added and removed, nothing else', async () => {
    const x = (await api('POST', '/api/investors', { token: admin, body: { name: 'Fund X', domains: ['a.com', 'b.com'], emails: ['ir@a.com'] } })).body;
    await clearQueue();
    const r = await api('PATCH', `/api/investors/${x.id}`, { token: admin, body: { name: 'Fund X2', domains: ['b.com', 'c.com'] } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'Fund X2', domains: ['b.com', 'c.com'], emails: ['ir@a.com'] });
    expect(await queue()).toEqual(['domain:a.com', 'domain:c.com']);
    const bad = await api('PATCH', `/api/investors/${x.id}`, { token: admin, body: { emails: ['ok@a.com', 'nope'] } });
    expect(bad.body.error.field).toBe('emails[1]');
  });

  it('DELETE answers 204, keeps its contacts without an investor, and queues every address it had', async () => {
    const x = (await api('POST', '/api/investors', { token: admin, body: { name: 'Fund X', domains: ['a.com'], emails: ['ir@a.com'] } })).body;
    const ann = (await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', emails: ['ann@a.com'], investor_id: x.id } })).body;
    await clearQueue();
    expect((await api('DELETE', `/api/investors/${x.id}`, { token: admin })).status).toBe(204);
    expect(await queue()).toEqual(['ann@a.com', 'domain:a.com', 'ir@a.com']);
    expect((await api('GET', `/api/contacts/${ann.id}`, { token: admin })).body.investor_id).toBeNull();
    expect((await api('DELETE', `/api/investors/${x.id}`, { token: admin })).status).toBe(404);
  });
});

describe('contacts', () => {
  it('create answers 201; an address already held by another contact answers 409 naming it', async () => {
    const r = await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', emails: ['Ann@Fund.com'] } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'Ann', emails: ['ann@fund.com'], investor_id: null });
    const dup = await api('POST', '/api/contacts', { token: admin, body: { name: 'Other', emails: ['x@fund.com', 'ANN@fund.com'] } });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'CONFLICT', field: 'emails[1]' });
    expect(dup.body.error.message).toContain(`contact ${r.body.id}`);
    const all = await api('GET', '/api/contacts', { token: member });
    expect(all.body.contacts).toHaveLength(1);
  });

  it('an unknown investor_id is refused naming the field', async () => {
    const r = await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', investor_id: 4242 } });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('investor_id');
  });

  it('listing filters by ?investor_id= and ?q=', async () => {
    const x = (await api('POST', '/api/investors', { token: admin, body: { name: 'Fund X' } })).body;
    await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', investor_id: x.id } });
    await api('POST', '/api/contacts', { token: admin, body: { name: 'Bob' } });
    const names = async (qs: string) => (await api('GET', `/api/contacts${qs}`, { token: member })).body.contacts.map((c: { name: string }) => c.name);
    expect(await names('')).toEqual(['Ann', 'Bob']);
    expect(await names(`?investor_id=${x.id}`)).toEqual(['Ann']);
    expect(await names('?q=bo')).toEqual(['Bob']);
    expect((await api('GET', '/api/contacts?investor_id=abc', { token: member })).status).toBe(400);
  });

  it('moving a contact to another investor queues all its addresses; replacing addresses queues the difference', async () => {
    const x = (await api('POST', '/api/investors', { token: admin, body: { name: 'Fund X' } })).body;
    const ann = (await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', emails: ['ann@a.com', 'ann@b.com'] } })).body;
    await clearQueue();
    const moved = await api('PATCH', `/api/contacts/${ann.id}`, { token: admin, body: { investor_id: x.id } });
    expect(moved.body.investor_id).toBe(x.id);
    expect(await queue()).toEqual(['ann@a.com', 'ann@b.com']);
    await clearQueue();
    const r = await api('PATCH', `/api/contacts/${ann.id}`, { token: admin, body: { name: 'Ann Lee', emails: ['ann@b.com', 'ann@c.com'] } });
    expect(r.body).toMatchObject({ name: 'Ann Lee', emails: ['ann@b.com', 'ann@c.com'], investor_id: x.id });
    expect(await queue()).toEqual(['ann@a.com', 'ann@c.com']);
    await clearQueue();
    // Keeping its own address is no conflict; an unchanged PATCH queues nothing.
    expect((await api('PATCH', `/api/contacts/${ann.id}`, { token: admin, body: { emails: ['ann@c.com', 'ann@b.com'] } })).status).toBe(200);
    expect(await queue()).toEqual([]);
  });

  it('DELETE answers 204 and queues its addresses', async () => {
    const ann = (await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', emails: ['ann@a.com'] } })).body;
    await clearQueue();
    expect((await api('DELETE', `/api/contacts/${ann.id}`, { token: admin })).status).toBe(204);
    expect(await queue()).toEqual(['ann@a.com']);
    expect((await api('GET', `/api/contacts/${ann.id}`, { token: admin })).status).toBe(404);
  });

  it('members may read and edit investors and contacts (the contract marks only import, exclusions and users admin)', async () => {
    const w = await api('POST', '/api/contacts', { token: member, body: { name: 'Ann', emails: ['ann@member-added.test'] } });
    expect(w.status).toBe(201);
    expect((await api('GET', '/api/contacts', { token: member })).status).toBe(200);
    expect((await api('POST', '/api/investors/import', { token: member, body: [{ name: 'X' }] })).status).toBe(403);
  });
});
