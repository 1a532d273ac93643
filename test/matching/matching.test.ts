import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../lib/db/client.js';
import { loadDirectory, Matcher, type DirectorySnapshot, type MatchLink } from '../../lib/matching/matcher.js';
import { parseGmailMessage } from '../../lib/mail/mime.js';
import { buildMessage } from '../../tools/gmail-emulator/message.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';

const ACME = 1;
const GMAIL_INVESTOR = 2;
const LOOKALIKE = 3;
const BETA = 4;

const DIRECTORY: DirectorySnapshot = {
  investors: [
    { id: ACME, domains: ['acme.com'], emails: ['deals@acmefund.net'] },
    // A free-mail domain and the firm's own domain entered on investors by mistake.
    { id: GMAIL_INVESTOR, domains: ['gmail.com'], emails: [] },
    { id: LOOKALIKE, domains: ['ten31.xyz'], emails: [] },
    { id: BETA, domains: ['Beta.VC'], emails: [] },
  ],
  contacts: [
    { id: 10, investor_id: ACME, emails: ['Jane.Doe@gmail.com'] },
    { id: 11, investor_id: null, emails: ['solo+crm@fastmail.com'] },
    { id: 12, investor_id: BETA, emails: ['bob@beta.vc'] },
    { id: 13, investor_id: ACME, emails: ['ceo@spam.acme.com'] },
    { id: 14, investor_id: ACME, emails: ['karl.smith@partner.org'] },
  ],
  exclusions: [
    { address: 'press@acme.com', domain: null },
    { address: null, domain: 'spam.acme.com' },
  ],
  internalDomains: ['ten31.xyz'],
};

const contact = (contact_id: number, investor_id: number | null, address: string): MatchLink => ({
  investor_id,
  contact_id,
  match_kind: 'contact_email',
  confidence: 1,
  address,
});
const investorEmail = (investor_id: number, address: string): MatchLink => ({
  investor_id,
  contact_id: null,
  match_kind: 'investor_email',
  confidence: 0.9,
  address,
});
const byDomain = (investor_id: number, address: string): MatchLink => ({ investor_id, contact_id: null, match_kind: 'domain', confidence: 0.5, address });

describe('matching table', () => {
  const matcher = new Matcher(DIRECTORY);
  const cases: [string, string, MatchLink[]][] = [
    ['exact contact address', 'jane.doe@gmail.com', [contact(10, ACME, 'jane.doe@gmail.com')]],
    ['case is folded', 'JANE.DOE@GMAIL.COM', [contact(10, ACME, 'jane.doe@gmail.com')]],
    ['gmail.com ignores dots', 'janedoe@gmail.com', [contact(10, ACME, 'janedoe@gmail.com')]],
    ['gmail.com ignores a +tag', 'jane.doe+deals@gmail.com', [contact(10, ACME, 'jane.doe+deals@gmail.com')]],
    ['googlemail.com is gmail.com, dots and tag folded', 'j.a.n.e.doe+news@googlemail.com', [contact(10, ACME, 'j.a.n.e.doe+news@googlemail.com')]],
    ['a contact without an investor matches with investor_id null', 'solo@fastmail.com', [contact(11, null, 'solo@fastmail.com')]],
    ['a +tag is ignored on other domains too', 'solo+other@fastmail.com', [contact(11, null, 'solo+other@fastmail.com')]],
    ['dots count outside gmail.com', 'karlsmith@partner.org', []],
    ['+tag folded outside gmail.com', 'karl.smith+q3@partner.org', [contact(14, ACME, 'karl.smith+q3@partner.org')]],
    ['investor email', 'Deals+Q3@acmefund.net', [investorEmail(ACME, 'deals+q3@acmefund.net')]],
    ['investor domain', 'anyone@acme.com', [byDomain(ACME, 'anyone@acme.com')]],
    ['subdomains match by domain', 'ops@mail.eu.acme.com', [byDomain(ACME, 'ops@mail.eu.acme.com')]],
    ['a lookalike domain is not a subdomain', 'x@notacme.com', []],
    ['free-mail domains never match by domain', 'stranger@gmail.com', []],
    ['googlemail.com is free mail too', 'stranger@googlemail.com', []],
    ['internal domain never matches by domain', 'partner@ten31.xyz', []],
    ['internal subdomain never matches by domain', 'ops@mail.ten31.xyz', []],
    ['an excluded address never matches, not even by its domain', 'press@acme.com', []],
    ['an excluded address is folded like any other', 'Press+wire@ACME.com', []],
    ['an excluded domain covers contact addresses at it', 'ceo@spam.acme.com', []],
    ['an excluded domain covers its subdomains', 'x@deep.spam.acme.com', []],
    ['an exact contact match suppresses the domain link for that address', 'bob@beta.vc', [contact(12, BETA, 'bob@beta.vc')]],
    ['domain stored in mixed case still matches', 'alice@beta.vc', [byDomain(BETA, 'alice@beta.vc')]],
    ['text that is not an address matches nothing', 'undisclosed-recipients', []],
  ];

  it.each(cases)('%s: %s', (_rule, address, want) => {
    expect(matcher.match([{ address }])).toEqual(want);
  });

  it('one link per (investor, contact, kind, address) across From/To/Cc/Bcc/Reply-To', () => {
    const links = matcher.match([
      { address: 'jane.doe@gmail.com' },
      { address: 'Jane.Doe@gmail.com' },
      { address: 'anyone@acme.com' },
      { address: 'anyone@acme.com' },
      { address: 'partner@ten31.xyz' },
    ]);
    expect(links).toEqual([contact(10, ACME, 'jane.doe@gmail.com'), byDomain(ACME, 'anyone@acme.com')]);
  });

  it('an address matching a contact and an investor email gives both exact links', () => {
    const m = new Matcher({
      ...DIRECTORY,
      investors: [{ id: 7, domains: ['fund7.com'], emails: ['ann@fund7.com'] }],
      contacts: [{ id: 70, investor_id: 8, emails: ['ann@fund7.com'] }],
    });
    expect(m.match([{ address: 'ann@fund7.com' }])).toEqual([contact(70, 8, 'ann@fund7.com'), investorEmail(7, 'ann@fund7.com')]);
  });

  it('results are independent copies (callers may mutate them)', () => {
    const first = matcher.match([{ address: 'anyone@acme.com' }]);
    first[0]!.confidence = 0;
    expect(matcher.match([{ address: 'anyone@acme.com' }])[0]!.confidence).toBe(0.5);
  });
});

