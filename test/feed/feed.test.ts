import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../../lib/http/app.js';
import { FeedMirror } from '../../tools/feed-mirror.js';
import { existsSync, readdirSync } from 'node:fs';
import { createContact } from '../../functions/createContact.js';
import { deleteAccount } from '../../functions/deleteAccount.js';
import { deleteContact } from '../../functions/deleteContact.js';
import { readFeed } from '../../functions/readFeed.js';
import { rematchQueued } from '../../functions/rematchQueued.js';
import { compactFeed } from '../../functions/compactFeed.js';
import { createExclusion } from '../../functions/createExclusion.js';
import { emailsChanged } from '../../lib/capture/changes.js';
import { all, one, run } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import type { FakeClock } from '../helpers/clock.js';
import { openDb } from '../../lib/db/client.js';
import { readFeedPage } from '../../lib/feed/read.js';
import { catchUp } from '../../tools/feed-mirror.js';
import { addInvestor } from '../helpers/directory.js';
import { run as runProcess } from '../helpers/subprocess.js';
import { eml } from '../helpers/fakeGmail.js';
import { A, B, assertMirrorMatches, consume, enrol, feedWorld, mirrorState, openMirror, sync, type FeedWorld } from '../helpers/feed.js';

let w: FeedWorld;
afterEach(async () => w?.deps.cleanup());

/** The whole stored log, tombstones included (after=0 would answer the snapshot: upserts only). */
const events = async () =>
  (await all<{ seq: number; type: string; at: string; payload: string }>(w.deps.db, 'SELECT seq, type, at, payload FROM email_feed ORDER BY seq')).map((r) => ({
    seq: r.seq,
    type: r.type,
    at: r.at,
    ...(JSON.parse(r.payload) as { id: number; reason?: string; text?: string; [k: string]: unknown }),
  }));
const snapshot = async () => (await invoke(w.deps, readFeed, { after: 0, limit: 1000 })).events;

async function world(env: Record<string, string> = {}) {
  w = await feedWorld(env);
  await addInvestor(w.deps, 'Acme', { domains: ['acme.example'], contacts: [{ name: 'Bob', emails: ['bob@acme.example'] }] });
  await enrol(w, A);
  await enrol(w, B);
  return w;
}

const REPLY = [
  'Thanks, the revised terms work for us.',
  '',
  'Can we sign on Tuesday?',
  '',
  '--',
  'Bob Stone',
  'Acme Partners',
  '',
  'On Mon, Jan 5, 2026 at 10:00 AM Ann <ann@fund.example> wrote:',
  '> Here are the revised terms.',
  '> QUOTED-OLD-TEXT',
].join('\n');

