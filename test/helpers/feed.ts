// A captured world for feed tests: an in-memory Gmail with two team mailboxes, a directory,
// a feed token, and the example consumer (tools/feed-mirror.ts) reading the feed over the
// HTTP API into its own SQLite file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getAccount } from '../../lib/capture/accounts.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { all } from '../../lib/db/client.js';
import { cleanText, contentHash } from '../../lib/feed/text.js';
import { catchUp, FeedMirror, type FetchFile, type FetchPage } from '../../tools/feed-mirror.js';
import { apiClient } from './api.js';
import { makeDeps, type TestDeps } from './deps.js';
import { FakeGmail } from './fakeGmail.js';
import { gmailEnv, WORKSPACE } from './mail.js';
import { userWithToken } from './users.js';

export const A = `ann@${WORKSPACE}`;
export const B = `ben@${WORKSPACE}`;

export interface FeedWorld {
  deps: TestDeps;
  gmail: FakeGmail;
  api: ReturnType<typeof apiClient>;
  admin: string;
  member: string;
  reader: string;
  readerId: number;
  fetchPage: FetchPage;
  fetchFile: FetchFile;
  mirrorFile: (name: string) => string;
}

export async function feedWorld(env: Record<string, string> = {}): Promise<FeedWorld> {
  const gmail = new FakeGmail();
  const deps = await makeDeps({ env: gmailEnv(env), gmail: () => gmail.factory() });
  const api = apiClient(deps);
  const admin = (await userWithToken(deps, { role: 'admin' })).token;
  const member = (await userWithToken(deps, { role: 'member' })).token;
  const created = await api('POST', '/api/feed/tokens', { token: admin, body: { name: 'index' } });
  if (created.status !== 201) throw new Error(`feed token: ${created.status} ${JSON.stringify(created.body)}`);
  const reader = created.body.token as string;
  const fetchPage: FetchPage = async (after, limit) => {
    const r = await api('GET', `/api/feed?after=${after}&limit=${limit}`, { token: reader });
    if (r.status === 410) return 'gone';
    if (r.status !== 200) throw new Error(`GET /api/feed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const app = (await import('../../lib/http/app.js')).createApp(deps);
  const fetchFile: FetchFile = async (p) => {
    const res = await app.request(p, { headers: { authorization: `Bearer ${reader}` } });
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'crm-mirror-'));
  return { deps, gmail, api, admin, member, reader, readerId: created.body.id, fetchPage, fetchFile, mirrorFile: (name) => path.join(dir, name) };
}

export async function enrol(w: FeedWorld, email: string): Promise<void> {
  const r = await w.api('POST', '/api/email/accounts/enroll', { token: w.admin, body: { email } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`enrol ${email}: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function sync(w: FeedWorld, email: string): Promise<void> {
  const begun = await beginAccountSync(w.deps, await getAccount(w.deps.db, { email }));
  if (!begun.go) throw new Error(`${email} is already syncing`);
  const s = await begun.go();
  if (s.status !== 'succeeded') throw new Error(`sync of ${email} failed: ${s.error}`);
}

/** What the mirror must hold: matched emails with a copy not deleted in Gmail, and their saved attachments. */
export async function expectedState(w: FeedWorld) {
  const emails = await all<{ id: number; body_text: string | null; body_html: string | null }>(
    w.deps.db,
    `SELECT e.id, e.body_text, e.body_html FROM emails e WHERE e.is_matched = 1
       AND (NOT EXISTS (SELECT 1 FROM email_mailbox_messages m WHERE m.email_id = e.id)
            OR EXISTS (SELECT 1 FROM email_mailbox_messages m WHERE m.email_id = e.id AND m.deleted_at IS NULL))
     ORDER BY e.id`,
  );
  const ids = new Set(emails.map((e) => e.id));
  const attachments = (await all<{ id: number; email_id: number; sha256: string }>(w.deps.db, "SELECT id, email_id, sha256 FROM email_attachments WHERE state = 'saved' ORDER BY id")).filter(
    (a) => ids.has(a.email_id),
  );
  return { emails, attachments };
}

export async function mirrorState(m: FeedMirror) {
  const emails = (await m.db.execute('SELECT id, content_hash, json FROM emails ORDER BY id')).rows.map((r) => ({
    id: Number(r[0]),
    content_hash: String(r[1]),
    json: String(r[2]),
  }));
  const attachments = (await m.db.execute('SELECT id, email_id, sha256, json FROM attachments ORDER BY id')).rows.map((r) => ({
    id: Number(r[0]),
    email_id: Number(r[1]),
    sha256: String(r[2]),
    json: String(r[3]),
  }));
  return { emails, attachments };
}

/** The mirror holds exactly what the tables say it may: same ids, same text. */
export async function assertMirrorMatches(w: FeedWorld, m: FeedMirror, expect: (v: unknown) => { toEqual(x: unknown): void }): Promise<void> {
  const want = await expectedState(w);
  const got = await mirrorState(m);
  expect(got.emails.map((e) => e.id)).toEqual(want.emails.map((e) => e.id));
  expect(got.emails.map((e) => e.content_hash)).toEqual(want.emails.map((e) => contentHash(cleanText(e.body_text, e.body_html))));
  expect(got.attachments.map((a) => [a.id, a.email_id, a.sha256])).toEqual(want.attachments.map((a) => [a.id, a.email_id, a.sha256]));
  // Links and copies as the tables hold them now.
  const links = await all<{ email_id: number; investor_id: number | null; contact_id: number | null; match_kind: string }>(
    w.deps.db,
    'SELECT DISTINCT email_id, investor_id, contact_id, match_kind FROM email_investor_links ORDER BY email_id, ifnull(investor_id, 0), ifnull(contact_id, 0), match_kind',
  );
  const copies = await all<{ email_id: number; email: string; deleted: number }>(
    w.deps.db,
    'SELECT m.email_id, a.email, m.deleted_at IS NOT NULL AS deleted FROM email_mailbox_messages m JOIN email_accounts a ON a.id = m.account_id ORDER BY m.email_id, a.email, m.gmail_message_id',
  );
  for (const e of got.emails) {
    const j = JSON.parse(e.json) as { investors: unknown[]; mailboxes: { email: string; deleted: boolean }[] };
    expect(j.investors).toEqual(links.filter((l) => l.email_id === e.id).map(({ email_id: _, ...l }) => l));
    expect(j.mailboxes.map((b) => [b.email, b.deleted])).toEqual(copies.filter((c) => c.email_id === e.id).map((c) => [c.email, c.deleted === 1]));
  }
}

export async function openMirror(w: FeedWorld, name: string, filesDir?: string): Promise<FeedMirror> {
  return FeedMirror.open(w.mirrorFile(name), { filesDir });
}

export async function consume(w: FeedWorld, m: FeedMirror, limit = 7): Promise<void> {
  await catchUp(m, w.fetchPage, { limit, fetchFile: w.fetchFile });
}
