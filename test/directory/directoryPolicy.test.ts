// The directory cannot widen capture beyond its purpose: the firm's own addresses, public
// suffixes and free-mail domains are refused; workspace rows left from before never match;
// every change is audited; a change that would expose much withheld mail waits for an admin.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { all, run } from '../../lib/db/client.js';
import { loadDirectory, Matcher } from '../../lib/matching/matcher.js';
import { drainRematchQueue } from '../../lib/matching/rematch.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let admin: { id: number; username: string; token: string };
let member: { id: number; username: string; token: string };

beforeEach(async () => {
  deps = await makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test,fund-ops.test', CRM_REMATCH_REVIEW_THRESHOLD: '3' } });
  api = apiClient(deps);
  admin = await userWithToken(deps, { role: 'admin' });
  member = await userWithToken(deps, { role: 'member' });
});
afterEach(async () => deps.cleanup());

/** `n` stored, withheld (metadata-only) emails from `from` to a partner. */
async function withheldMail(from: string, n: number): Promise<number[]> {
  const ids: number[] = [];
  const now = new Date(deps.clock.now()).toISOString();
  for (let i = 0; i < n; i++) {
    const r = await run(deps.db, "INSERT INTO emails (dedup_key, subject, from_address, sent_at, created_at, updated_at) VALUES (?, 'x', ?, ?, ?, ?)", [
      `mid:${from}-${i}-${Math.random()}`,
      from,
      now,
      now,
      now,
    ]);
    const id = Number(r.lastInsertRowid);
    await run(deps.db, "INSERT INTO email_participants (email_id, address, role) VALUES (?, ?, 'from'), (?, 'sam@fund.test', 'to')", [id, from, id]);
    ids.push(id);
  }
  return ids;
}

