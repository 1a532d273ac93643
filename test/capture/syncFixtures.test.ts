// Real-world mail written by others (shared fixtures) goes through the whole engine:
// every message is stored, subjects and senders kept, nothing throws.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getAccount } from '../../lib/capture/accounts.js';
import { all } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { enroll } from '../../functions/enroll.js';
import { MAX_HEADER_CHARS } from '../../lib/mail/mime.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { FakeGmail } from '../helpers/fakeGmail.js';

const DIR = path.resolve(import.meta.dirname, '../fixtures/eml');
const files = readdirSync(DIR).filter((f) => f.endsWith('.eml')).sort();

let deps: TestDeps;
let rows: { subject: string | null; from_address: string | null; dedup_key: string; sent_at: string; gmail_message_id: string }[];
const gmail = new FakeGmail();
const idToFile = new Map<string, string>();

beforeAll(async () => {
  deps = await makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test', CRM_GMAIL_BACKFILL_PAGE_SIZE: '50' }, gmail: () => gmail.factory() });
  await invoke(deps, enroll, { email: 'ann@fund.test', auth_method: 'dwd' });
  for (const f of files) idToFile.set(gmail.deliver('ann@fund.test', readFileSync(path.join(DIR, f))), f);
  const account = await getAccount(deps.db, { email: 'ann@fund.test' });
  const begun = await beginAccountSync(deps, account, {});
  const result = await begun.go!();
  expect(result.status, result.error ?? '').toBe('succeeded');
  rows = await all(deps.db, 'SELECT e.subject, e.from_address, e.dedup_key, e.sent_at, m.gmail_message_id FROM emails e JOIN email_mailbox_messages m ON m.email_id = e.id');
}, 120_000);
afterAll(async () => deps.cleanup());

it(`all ${files.length} fixture messages are captured, one row per distinct message`, async () => {
  const copies = await all(deps.db, 'SELECT gmail_message_id FROM email_mailbox_messages');
  expect(copies).toHaveLength(files.length);
  const distinct = new Set(rows.map((r) => r.dedup_key));
  expect((await all(deps.db, 'SELECT id FROM emails')).length).toBe(distinct.size);
});

it('every fixture keeps its subject and sender as an independent parser reads them', async () => {
  const byGmailId = new Map(rows.map((r) => [r.gmail_message_id, r]));
  let checkedFrom = 0;
  const mismatches: string[] = [];
  // Some fixture files are copies of one message (same Message-ID): one row, rightly.
  const filesPerKey = new Map<string, number>();
  for (const r of rows) filesPerKey.set(r.dedup_key, (filesPerKey.get(r.dedup_key) ?? 0) + 1);
  for (const [id, file] of idToFile) {
    const row = byGmailId.get(id)!;
    if (filesPerKey.get(row.dedup_key)! > 1) continue;
    const oracle = await PostalMime.parse(readFileSync(path.join(DIR, file)));
    // Subjects are stored to their first MAX_HEADER_CHARS characters.
    const expectedSubject = (oracle.subject ?? '').slice(0, MAX_HEADER_CHARS).replace(/\s+/g, ' ').trim();
    const got = (row.subject ?? '').replace(/\s+/g, ' ').trim();
    // Raw 8-bit headers: the oracle gives up (U+FFFD) where our decoder recovers the charset.
    if (got !== expectedSubject && !expectedSubject.includes('\uFFFD')) mismatches.push(`${file}: subject ${JSON.stringify(got)} ≠ ${JSON.stringify(expectedSubject)}`);
    const addr = oracle.from && 'address' in oracle.from ? oracle.from.address : undefined;
    if (addr && /^[^@\s]+@[^@\s]+$/.test(addr)) {
      if (row.from_address !== addr.toLowerCase()) mismatches.push(`${file}: from ${row.from_address} ≠ ${addr.toLowerCase()}`);
      checkedFrom++;
    }
  }
  expect(mismatches).toEqual([]);
  expect(checkedFrom).toBeGreaterThan(files.length / 2);
});

it('every stored sent_at is an ISO instant', () => {
  for (const r of rows) expect(r.sent_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});