describe('loadDirectory', () => {
  let deps: TestDeps | undefined;
  afterEach(async () => {
    await deps?.cleanup();
    deps = undefined;
  });

  it('reads investors, domains, emails, contacts and exclusions from the database', async () => {
    deps = await makeDeps();
    const db = deps.db;
    const now = '2024-03-15T12:00:00.000Z';
    await run(db, 'INSERT INTO investors (id, name, created_at, updated_at) VALUES (1, ?, ?, ?), (2, ?, ?, ?)', ['Acme', now, now, 'Beta', now, now]);
    await run(db, "INSERT INTO investor_domains (investor_id, domain) VALUES (1, 'acme.com'), (2, 'beta.vc')");
    await run(db, "INSERT INTO investor_emails (investor_id, email) VALUES (1, 'deals@acmefund.net')");
    await run(db, 'INSERT INTO contacts (id, investor_id, name, created_at, updated_at) VALUES (10, 1, ?, ?, ?), (11, NULL, ?, ?, ?), (12, 2, ?, ?, ?)', [
      'Jane',
      now,
      now,
      'Solo',
      now,
      now,
      'No email yet',
      now,
      now,
    ]);
    await run(db, "INSERT INTO contact_emails (contact_id, email) VALUES (10, 'jane.doe@gmail.com'), (10, 'jane@acme.com'), (11, 'solo@fastmail.com')");
    await run(db, "INSERT INTO exclusions (address, domain, created_at) VALUES ('press@acme.com', NULL, ?), (NULL, 'spam.acme.com', ?)", [now, now]);

    const dir = await loadDirectory(db, ['ten31.xyz']);
    expect(dir.internalDomains).toEqual(['ten31.xyz']);
    expect(dir.contacts).toEqual([
      { id: 10, investor_id: 1, emails: expect.arrayContaining(['jane.doe@gmail.com', 'jane@acme.com']) },
      { id: 11, investor_id: null, emails: ['solo@fastmail.com'] },
      { id: 12, investor_id: 2, emails: [] },
    ]);
    expect(dir.investors).toEqual([
      { id: 1, domains: ['acme.com'], emails: ['deals@acmefund.net'] },
      { id: 2, domains: ['beta.vc'], emails: [] },
    ]);
    expect(dir.exclusions).toEqual(expect.arrayContaining([{ address: 'press@acme.com', domain: null }, { address: null, domain: 'spam.acme.com' }]));

    const m = new Matcher(dir);
    expect(m.match([{ address: 'janedoe+x@googlemail.com' }, { address: 'press@acme.com' }, { address: 'x@ops.beta.vc' }, { address: 'me@ten31.xyz' }])).toEqual([
      contact(10, 1, 'janedoe+x@googlemail.com'),
      byDomain(2, 'x@ops.beta.vc'),
    ]);
  });
});

describe('matching a real message', () => {
  it('participants of a fixture with groups and comments match per address (rubymail example10)', () => {
    const local = path.resolve('test/fixtures/eml');
    const dir = local;
    const raw = readFileSync(path.join(dir, 'rubymail__example10.eml'));
    const parsed = parseGmailMessage(
      buildMessage(raw, { id: 'a', threadId: 'a', labelIds: ['INBOX'], internalDate: 1_700_000_000_000, historyId: '1' }).full,
    );
    const participants = [parsed.from, ...parsed.to, ...parsed.cc, ...parsed.bcc, ...parsed.replyTo].filter((a) => a !== null);
    expect(participants.map((p) => p.address)).toEqual(expect.arrayContaining(['pete@silly.test', 'joe@example.org', 'jdoe@one.test']));
    const m = new Matcher({
      investors: [{ id: 5, domains: ['one.test'], emails: [] }],
      contacts: [{ id: 50, investor_id: null, emails: ['Joe+ignored@Example.org'] }],
      exclusions: [{ address: 'pete@silly.test', domain: null }],
      internalDomains: ['silly.test'],
    });
    expect(m.match(participants)).toEqual([contact(50, null, 'joe@example.org'), byDomain(5, 'jdoe@one.test')]);
  });
});