describe('change feed: what it carries', () => {
  it('matched mail gets an upsert with clean text, chunks, links and mailboxes; metadata-only mail gets nothing', async () => {
    await world();
    w.gmail.deliver(A, eml({ from: 'Bob <bob@acme.example>', to: [A], subject: 'Terms', messageId: '<terms@acme.example>', body: REPLY, attachment: { filename: 'terms.pdf', content: 'PDFBYTES' } }));
    w.gmail.deliver(A, eml({ from: 'eve@other.example', to: [A], subject: 'Lunch', messageId: '<lunch@other.example>', body: 'UNMATCHED-SECRET lunch?' }));
    w.gmail.deliver(A, eml({ from: B, to: [A], subject: 'internal', messageId: '<int@fund.example>', body: 'INTERNAL-SECRET' }));
    await sync(w, A);

    const feed = await events();
    expect(feed.map((e) => e.type).sort()).toEqual(['attachment.upsert', 'email.upsert']);
    expect(JSON.stringify(feed)).not.toMatch(/UNMATCHED-SECRET|INTERNAL-SECRET|Lunch|internal/);
    const up = feed.find((e) => e.type === 'email.upsert')! as Record<string, any>;
    const row = (await one<{ id: number; dedup_key: string; thread_id: number }>(w.deps.db, "SELECT id, dedup_key, thread_id FROM emails WHERE rfc822_message_id = 'terms@acme.example'"))!;
    expect(up).toMatchObject({ id: row.id, dedup_key: row.dedup_key, thread_id: row.thread_id, subject: 'Terms', from: { address: 'bob@acme.example', name: 'Bob' } });
    expect(up.to).toEqual([{ address: A, name: null }]);
    expect(up.investors).toEqual([expect.objectContaining({ match_kind: 'contact_email' })]);
    expect(up.investors[0].investor_id).toBeGreaterThan(0);
    expect(up.mailboxes).toEqual([{ email: A, labels: ['INBOX'], deleted: false }]);
    expect(up.text).toBe('Thanks, the revised terms work for us.\n\nCan we sign on Tuesday?');
    expect(up.text).not.toContain('QUOTED-OLD-TEXT');
    expect(up.chunks).toEqual([{ chunk_id: expect.stringMatching(/^[0-9a-f]{32}$/), text: up.text }]);
    expect(up.content_hash).toMatch(/^[0-9a-f]{64}$/);
    const att = feed.find((e) => e.type === 'attachment.upsert')! as Record<string, any>;
    expect(att).toMatchObject({ email_id: row.id, filename: 'terms.pdf', size: 8, path: `/api/email/attachments/${att.id}` });
    expect(up.attachments).toEqual([{ id: att.id, filename: 'terms.pdf', mime_type: 'application/pdf', size: 8, sha256: att.sha256, path: att.path }]);
    // The announced path serves the file to the feed token.
    expect((await w.fetchFile(att.path)).toString()).toBe('PDFBYTES');
  });

  it('a second copy in another mailbox and a label change re-announce the email; an unchanged resync does not', async () => {
    await world();
    const raw = eml({ from: 'bob@acme.example', to: [A, B], subject: 'Both', messageId: '<both@acme.example>' });
    const idA = w.gmail.deliver(A, raw);
    w.gmail.deliver(B, raw);
    await sync(w, A);
    const first = await events();
    expect(first).toHaveLength(1);
    await sync(w, A);
    expect(await events()).toEqual(first);

    await sync(w, B);
    const second = await events();
    expect(second).toHaveLength(1);
    expect(second[0]!.seq).toBeGreaterThan(first[0]!.seq);
    expect((second[0] as any).mailboxes.map((m: any) => m.email)).toEqual([A, B]);

    w.gmail.addLabels(A, idA, ['STARRED']);
    await sync(w, A);
    const third = await events();
    expect((third[0] as any).mailboxes[0].labels).toEqual(['INBOX', 'STARRED']);
    expect((third[0] as any).content_hash).toBe((first[0] as any).content_hash);
  });

  it('a label change reuses the published clean text; a changed body gets new text', async () => {
    await world();
    const gid = w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: 't', messageId: '<t@x>', body: 'first words' }));
    await sync(w, A);
    const [first] = await events();
    // Mark the published text, so reuse is visible.
    await run(w.deps.db, "UPDATE email_feed SET payload = json_set(payload, '$.text', 'MARKED') WHERE seq = ?", [first!.seq]);
    w.gmail.addLabels(A, gid, ['STARRED']);
    await sync(w, A);
    const [second] = await events();
    expect(second!.seq).toBeGreaterThan(first!.seq);
    expect(second!.text).toBe('MARKED');
    await run(w.deps.db, "UPDATE emails SET body_text = 'other words' WHERE id = ?", [first!.id]);
    const tx = await w.deps.db.transaction('write');
    await emailsChanged(tx, [first!.id], { now: '2026-01-15T12:00:00.000Z' });
    await tx.commit();
    tx.close();
    expect((await events())[0]!.text).toBe('other words');
  });

  it('tombstones say why: unmatched after a directory change, excluded, deleted everywhere, purged', async () => {
    await world();
    const contact = await invoke(w.deps, createContact, { name: 'Carol', emails: ['carol@elsewhere.example'] });
    w.gmail.deliver(A, eml({ from: 'carol@elsewhere.example', to: [A], subject: 'c', messageId: '<c@x>' }));
    w.gmail.deliver(A, eml({ from: 'dan@acme.example', to: [A], subject: 'd', messageId: '<d@x>', attachment: { filename: 'd.txt', content: 'DDD', type: 'text/plain' } }));
    const delId = w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: 'e', messageId: '<e@x>' }));
    w.gmail.deliver(B, eml({ from: 'bob@acme.example', to: [B], subject: 'f', messageId: '<f@x>' }));
    await sync(w, A);
    await sync(w, B);
    const id = async (mid: string) => (await one<{ id: number }>(w.deps.db, 'SELECT id FROM emails WHERE rfc822_message_id = ?', [mid]))!.id;
    const [c, d, e, f] = [await id('c@x'), await id('d@x'), await id('e@x'), await id('f@x')];
    const dAtt = (await one<{ id: number }>(w.deps.db, 'SELECT id FROM email_attachments WHERE email_id = ?', [d]))!.id;
    expect((await events()).filter((x) => x.type === 'email.upsert').map((x) => x.id).sort()).toEqual([c, d, e, f].sort());

    await invoke(w.deps, deleteContact, { id: contact.id });
    const ex = await w.api('POST', '/api/exclusions', { token: w.admin, body: { address: 'dan@acme.example' } });
    expect(ex.status).toBe(201);
    await invoke(w.deps, rematchQueued, {});
    w.gmail.remove(A, delId);
    await sync(w, A);
    await invoke(w.deps, deleteAccount, { id: (await one<{ id: number }>(w.deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [B]))!.id, purge: true });

    const tombs = Object.fromEntries((await events()).filter((x) => x.type.endsWith('tombstone')).map((x) => [`${x.type}:${x.id}`, x.reason]));
    expect(tombs).toEqual({
      [`email.tombstone:${c}`]: 'unmatched',
      [`email.tombstone:${d}`]: 'excluded',
      [`attachment.tombstone:${dAtt}`]: 'excluded',
      [`email.tombstone:${e}`]: 'deleted_everywhere',
      [`email.tombstone:${f}`]: 'purged',
    });
    // Only tombstones remain: every upsert of those items was superseded in the same transaction.
    expect(await events()).toHaveLength(5);
    expect(await snapshot()).toEqual([]);
    expect(JSON.stringify(await all(w.deps.db, 'SELECT payload FROM email_feed'))).not.toContain('Hello about');
  });

  it('a rematch that matches withheld mail announces it with its body and files', async () => {
    await world();
    w.gmail.deliver(A, eml({ from: 'zed@zeta.example', to: [A], subject: 'z', messageId: '<z@x>', body: 'ZETA-BODY', attachment: { filename: 'z.txt', content: 'ZZZ', type: 'text/plain' } }));
    await sync(w, A);
    expect(await events()).toEqual([]);
    await addInvestor(w.deps, 'Zeta', { domains: ['zeta.example'] });
    await run(w.deps.db, "INSERT INTO email_rematch_queue (domain, requested_at) VALUES ('zeta.example', '2026-01-15T12:00:00.000Z')");
    await invoke(w.deps, rematchQueued, {});
    const feed = await events();
    expect(feed.map((e) => e.type).sort()).toEqual(['attachment.upsert', 'email.upsert']);
    expect((feed.find((e) => e.type === 'email.upsert') as any).text).toBe('ZETA-BODY');
  });
});

