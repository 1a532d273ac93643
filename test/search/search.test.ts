import { afterEach, describe, expect, it } from 'vitest';
import { checkSetup, fixFor } from '../../functions/checkSetup.js';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { rematchQueued } from '../../functions/rematchQueued.js';
import { searchMail } from '../../functions/searchMail.js';
import { all } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { ftsQuery, HIT_END, HIT_START } from '../../lib/search/index.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE } from '../helpers/mail.js';
import { userWithToken } from '../helpers/users.js';

const PARTNER = `partner@${WORKSPACE}`;
let deps: TestDeps;
let box: FakeMailbox;

async function setup() {
  box = new FakeMailbox(PARTNER);
  deps = await makeDeps({ env: gmailEnv(), gmail: () => fakeGmail([box]) });
  await addAccount(deps, PARTNER);
  const acme = (await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] })).id;
  await invoke(deps, createContact, { name: 'Bob Stone', emails: ['bob@acme.example'], investor_id: acme });
  box.add({ from: 'Bob Stone <bob@acme.example>', to: [PARTNER], subject: 'Quarterly letter', messageId: 'q@acme.example', date: '2025-03-01T10:00:00Z', text: 'The pangolin allocation is final.', files: [{ filename: 'termsheet-v2.pdf', content: Buffer.from('pdf') }] });
  box.add({ from: 'Lena <lena@legal.acme.example>', to: [PARTNER], subject: 'privileged pangolin', messageId: 'l@acme.example', date: '2025-03-02T10:00:00Z', html: '<p>Hello <b>zebrafish</b></p>' });
  // Internal-only: never matched, never indexed.
  box.add({ from: `colleague@${WORKSPACE}`, to: [PARTNER], subject: 'pangolin lunch', messageId: 'i@fund.example', date: '2025-03-03T10:00:00Z', text: 'internal pangolin chat' });
  await syncMailbox(deps, PARTNER);
  await invoke(deps, rematchQueued, {});
}

afterEach(async () => {
  await deps?.cleanup();
});

const subjects = async (q: string) => (await invoke(deps, searchMail, { q })).results.map((r) => r.subject).sort();

describe('search over matched mail', () => {
  it('finds subject, body, participant, attachment-name and HTML-body words; never unmatched mail', async () => {
    await setup();
    expect(await subjects('pangolin')).toEqual(['Quarterly letter', 'privileged pangolin']);
    expect(await subjects('zebrafish')).toEqual(['privileged pangolin']);
    expect(await subjects('Stone')).toEqual(['Quarterly letter']);
    expect(await subjects('termsheet')).toEqual(['Quarterly letter']);
    expect(await subjects('lunch')).toEqual([]);
    const hit = (await invoke(deps, searchMail, { q: 'allocation' })).results[0]!;
    expect(hit.snippet).toContain(`${HIT_START}allocation${HIT_END}`);
    expect(hit.thread_id).toEqual(expect.any(Number));
    expect(hit.from).toEqual({ address: 'bob@acme.example', name: 'Bob Stone' });
  });

  it('ranks a subject hit above a body hit', async () => {
    await setup();
    const r = (await invoke(deps, searchMail, { q: 'pangolin' })).results.map((x) => x.subject);
    expect(r[0]).toBe('privileged pangolin');
  });

  it('mail that stops matching leaves the index in the same change', async () => {
    await setup();
    await userWithToken(deps, { role: 'admin' });
    await invoke(deps, (await import('../../functions/createExclusion.js')).createExclusion, { address: 'lena@legal.acme.example' });
    await invoke(deps, rematchQueued, {});
    expect(await subjects('zebrafish')).toEqual([]);
    const rows = await all<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM email_search s JOIN emails e ON e.id = s.rowid WHERE e.is_matched = 0');
    expect(rows[0]!.n).toBe(0);
    // Nor do its words linger in the index's own pages (secure-delete).
    const pages = await all<{ n: number }>(deps.db, "SELECT count(*) AS n FROM email_search_data WHERE instr(CAST(block AS TEXT), 'zebrafish') > 0");
    expect(pages[0]!.n).toBe(0);
  });

  it('user input never becomes FTS syntax; empty and oversized queries are refused naming q', async () => {
    expect(ftsQuery('NEAR(a b) OR "x" col:y*')).toBe('"NEAR" "a" "b" "OR" "x" "col" "y"*');
    expect(() => ftsQuery('!!!')).toThrow(/q: give at least one word/);
    await setup();
    expect((await invoke(deps, searchMail, { q: '"pangolin*(' })).results.length).toBeGreaterThan(0);
    await expect(invoke(deps, searchMail, { q: 'x'.repeat(201) })).rejects.toMatchObject({ code: 'VALIDATION', field: 'q' });
  });

  it('GET /api/search answers any signed-in user, and nobody else', async () => {
    await setup();
    const api = apiClient(deps);
    const member = await userWithToken(deps, { role: 'member' });
    const ok = await api('GET', '/api/search?q=zebrafish', { token: member.token });
    expect(ok.status).toBe(200);
    expect(ok.body.results.map((r: { subject: string }) => r.subject)).toEqual(['privileged pangolin']);
    expect((await api('GET', '/api/search?q=zebrafish')).status).toBe(401);
    const bad = await api('GET', '/api/search?q=', { token: member.token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('q');
  });
});

describe('checkSetup', () => {
  it('reports the integration, key file, domain and quota model', async () => {
    deps = await makeDeps({ env: gmailEnv() });
    const r = await invoke(deps, checkSetup, {});
    expect(r.items.map((i) => [i.name, i.ok])).toEqual([
      ['integration', true],
      ['key file', true],
      ['workspace domain', true],
      ['quota model', true],
    ]);
    expect(r.probe).toBeNull();
  });

  it('with the integration off says so and probes nothing', async () => {
    deps = await makeDeps({ gmail: () => () => { throw new Error('must not be called'); } });
    const r = await invoke(deps, checkSetup, { email: PARTNER });
    expect(r.ok).toBe(false);
    expect(r.items[0]).toMatchObject({ name: 'integration', ok: false });
    expect(r.probe).toMatchObject({ ok: false, error: expect.stringContaining('disabled') });
  });

  it('turns refusals into the fix to apply', () => {
    expect(fixFor('unauthorized_client: domain-wide delegation is not authorised for this client id', 'dwd')).toContain('Admin console → Security');
    expect(fixFor('invalid_grant: Invalid email or User ID', 'dwd')).toContain('must exist in the workspace');
    expect(fixFor('invalid_grant: Token has been expired or revoked', 'oauth')).toContain('consent');
  });
});
