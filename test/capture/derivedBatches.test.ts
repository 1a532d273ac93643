// The derived stores write a page's rows with multi-row statements in chunks (FEED_ROWS events
// per statement for the feed, 200 rows for the search index). These tests report more emails
// at once than one chunk holds and check that every row lands, in order, exactly once; and
// that texts a writer prepared before its transaction are used only for the bodies they were
// made from.
import { afterEach, describe, expect, it } from 'vitest';
import { emailsChanged, PreparedTexts } from '../../lib/capture/changes.js';
import { all, run, writeTx } from '../../lib/db/client.js';
import { FEED_ROWS } from '../../lib/feed/outbox.js';
import { cleanText } from '../../lib/feed/text.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';

const NOW = '2026-01-01T00:00:00.000Z';
let deps: TestDeps | undefined;
afterEach(async () => {
  await deps?.cleanup();
  deps = undefined;
});

/** `n` matched emails, every third with one saved attachment; returns their ids. */
async function seed(d: TestDeps, n: number, body: (i: number) => string): Promise<number[]> {
  const ids: number[] = [];
  await writeTx(d.db, async (tx) => {
    for (let i = 0; i < n; i++) {
      const rs = await run(
        tx,
        `INSERT INTO emails (dedup_key, subject, from_address, sent_at, is_matched, body_text, snippet, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, '', ?, ?)`,
        [`k${i}`, `subject ${i}`, `p${i}@lp.example`, NOW, body(i), NOW, NOW],
      );
      const id = Number(rs.lastInsertRowid);
      ids.push(id);
      if (i % 3 === 0) {
        await run(
          tx,
          `INSERT INTO email_attachments (email_id, part_id, filename, mime_type, size, is_inline, state, sha256, storage_path, attempts, created_at, updated_at)
           VALUES (?, '2', ?, 'application/pdf', 10, 0, 'saved', ?, 'x', 1, ?, ?)`,
          [id, `deck${i}.pdf`, i.toString(16).padStart(64, '0'), NOW, NOW],
        );
      }
    }
  });
  return ids;
}

interface FeedRow {
  seq: number;
  type: string;
  email_id: number;
  attachment_id: number | null;
  payload: string;
}

async function feedLog(d: TestDeps): Promise<FeedRow[]> {
  return all<FeedRow>(d.db, 'SELECT seq, type, email_id, attachment_id, payload FROM email_feed ORDER BY seq');
}

/** Every item's latest event is the one its item row names, and the log holds nothing else. */
async function expectCompacted(d: TestDeps): Promise<void> {
  const log = await feedLog(d);
  const items = await all<{ kind: string; item_id: number; email_id: number; seq: number }>(d.db, 'SELECT kind, item_id, email_id, seq FROM email_feed_items ORDER BY seq');
  expect(items.map((i) => i.seq)).toEqual(log.map((e) => e.seq));
  for (const [k, it] of items.entries()) {
    const ev = log[k]!;
    expect([ev.email_id, ev.attachment_id === null ? 'email' : 'attachment', ev.attachment_id ?? ev.email_id]).toEqual([it.email_id, it.kind, it.item_id]);
  }
}