describe('change feed: reading', () => {
  it('after=0 is a compacted snapshot: one upsert per current item, no tombstones, paged by next_after', async () => {
    await world();
    for (let i = 0; i < 5; i++) w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: `s${i}`, messageId: `<s${i}@x>` }));
    w.gmail.deliver(A, eml({ from: 'dan@acme.example', to: [A], subject: 'gone', messageId: '<gone@x>' }));
    await sync(w, A);
    await w.api('POST', '/api/exclusions', { token: w.admin, body: { address: 'dan@acme.example' } });
    await invoke(w.deps, rematchQueued, {});
    const ids = await all<{ gmail_message_id: string }>(w.deps.db, 'SELECT gmail_message_id FROM email_mailbox_messages ORDER BY gmail_message_id LIMIT 2');
    for (const r of ids) w.gmail.addLabels(A, r.gmail_message_id, ['IMPORTANT']);
    await sync(w, A);

    const p1 = await w.api('GET', '/api/feed?after=0&limit=2', { token: w.reader });
    expect(p1.status).toBe(200);
    expect(p1.body.events).toHaveLength(2);
    expect(p1.body.events.every((e: any) => e.type === 'email.upsert')).toBe(true);
    expect(p1.body.next_after).toBe(p1.body.events[1].seq);
    const all5: any[] = [...p1.body.events];
    let after = p1.body.next_after;
    for (;;) {
      const p = await w.api('GET', `/api/feed?after=${after}&limit=2`, { token: w.reader });
      all5.push(...p.body.events);
      after = p.body.next_after;
      if (p.body.events.length < 2) break;
    }
    const upserts = all5.filter((e) => e.type === 'email.upsert');
    expect(new Set(upserts.map((e) => e.id)).size).toBe(5);
    expect(upserts).toHaveLength(5);
    expect(after).toBe(p1.body.head);
    const seqs = all5.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('npm run fn -- readFeed answers what GET /api/feed answers', async () => {
    await world();
    w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: 'cli', messageId: '<cli@x>' }));
    await sync(w, A);
    const viaApi = await w.api('GET', '/api/feed?after=0', { token: w.admin });
    const r = await runProcess(['npx', 'tsx', 'lib/run/cli.ts', 'readFeed', '{"after":0}'], { CRM_DATA_DIR: w.deps.dataDir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(viaApi.body);
    expect(viaApi.body.events).toHaveLength(1);
  });

  it('limit and after are validated; limit is at most 1000', async () => {
    await world();
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'after=1.5', 'after=x']) {
      const r = await w.api('GET', `/api/feed?${q}`, { token: w.admin });
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION');
      expect(r.body.error.field).toBe(q.split('=')[0]);
    }
    expect((await w.api('GET', '/api/feed?limit=1000', { token: w.admin })).body).toEqual({ events: [], next_after: 0, head: 0 });
    // A cursor from another database (a restored backup) is refused, not served silently.
    const beyond = await w.api('GET', '/api/feed?after=5', { token: w.admin });
    expect(beyond.status).toBe(410);
    expect(beyond.body.error).toMatchObject({ code: 'GONE', field: 'after' });
  });

  it('tombstones are kept the retention period; a reader behind the retired history gets 410 and rebuilds from the snapshot', async () => {
    await world({ CRM_FEED_TOMBSTONE_DAYS: '10' });
    const clock = w.deps.clock as FakeClock;
    for (let i = 0; i < 6; i++) w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: `old${i}`, messageId: `<old${i}@x>` }));
    w.gmail.deliver(A, eml({ from: 'dan@acme.example', to: [A], subject: 'soon excluded', messageId: '<dan@x>' }));
    await sync(w, A);
    const stale = await openMirror(w, 'stale.db');
    await consume(w, stale);
    const staleAt = await stale.cursor();

    await w.api('POST', '/api/exclusions', { token: w.admin, body: { address: 'dan@acme.example' } });
    await invoke(w.deps, rematchQueued, {});
    const tomb = (await events()).find((e) => e.type === 'email.tombstone')!;
    w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: 'new', messageId: '<new@x>' }));
    await sync(w, A);

    await clock.advance(9 * 86_400_000);
    expect((await invoke(w.deps, compactFeed, {})).retired).toBe(0);
    await clock.advance(2 * 86_400_000);
    expect(await invoke(w.deps, compactFeed, {})).toEqual({ retired: 1, horizon: tomb.seq });
    expect(await invoke(w.deps, compactFeed, {})).toEqual({ retired: 0, horizon: tomb.seq });

    const gone = await w.api('GET', `/api/feed?after=${staleAt}`, { token: w.reader });
    expect(gone.status).toBe(410);
    expect(gone.body.error.message).toMatch(/after=0/);
    expect((await w.api('GET', `/api/feed?after=${tomb.seq}`, { token: w.reader })).status).toBe(200);

    // The stale mirror still holds the excluded email; catching up rebuilds it without it.
    expect((await mirrorState(stale)).emails).toHaveLength(7);
    await consume(w, stale);
    await assertMirrorMatches(w, stale, expect);
    expect((await mirrorState(stale)).emails).toHaveLength(7);

    // A fresh reader paging a snapshot whose old items lie below the horizon is never refused.
    const fresh = await openMirror(w, 'fresh.db');
    const cursors: number[] = [];
    await catchUp(fresh, async (after, limit) => {
      cursors.push(after);
      return w.fetchPage(after, limit);
    }, { limit: 2 });
    expect(cursors.some((c) => c < 0)).toBe(true);
    await assertMirrorMatches(w, fresh, expect);
    stale.close();
    fresh.close();
  });

  it('a reader paused mid-snapshot is refused (410) once a removal newer than its snapshot is retired, and told of it before', async () => {
    await world({ CRM_FEED_TOMBSTONE_DAYS: '10' });
    const clock = w.deps.clock as FakeClock;
    for (let i = 0; i < 6; i++) w.gmail.deliver(A, eml({ from: `lp${i}@acme.example`, to: [A], subject: `m${i}`, messageId: `<m${i}@x>` }));
    w.gmail.deliver(A, eml({ from: 'dan@acme.example', to: [A], subject: 'early removal', messageId: '<dan@x>' }));
    await sync(w, A);
    // A removal retired before the reader starts puts the horizon above the oldest items.
    await w.api('POST', '/api/exclusions', { token: w.admin, body: { address: 'dan@acme.example' } });
    await clock.advance(11 * 86_400_000);
    expect((await invoke(w.deps, compactFeed, {})).retired).toBe(1);

    const first = await invoke(w.deps, readFeed, { after: 0, limit: 2 });
    expect(first.next_after).toBeLessThan(0);
    const held = first.events.map((e) => e.id);
    // Something the paused reader holds is removed after its snapshot began.
    const sender = (await one<{ from_address: string }>(w.deps.db, 'SELECT from_address FROM emails WHERE id = ?', [held[0]]))!.from_address;
    // (Called directly: the admin's session has expired in the days the clock moved.)
    await invoke(w.deps, createExclusion, { address: sender });

    // Within the retention the snapshot goes on and brings that tombstone.
    const later: { type: string; id: number }[] = [];
    for (let after = first.next_after; ; ) {
      const page = await invoke(w.deps, readFeed, { after, limit: 2 });
      later.push(...page.events);
      if (page.next_after === after || page.next_after >= page.head) break;
      after = page.next_after;
    }
    expect(later).toContainEqual(expect.objectContaining({ type: 'email.tombstone', id: held[0] }));

    // Past it, the tombstone is retired: the paused cursor can no longer be honoured.
    await clock.advance(11 * 86_400_000);
    expect((await invoke(w.deps, compactFeed, {})).retired).toBe(1);
    const gone = await w.api('GET', `/api/feed?after=${first.next_after}`, { token: w.reader });
    expect(gone.status).toBe(410);
    expect(gone.body.error).toMatchObject({ code: 'GONE', field: 'after' });
    // A plain -position (an older version's cursor) still continues, without that check.
    const plain = await w.api('GET', `/api/feed?after=-1`, { token: w.reader });
    expect(plain.status).toBe(200);
    // A snapshot begun now is served whole.
    const fresh = await invoke(w.deps, readFeed, { after: 0, limit: 2 });
    expect(fresh.next_after).toBeLessThanOrEqual(-(2 ** 52));
    expect((await w.api('GET', `/api/feed?after=${fresh.next_after}`, { token: w.reader })).status).toBe(200);
  });

  it('a change and its event commit together: a rolled-back write leaves no event, a committed one survives a restart', async () => {
    await world();
    w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: 'x', messageId: '<x@x>' }));
    await sync(w, A);
    const before = await events();
    const id = before[0]!.id;
    const tx = await w.deps.db.transaction('write');
    await run(tx, 'UPDATE emails SET is_matched = 0, body_text = NULL, body_html = NULL, snippet = NULL WHERE id = ?', [id]);
    await emailsChanged(tx, [id], { now: '2026-01-15T12:00:00.000Z' });
    expect((await readFeedPage(tx, 0, 10)).events).toEqual([]);
    await tx.rollback();
    tx.close();
    expect(await events()).toEqual(before);

    // The process "dies" after committing a change, before anyone read the feed: another
    // process opening the same file finds the event.
    await w.api('POST', '/api/exclusions', { token: w.admin, body: { address: 'bob@acme.example' } });
    await invoke(w.deps, rematchQueued, {});
    const other = await openDb({ url: w.deps.config.dbUrl });
    const page = await readFeedPage(other, before[0]!.seq, 10);
    other.close();
    expect(page.events).toEqual([expect.objectContaining({ type: 'email.tombstone', id, reason: 'excluded' })]);
  });

  it('a consumer that stops between fetching a page and applying it loses nothing and duplicates nothing', async () => {
    await world();
    for (let i = 0; i < 4; i++) w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: `k${i}`, messageId: `<k${i}@x>`, attachment: { filename: `k${i}.txt`, content: `K${i}`, type: 'text/plain' } }));
    await sync(w, A);
    const filesDir = w.mirrorFile('files');
    const m = await openMirror(w, 'crash.db', filesDir);
    let calls = 0;
    await expect(
      catchUp(m, async (after, limit) => {
        if (++calls === 2) throw new Error('killed');
        return w.fetchPage(after, limit);
      }, { limit: 3, fetchFile: w.fetchFile }),
    ).rejects.toThrow('killed');
    const mid = await m.cursor();
    expect(mid).toBeGreaterThan(0);
    // Applying the same page twice is harmless (at-least-once delivery).
    const again = await w.fetchPage(0, 3);
    if (again !== 'gone') await m.apply(again, w.fetchFile);
    await catchUp(m, w.fetchPage, { limit: 3, fetchFile: w.fetchFile });
    await assertMirrorMatches(w, m, expect);
    expect(readdirSync(filesDir).sort()).toEqual((await mirrorState(m)).attachments.map((a) => a.sha256).sort());
    expect(existsSync(filesDir)).toBe(true);
    m.close();
  });
});

