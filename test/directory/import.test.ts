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

const importJson = (body: unknown) => api('POST', '/api/investors/import', { token: admin, body });
const importCsv = (csv: string) => api('POST', '/api/investors/import', { token: admin, raw: csv, headers: { 'content-type': 'text/csv; charset=utf-8' } });

/** The whole directory, in a form that compares easily (contacts name their investor). */
async function directory() {
  const investors: { id: number; name: string; domains: string[]; emails: string[] }[] = (await api('GET', '/api/investors', { token: admin })).body.investors;
  const names = new Map(investors.map((i) => [i.id, i.name]));
  const contacts: { name: string; emails: string[]; investor_id: number | null }[] = (await api('GET', '/api/contacts', { token: admin })).body.contacts;
  return {
    investors: investors.map(({ name, domains, emails }) => ({ name, domains, emails })),
    contacts: contacts.map(({ name, emails, investor_id }) => ({ name, emails, investor: investor_id === null ? null : names.get(investor_id) })),
  };
}

async function nothingStored() {
  const counts = await all<{ n: number }>(
    deps.db,
    `SELECT (SELECT count(*) FROM investors) + (SELECT count(*) FROM contacts) + (SELECT count(*) FROM investor_domains)
          + (SELECT count(*) FROM contact_emails) + (SELECT count(*) FROM email_rematch_queue) AS n`,
  );
  expect(counts[0]!.n).toBe(0);
}