describe('derived stores over more emails than one statement holds', () => {
  const n = FEED_ROWS * 2 + 50;

  it('the feed writes one event per item, each email before its files, and supersedes them all on a change', async () => {
    deps = await makeDeps();
    const ids = await seed(deps, n, (i) => `Hello number ${i}.`);
    await writeTx(deps.db, (tx) => emailsChanged(tx, ids, { now: NOW }));
    const first = await feedLog(deps);
    const files = Math.ceil(n / 3);
    expect(first.filter((e) => e.type === 'email.upsert').map((e) => e.email_id)).toEqual(ids);
    expect(first.filter((e) => e.type === 'attachment.upsert')).toHaveLength(files);
    // Seqs follow the order events were made: an email's upsert comes before its file's.
    const emailSeq = new Map(first.filter((e) => e.type === 'email.upsert').map((e) => [e.email_id, e.seq]));
    for (const e of first.filter((x) => x.type === 'attachment.upsert')) expect(e.seq).toBeGreaterThan(emailSeq.get(e.email_id)!);
    for (const e of first.filter((x) => x.type === 'email.upsert')) expect(JSON.parse(e.payload).text).toBe(`Hello number ${ids.indexOf(e.email_id)}.`);
    await expectCompacted(deps);

    await run(deps.db, "UPDATE emails SET body_text = 'Changed ' || id");
    await writeTx(deps.db, (tx) => emailsChanged(tx, ids, { now: NOW }));
    const second = await feedLog(deps);
    // Each email's old event went; unchanged attachments were not sent again.
    expect(second).toHaveLength(n + files);
    expect(second.filter((e) => e.type === 'email.upsert').every((e) => JSON.parse(e.payload).text === `Changed ${e.email_id}`)).toBe(true);
    expect(Math.min(...second.filter((e) => e.type === 'email.upsert').map((e) => e.seq))).toBeGreaterThan(Math.max(...first.map((e) => e.seq)));
    await expectCompacted(deps);
  });

  it('the search index holds every email once, whatever the chunk it was written in', async () => {
    deps = await makeDeps();
    const ids = await seed(deps, n, (i) => `word${i} common`);
    await writeTx(deps.db, (tx) => emailsChanged(tx, ids, { now: NOW }));
    await writeTx(deps.db, (tx) => emailsChanged(tx, ids, { now: NOW }));
    const rows = await all<{ rowid: number }>(deps.db, 'SELECT rowid FROM email_search ORDER BY rowid');
    expect(rows.map((r) => r.rowid)).toEqual(ids);
    const hit = await all<{ rowid: number }>(deps.db, "SELECT rowid FROM email_search WHERE email_search MATCH 'word401'");
    expect(hit.map((r) => r.rowid)).toEqual([ids[401]]);
    const files = await all<{ rowid: number }>(deps.db, "SELECT rowid FROM email_search WHERE email_search MATCH 'attachments:deck300'");
    expect(files.map((r) => r.rowid)).toEqual([ids[300]]);
  });
});

describe('texts prepared before the transaction', () => {
  it('are used for the bodies they were made from, and ignored for any other body', async () => {
    deps = await makeDeps();
    const [a, b] = await seed(deps, 2, (i) => `Body ${i}.`);
    const texts = new PreparedTexts();
    // Stand-ins that cleanText would never produce, so the test sees which text was used.
    texts.set(a!, { bodyText: 'Body 0.', bodyHtml: null, clean: 'prepared for a', search: 'preparedsearch' });
    texts.set(b!, { bodyText: 'an older body', bodyHtml: null, clean: 'stale for b', search: 'stalesearch' });
    await writeTx(deps.db, (tx) => emailsChanged(tx, [a!, b!], { now: NOW, texts }));
    const text = new Map((await feedLog(deps)).filter((e) => e.type === 'email.upsert').map((e) => [e.email_id, JSON.parse(e.payload).text]));
    expect(text.get(a!)).toBe('prepared for a');
    expect(text.get(b!)).toBe(cleanText('Body 1.', null));
    const search = async (w: string) => (await all<{ rowid: number }>(deps!.db, 'SELECT rowid FROM email_search WHERE email_search MATCH ?', [w])).map((r) => r.rowid);
    expect(await search('preparedsearch')).toEqual([a]);
    expect(await search('stalesearch')).toEqual([]);
  });

  it('derive the same texts the stores derive themselves', () => {
    const html = '<p>Dear team,</p><p>Numbers attached.</p><style>p{}</style>';
    const d = PreparedTexts.derive(null, html);
    expect(d.clean).toBe(cleanText(null, html));
    expect(d.search).toContain('Numbers attached.');
  });
});