describe('tools/feed-mirror.ts', () => {
  it('run as documented, it mirrors a running service over HTTP into SQLite, files included', async () => {
    await world();
    w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: 'm1', messageId: '<m1@x>', attachment: { filename: 'm.txt', content: 'MIRRORED', type: 'text/plain' } }));
    w.gmail.deliver(A, eml({ from: 'eve@other.example', to: [A], subject: 'm2', messageId: '<m2@x>' }));
    await sync(w, A);
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: createApp(w.deps).fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const out = w.mirrorFile('cli.db');
      const files = w.mirrorFile('cli-files');
      const r = await runProcess(['npx', 'tsx', 'tools/feed-mirror.ts', '--url', url, '--token', w.reader, '--out', out, '--files', files], {});
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/1 emails, 1 attachments, at seq \d+/);
      const m = await FeedMirror.open(out, { filesDir: files });
      await assertMirrorMatches(w, m, expect);
      m.close();
      expect(readdirSync(files)).toHaveLength(1);
      const bad = await runProcess(['npx', 'tsx', 'tools/feed-mirror.ts', '--url', url, '--token', 'crmfeed_wrong', '--out', out], {});
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/401/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('feed tokens', () => {
  it('shown once, stored hashed, listed without the value, revocable', async () => {
    await world();
    const rows = await all<{ token_hash: string }>(w.deps.db, 'SELECT token_hash FROM feed_tokens');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).not.toContain(w.reader);
    expect(JSON.stringify(await all(w.deps.db, 'SELECT * FROM feed_tokens'))).not.toContain(w.reader);
    const list = await w.api('GET', '/api/feed/tokens', { token: w.admin });
    expect(list.status).toBe(200);
    expect(list.body.tokens).toEqual([expect.objectContaining({ id: w.readerId, name: 'index' })]);
    expect(JSON.stringify(list.body)).not.toContain(w.reader);
    expect(JSON.stringify(w.deps.logs.lines ?? [])).not.toContain(w.reader);

    expect((await w.api('GET', '/api/feed', { token: w.reader })).status).toBe(200);
    expect((await w.api('POST', '/api/feed/tokens', { token: w.admin, body: { name: '' } })).body.error.field).toBe('name');
    expect((await w.api('DELETE', `/api/feed/tokens/${w.readerId}`, { token: w.admin })).status).toBe(204);
    expect((await w.api('GET', '/api/feed', { token: w.reader })).status).toBe(401);
    expect((await w.api('DELETE', `/api/feed/tokens/${w.readerId}`, { token: w.admin })).status).toBe(404);
  });

  it('a reader token may read the feed and attachments of matched mail, and gets 403 everywhere else', async () => {
    await world();
    w.gmail.deliver(A, eml({ from: 'bob@acme.example', to: [A], subject: 'file', messageId: '<file@x>', attachment: { filename: 'f.txt', content: 'FFF', type: 'text/plain' } }));
    await sync(w, A);
    const att = (await one<{ id: number; email_id: number }>(w.deps.db, 'SELECT id, email_id FROM email_attachments'))!;
    const thread = (await one<{ thread_id: number }>(w.deps.db, 'SELECT thread_id FROM emails WHERE id = ?', [att.email_id]))!.thread_id;
    expect((await w.api('GET', '/api/feed', { token: w.reader })).status).toBe(200);
    const file = await w.fetchFile(`/api/email/attachments/${att.id}`);
    expect(file.toString()).toBe('FFF');

    const elsewhere: [string, string, unknown?][] = [
      ['GET', '/api/email/status'],
      ['GET', '/api/email/accounts'],
      ['POST', '/api/email/accounts/enroll', { email: `x@fund.example` }],
      ['DELETE', '/api/email/accounts/1'],
      ['POST', '/api/email/sync/run-now', {}],
      ['GET', '/api/email/sync/runs'],
      ['GET', `/api/email/threads?investor_id=1`],
      ['GET', `/api/email/threads/${thread}`],
      ['POST', '/api/email/rematch', {}],
      ['GET', '/api/email/oauth/start?email=ann@fund.example'],
      ['GET', '/api/investors'],
      ['POST', '/api/investors', { name: 'Evil' }],
      ['GET', '/api/contacts'],
      ['GET', '/api/exclusions'],
      ['POST', '/api/exclusions', { address: 'a@b.example' }],
      ['GET', '/api/users'],
      ['POST', '/api/users', { username: 'x', password: 'pppppppppppp', role: 'admin' }],
      ['POST', '/api/auth/logout'],
      ['POST', '/api/auth/password', { current_password: 'x', new_password: 'yyyyyyyyyyyy' }],
      ['GET', '/api/feed/tokens'],
      ['POST', '/api/feed/tokens', { name: 'more' }],
      ['DELETE', `/api/feed/tokens/${w.readerId}`],
    ];
    for (const [method, path, body] of elsewhere) {
      const r = await w.api(method, path, { token: w.reader, body });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
    }
    // Still valid afterwards: nothing above revoked or changed it.
    expect((await w.api('GET', '/api/feed', { token: w.reader })).status).toBe(200);

    // Other roles keep their access; a member may not read the feed.
    expect((await w.api('GET', '/api/feed', { token: w.admin })).status).toBe(200);
    expect((await w.api('GET', '/api/feed', { token: w.member })).status).toBe(403);
    expect((await w.api('GET', `/api/email/threads/${thread}`, { token: w.member })).status).toBe(200);

    // The feed is not behind the Gmail gate; attachments are, like every /api/email route.
    w.deps.config.gmail.enabled = false;
    expect((await w.api('GET', '/api/feed', { token: w.reader })).status).toBe(200);
    expect((await w.api('GET', `/api/email/attachments/${att.id}`, { token: w.reader })).status).toBe(503);
    w.deps.config.gmail.enabled = true;

    // Attachments of mail that stopped matching are not served to the reader either.
    await w.api('POST', '/api/exclusions', { token: w.admin, body: { address: 'bob@acme.example' } });
    await invoke(w.deps, rematchQueued, {});
    expect((await w.api('GET', `/api/email/attachments/${att.id}`, { token: w.reader })).status).toBe(404);
  });
});