describe('what the directory refuses', () => {
  it.each([
    ['sam@fund.test'],
    ['Sam@Mail.Fund.test'],
    ['ops@fund-ops.test'],
  ])('a workspace address %s is refused for a contact and for an investor (400 naming the field)', async (address) => {
    const c = await api('POST', '/api/contacts', { token: member.token, body: { name: 'x', emails: ['ok@lp.test', address] } });
    expect(c.status).toBe(400);
    expect(c.body.error).toMatchObject({ code: 'VALIDATION', field: 'emails[1]' });
    expect(c.body.error.message).toMatch(/workspace/);
    const i = await api('POST', '/api/investors', { token: member.token, body: { name: 'x', emails: [address] } });
    expect(i.body.error).toMatchObject({ code: 'VALIDATION', field: 'emails[0]' });
    expect(await all(deps.db, 'SELECT * FROM contacts')).toEqual([]);
  });

  it.each([
    ['fund.test', /workspace/],
    ['eu.fund.test', /workspace/],
    ['co.uk', /public suffix/],
    ['com.au', /public suffix/],
    ['com', /not a domain name|public suffix/],
    ['github.io', /public suffix/],
    ['gmail.com', /free-mail/],
    ['yahoo.com', /free-mail/],
  ])('investor domain %s is refused', async (domain, why) => {
    const r = await api('POST', '/api/investors', { token: member.token, body: { name: 'x', domains: ['acme.co.uk', domain] } });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('domains[1]');
    expect(r.body.error.message).toMatch(why);
  });

  it('a registrable domain under a public suffix is fine', async () => {
    const r = await api('POST', '/api/investors', { token: member.token, body: { name: 'Acme', domains: ['acme.co.uk', 'ir.acme.com.au'] } });
    expect(r.status).toBe(201);
  });

  it('updates, JSON imports and CSV imports refuse the same values', async () => {
    const inv = await api('POST', '/api/investors', { token: member.token, body: { name: 'Acme' } });
    expect((await api('PATCH', `/api/investors/${inv.body.id}`, { token: member.token, body: { domains: ['co.uk'] } })).body.error.field).toBe('domains[0]');
    const con = await api('POST', '/api/contacts', { token: member.token, body: { name: 'Jo' } });
    expect((await api('PATCH', `/api/contacts/${con.body.id}`, { token: member.token, body: { emails: ['sam@fund.test'] } })).body.error.field).toBe('emails[0]');
    const json = await api('POST', '/api/investors/import', { token: admin.token, body: [{ name: 'B', contacts: [{ name: 'S', emails: ['sam@fund.test'] }] }] });
    expect(json.status).toBe(400);
    expect(json.body.error.field).toBe('[0].contacts[0].emails[0]');
    const csv = await api('POST', '/api/investors/import', {
      token: admin.token,
      raw: 'investor,domain,contact_name,contact_email\nC,gmail.com,,\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(csv.status).toBe(400);
    expect(csv.body.error.message).toMatch(/free-mail/);
  });

  it('workspace addresses and domains in older rows never match, not even exactly', async () => {
    const now = new Date(deps.clock.now()).toISOString();
    await run(deps.db, "INSERT INTO investors (id, name, created_at, updated_at) VALUES (1, 'Old', ?, ?)", [now, now]);
    await run(deps.db, "INSERT INTO investor_domains (investor_id, domain) VALUES (1, 'fund.test')");
    await run(deps.db, "INSERT INTO contacts (id, investor_id, name, created_at, updated_at) VALUES (1, 1, 'Sam', ?, ?)", [now, now]);
    await run(deps.db, "INSERT INTO contact_emails (contact_id, email) VALUES (1, 'sam@fund.test')");
    await run(deps.db, "INSERT INTO investor_emails (investor_id, email) VALUES (1, 'ops@mail.fund-ops.test')");
    const matcher = new Matcher(await loadDirectory(deps.db, deps.config.gmail.workspaceDomains));
    expect(matcher.match([{ address: 'sam@fund.test' }, { address: 'ops@mail.fund-ops.test' }, { address: 'ann@fund.test' }])).toEqual([]);
  });
});

describe('the audit log', () => {
  it('records every directory and exclusion change with who, when, what, before and after; admins only', async () => {
    const inv = await api('POST', '/api/investors', { token: member.token, body: { name: 'Acme', domains: ['acme.test'] } });
    await api('PATCH', `/api/investors/${inv.body.id}`, { token: member.token, body: { name: 'Acme Capital' } });
    const con = await api('POST', '/api/contacts', { token: member.token, body: { name: 'Jo', emails: ['jo@acme.test'], investor_id: inv.body.id } });
    await api('DELETE', `/api/contacts/${con.body.id}`, { token: member.token });
    const ex = await api('POST', '/api/exclusions', { token: admin.token, body: { domain: 'press.acme.test' } });
    await api('DELETE', `/api/exclusions/${ex.body.id}`, { token: admin.token });
    await api('POST', '/api/investors/import', { token: admin.token, body: [{ name: 'Beta', domains: ['beta.test'] }] });
    await api('DELETE', `/api/investors/${inv.body.id}`, { token: member.token });

    expect((await api('GET', '/api/audit', { token: member.token })).status).toBe(403);
    const r = await api('GET', '/api/audit', { token: admin.token });
    expect(r.status).toBe(200);
    const entries = r.body.entries as { action: string; user: { id: number } | null; target: string | null; at: string; detail: Record<string, any> }[];
    expect(entries.map((e) => e.action).reverse()).toEqual([
      'investor.create',
      'investor.update',
      'contact.create',
      'contact.delete',
      'exclusion.create',
      'exclusion.delete',
      'directory.import',
      'investor.delete',
    ]);
    const update = entries.find((e) => e.action === 'investor.update')!;
    expect(update.user).toEqual({ id: member.id, username: member.username });
    expect(update.target).toBe(`investor:${inv.body.id}`);
    expect(update.detail.before.name).toBe('Acme');
    expect(update.detail.after.name).toBe('Acme Capital');
    expect(entries.find((e) => e.action === 'contact.delete')!.detail.before.emails).toEqual(['jo@acme.test']);
    expect(entries.find((e) => e.action === 'exclusion.create')!.user).toEqual({ id: admin.id, username: admin.username });
    expect(update.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('pages newest first with a cursor', async () => {
    for (const name of ['A', 'B', 'C']) await api('POST', '/api/investors', { token: member.token, body: { name } });
    const first = await api('GET', '/api/audit?limit=2', { token: admin.token });
    expect(first.body.entries.map((e: any) => e.detail.after.name)).toEqual(['C', 'B']);
    const second = await api('GET', `/api/audit?limit=2&cursor=${first.body.next_cursor}`, { token: admin.token });
    expect(second.body.entries.map((e: any) => e.detail.after.name)).toEqual(['A']);
    expect(second.body.next_cursor).toBeNull();
    expect((await api('GET', '/api/audit?cursor=x', { token: admin.token })).body.error.field).toBe('cursor');
  });

  it('a rematch purge is recorded with the emails it withdrew', async () => {
    const inv = await api('POST', '/api/investors', { token: member.token, body: { name: 'Acme', emails: ['lp@acme.test'] } });
    const ids = await withheldMail('lp@acme.test', 2);
    await run(deps.db, `UPDATE emails SET is_matched = 1, body_text = 'secret', snippet = 's' WHERE id IN (${ids.join(',')})`);
    await api('DELETE', `/api/investors/${inv.body.id}`, { token: member.token });
    await drainRematchQueue(deps);
    const entries = (await api('GET', '/api/audit', { token: admin.token })).body.entries;
    const purge = entries.find((e: any) => e.action === 'rematch.purge');
    expect(purge).toMatchObject({ user: null, detail: { emails: 2, email_ids: ids } });
    expect(entries[entries.indexOf(purge) + 1].action).toBe('investor.delete');
  });
});

describe('review of changes that would expose much withheld mail', () => {
  it('above the threshold the change is not applied: 202 with what is pending; an admin approves it and it applies as asked', async () => {
    await withheldMail('lp@acme.test', 5);
    const held = await api('POST', '/api/contacts', { token: member.token, body: { name: 'LP', emails: ['lp@acme.test'] } });
    expect(held.status).toBe(202);
    expect(held.body.pending_review).toMatchObject({ action: 'createContact', newly_exposed: 5, threshold: 3, status: 'pending' });
    // Nothing applied, nothing queued: no body can be fetched for that mail.
    expect(await all(deps.db, 'SELECT * FROM contacts')).toEqual([]);
    expect(await all(deps.db, 'SELECT * FROM email_rematch_queue')).toEqual([]);

    const id = held.body.pending_review.id;
    expect((await api('GET', '/api/reviews', { token: member.token })).status).toBe(403);
    const list = await api('GET', '/api/reviews', { token: admin.token });
    expect(list.body.reviews).toEqual([expect.objectContaining({ id, action: 'createContact', newly_exposed: 5, requested_by: { id: member.id, username: member.username } })]);
    expect((await api('POST', `/api/reviews/${id}/approve`, { token: member.token })).status).toBe(403);

    const ok = await api('POST', `/api/reviews/${id}/approve`, { token: admin.token });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id, status: 'approved', result: { name: 'LP', emails: ['lp@acme.test'] } });
    expect(await all(deps.db, 'SELECT address FROM email_rematch_queue')).toEqual([{ address: 'lp@acme.test' }]);
    expect((await api('POST', `/api/reviews/${id}/approve`, { token: admin.token })).status).toBe(409);

    const audit = (await api('GET', '/api/audit', { token: admin.token })).body.entries;
    expect(audit.map((e: any) => e.action)).toEqual(['contact.create', 'review.requested']);
    expect(audit[0]).toMatchObject({ user: { id: member.id }, detail: { review_id: id, approved_by: { id: admin.id } } });
  });

  it('at or below the threshold, and for changes that only withdraw mail, no review is needed', async () => {
    await withheldMail('lp@acme.test', 3);
    expect((await api('POST', '/api/contacts', { token: member.token, body: { name: 'LP', emails: ['lp@acme.test'] } })).status).toBe(201);
    await withheldMail('x@big.test', 10);
    expect((await api('POST', '/api/exclusions', { token: admin.token, body: { domain: 'big.test' } })).status).toBe(201);
  });

  it("a member's investor domain that would match many withheld emails is held too", async () => {
    await withheldMail('a@big.test', 4);
    const inv = await api('POST', '/api/investors', { token: member.token, body: { name: 'Big', domains: ['big.test'] } });
    expect(inv.status).toBe(202);
    expect(inv.body.pending_review.action).toBe('createInvestor');
    expect(await all(deps.db, 'SELECT * FROM investors')).toEqual([]);
  });

  it("an admin's change is applied at once, whatever it exposes, and audited: the admin is who would approve it", async () => {
    await withheldMail('a@big.test', 4);
    await withheldMail('lp@acme.test', 5);
    const imp = await api('POST', '/api/investors/import', { token: admin.token, body: [{ name: 'Big', domains: ['big.test'] }] });
    expect(imp.status).toBe(200);
    expect(imp.body).toMatchObject({ investors: 1 });
    const contact = await api('POST', '/api/contacts', { token: admin.token, body: { name: 'LP', emails: ['lp@acme.test'] } });
    expect(contact.status).toBe(201);
    expect(await all(deps.db, 'SELECT name FROM investors')).toEqual([{ name: 'Big' }]);
    expect(await all(deps.db, 'SELECT address, domain FROM email_rematch_queue ORDER BY id')).toEqual([
      { address: null, domain: 'big.test' },
      { address: 'lp@acme.test', domain: null },
    ]);
    expect(await all(deps.db, 'SELECT * FROM rematch_reviews')).toEqual([]);
    const actions = (await api('GET', '/api/audit', { token: admin.token })).body.entries.map((e: any) => e.action);
    expect(actions).toEqual(['contact.create', 'directory.import']);
  });
});