describe('JSON import', () => {
  it('creates investors and contacts, and a second identical run changes nothing', async () => {
    const body = [
      { name: 'Fund X', domains: ['FundX.com'], emails: ['ir@fundx.com'], contacts: [{ name: 'Ann', emails: ['Ann@FundX.com'] }] },
      { name: 'Acme', domains: [], contacts: [{ name: 'Bob', emails: ['bob@acme.io', 'bob@gmail.com'] }, { name: 'Cy', emails: ['cy@acme.io'] }] },
    ];
    const first = await importJson(body);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ investors: 2, contacts: 3 });
    expect(await directory()).toEqual({
      investors: [
        { name: 'Acme', domains: [], emails: [] },
        { name: 'Fund X', domains: ['fundx.com'], emails: ['ir@fundx.com'] },
      ],
      contacts: [
        { name: 'Ann', emails: ['ann@fundx.com'], investor: 'Fund X' },
        { name: 'Bob', emails: ['bob@acme.io', 'bob@gmail.com'], investor: 'Acme' },
        { name: 'Cy', emails: ['cy@acme.io'], investor: 'Acme' },
      ],
    });
    const queued = await all<{ address: string | null; domain: string | null }>(deps.db, 'SELECT address, domain FROM email_rematch_queue');
    expect(queued).toHaveLength(6);
    expect((await importJson(body)).body).toEqual({ investors: 0, contacts: 0 });
  });

  it('upserts: an investor is found by name in any case, a contact by any of its addresses; nothing is removed', async () => {
    await importJson([{ name: 'Fund X', domains: ['fundx.com'], contacts: [{ name: 'Ann', emails: ['ann@fundx.com'] }] }]);
    const r = await importJson([
      { name: 'FUND X', domains: ['fundx.io'], contacts: [{ name: 'Ann Lee', emails: ['ann@fundx.com', 'ann.lee@fundx.io'] }] },
    ]);
    expect(r.body).toEqual({ investors: 1, contacts: 1 });
    expect(await directory()).toEqual({
      investors: [{ name: 'Fund X', domains: ['fundx.com', 'fundx.io'], emails: [] }],
      contacts: [{ name: 'Ann Lee', emails: ['ann.lee@fundx.io', 'ann@fundx.com'], investor: 'Fund X' }],
    });
  });

  it('a contact without an investor joins the one that imports it; one already at an investor is never moved', async () => {
    const loose = (await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', emails: ['ann@a.com'] } })).body;
    const placed = (await importJson([{ name: 'A', contacts: [{ name: 'Bob', emails: ['bob@a.com'] }] }])).body;
    expect(placed).toEqual({ investors: 1, contacts: 1 });
    await deps.db.execute('DELETE FROM email_rematch_queue');
    const body = [
      { name: 'B', contacts: [{ name: 'Ann', emails: ['ann@a.com'] }] },
      { name: 'C', contacts: [{ name: 'Bob', emails: ['bob@a.com'] }] },
    ];
    expect((await importJson(body)).body).toEqual({ investors: 2, contacts: 1 });
    const { contacts } = await directory();
    expect(contacts).toEqual([
      { name: 'Ann', emails: ['ann@a.com'], investor: 'B' },
      { name: 'Bob', emails: ['bob@a.com'], investor: 'A' },
    ]);
    const queued = await all<{ address: string | null }>(deps.db, 'SELECT address FROM email_rematch_queue WHERE address IS NOT NULL');
    expect(queued.map((q) => q.address)).toEqual(['ann@a.com']);
    expect(loose.investor_id).toBeNull();
    expect((await importJson(body)).body).toEqual({ investors: 0, contacts: 0 });
  });

  it.each([
    ['a bad domain', [{ name: 'A' }, { name: 'B', domains: ['https://b.com'] }], '[1].domains[0]', /^row 2: domains\[0\]: .*URL/],
    ['a bad email', [{ name: 'A', emails: ['ir@a.com', 'not-an-address'] }], '[0].emails[1]', /^row 1: emails\[1\]: /],
    ['a bad contact email', [{ name: 'A', contacts: [{ name: 'Ann', emails: ['ann@@a.com'] }] }], '[0].contacts[0].emails[0]', /^row 1: contacts\[0\]\.emails\[0\]/],
    ['a missing name', [{ name: 'A' }, { name: 'B' }, { domains: ['c.com'] }], '[2].name', /^row 3: name: is required/],
    ['a contact without a name', [{ name: 'A', contacts: [{ emails: ['ann@a.com'] }] }], '[0].contacts[0].name', /^row 1: /],
    ['a row that is not an object', [{ name: 'A' }, 'B'], '[1]', /^row 2: must be an object/],
    ['domains that are not a list', [{ name: 'A', domains: 'a.com' }], '[0].domains', /^row 1: domains: must be a list/],
  ])('%s rejects the whole import, naming row and field, and stores nothing', async (_what, body, field, message) => {
    const r = await importJson(body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
    expect(r.body.error.field).toBe(field);
    expect(r.body.error.message).toMatch(message);
    await nothingStored();
  });

  it('a row whose addresses belong to two different contacts rejects everything, rows before it included', async () => {
    await api('POST', '/api/contacts', { token: admin, body: { name: 'Ann', emails: ['ann@a.com'] } });
    await api('POST', '/api/contacts', { token: admin, body: { name: 'Bob', emails: ['bob@a.com'] } });
    await deps.db.execute('DELETE FROM email_rematch_queue');
    const r = await importJson([{ name: 'First' }, { name: 'A', contacts: [{ name: 'Both', emails: ['ann@a.com', 'bob@a.com'] }] }]);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('[1].contacts[0]');
    expect(r.body.error.message).toMatch(/^row 2: .*different contacts/);
    expect((await api('GET', '/api/investors', { token: admin })).body.investors).toEqual([]);
    expect((await all(deps.db, 'SELECT * FROM email_rematch_queue'))).toEqual([]);
  });

  it('a body that is neither an array nor CSV is refused', async () => {
    const r = await importJson({ name: 'Fund X' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
  });
});

describe('CSV import', () => {
  it('each row adds to the investor it names; columns by header name in any order; empty cells are fine', async () => {
    const csv = [
      'contact_email,Investor,domain,contact_name,investor_email',
      'ann@fundx.com,Fund X,fundx.com,Ann,',
      ',Fund X,mail.fundx.com,,ir@fundx.com',
      'bob@acme.io,Acme,,"Bob, Jr.",',
      ',Acme,,,',
      'cy@acme.io,acme,acme.io,,',
      '',
    ].join('\r\n');
    const r = await importCsv(csv);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ investors: 2, contacts: 3 });
    expect(await directory()).toEqual({
      investors: [
        { name: 'Acme', domains: ['acme.io'], emails: [] },
        { name: 'Fund X', domains: ['fundx.com', 'mail.fundx.com'], emails: ['ir@fundx.com'] },
      ],
      contacts: [
        { name: 'Ann', emails: ['ann@fundx.com'], investor: 'Fund X' },
        { name: 'Bob, Jr.', emails: ['bob@acme.io'], investor: 'Acme' },
        // No name given: the address stands in for it.
        { name: 'cy@acme.io', emails: ['cy@acme.io'], investor: 'Acme' },
      ],
    });
    expect((await importCsv(csv)).body).toEqual({ investors: 0, contacts: 0 });
  });

  it('a contact named without an address is added once to its investor', async () => {
    const csv = 'investor,contact_name\nFund X,Dee\nFund X,Dee\n';
    expect((await importCsv(csv)).body).toEqual({ investors: 1, contacts: 1 });
    expect((await importCsv(csv)).body).toEqual({ investors: 0, contacts: 0 });
  });

  it.each([
    ['a bad domain', 'investor,domain\nA,a.com\nB,b.com/about\n', 'row 2: domain', /^row 2 \(line 3\): domain: .*path/],
    ['a bad email', 'investor,contact_email\nA,ann@a.com\nB,bob at b.com\n', 'row 2: contact_email', /^row 2 \(line 3\): contact_email: /],
    ['a bad investor email', 'investor,investor_email\nA,ir@\n', 'row 1: investor_email', /^row 1 \(line 2\): investor_email: /],
    ['an empty investor cell', 'investor,domain\nA,a.com\n,b.com\n', 'row 2: investor', /^row 2 \(line 3\): investor: is empty/],
    ['an unknown header', 'investor,domain,phone\nA,a.com,555\n', 'header', /^line 1: unknown column "phone"/],
    ['no investor column', 'domain,contact_email\na.com,ann@a.com\n', 'header', /no investor column/],
    ['a repeated column', 'investor,domain,Domain\nA,a.com,b.com\n', 'header', /column domain appears twice/],
    ['more cells than columns', 'investor,domain\nA,a.com,b.com\n', 'row 1', /^row 1 \(line 2\): has 3 cells/],
    ['an unclosed quote', 'investor,domain\n"A,a.com\n', 'csv', /cannot be read/],
    ['an empty file', '', 'csv', /CSV is empty/],
  ])('%s rejects the whole import, naming row, line and field, and stores nothing', async (_what, csv, field, message) => {
    const r = await importCsv(csv);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
    expect(r.body.error.field).toBe(field);
    expect(r.body.error.message).toMatch(message);
    await nothingStored();
  });

  it('lines are counted as in the file: blank lines and quoted line breaks included', async () => {
    const r = await importCsv('investor,domain\n\n"Fund\nX",fundx.com\nB,nope\n');
    expect(r.body.error.message).toMatch(/^row 2 \(line 5\): domain: /);
    expect(r.body.error.field).toBe('row 2: domain');
    await nothingStored();
  });

  it('a byte-order mark before the header is ignored', async () => {
    expect((await importCsv('\uFEFFinvestor,domain\nA,a.com\n')).body).toEqual({ investors: 1, contacts: 0 });
  });
});
