// An example feed consumer: mirrors crm-gmail's change feed into a local SQLite file (and,
// with --files, the attachment files), the way a search or embedding index on the box would.
//
//   npx tsx tools/feed-mirror.ts --url http://127.0.0.1:8080 --token "$FEED_TOKEN" --out mirror.db [--files ./mirror-files] [--follow]
//
// What makes it correct: each page is applied in one transaction together with the cursor,
// upserts replace by id and tombstones delete by id (so a page applied twice changes
// nothing), and a 410 answer means "rebuild": the mirror is emptied and read again from 0.
// It depends on nothing of the service but its HTTP API.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient, type Client } from '@libsql/client';

export interface FeedEvent {
  seq: number;
  type: 'email.upsert' | 'email.tombstone' | 'attachment.upsert' | 'attachment.tombstone';
  id: number;
  [field: string]: unknown;
}

export interface FeedPage {
  events: FeedEvent[];
  next_after: number;
  head: number;
}

/** What a page request answered: a page, or 410 (the cursor is older than the retained history). */
export type FetchPage = (after: number, limit: number) => Promise<FeedPage | 'gone'>;
/** Bytes of an attachment, given the event's download path. */
export type FetchFile = (downloadPath: string) => Promise<Buffer>;

export class FeedMirror {
  private constructor(
    readonly db: Client,
    private readonly filesDir?: string,
  ) {}

  static async open(file: string, opts: { filesDir?: string } = {}): Promise<FeedMirror> {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const db = createClient({ url: pathToFileURL(path.resolve(file)).href });
    await db.batch(
      [
        'CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), after INTEGER NOT NULL)',
        'INSERT OR IGNORE INTO cursor (id, after) VALUES (1, 0)',
        'CREATE TABLE IF NOT EXISTS emails (id INTEGER PRIMARY KEY, content_hash TEXT, text TEXT, json TEXT NOT NULL)',
        'CREATE TABLE IF NOT EXISTS attachments (id INTEGER PRIMARY KEY, email_id INTEGER NOT NULL, sha256 TEXT NOT NULL, path TEXT NOT NULL, json TEXT NOT NULL)',
      ],
      'write',
    );
    if (opts.filesDir) mkdirSync(opts.filesDir, { recursive: true, mode: 0o700 });
    return new FeedMirror(db, opts.filesDir);
  }

  async cursor(): Promise<number> {
    const rs = await this.db.execute('SELECT after FROM cursor WHERE id = 1');
    return Number(rs.rows[0]?.[0] ?? 0);
  }

  /** Apply one page and move the cursor, all or nothing. */
  async apply(page: FeedPage, fetchFile?: FetchFile): Promise<void> {
    // Files first, outside the transaction: a file fetched for an event that a crash then
    // loses is fetched again, never referenced half-written.
    if (this.filesDir && fetchFile) {
      for (const e of page.events) if (e.type === 'attachment.upsert') await this.saveFile(e, fetchFile);
    }
    const tx = await this.db.transaction('write');
    try {
      for (const e of page.events) {
        switch (e.type) {
          case 'email.upsert':
            await tx.execute({
              sql: 'INSERT INTO emails (id, content_hash, text, json) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET content_hash = excluded.content_hash, text = excluded.text, json = excluded.json',
              args: [e.id, String(e.content_hash ?? ''), String(e.text ?? ''), JSON.stringify(e)],
            });
            break;
          case 'email.tombstone':
            await tx.execute({ sql: 'DELETE FROM emails WHERE id = ?', args: [e.id] });
            await tx.execute({ sql: 'DELETE FROM attachments WHERE email_id = ?', args: [e.id] });
            break;
          case 'attachment.upsert':
            await tx.execute({
              sql: 'INSERT INTO attachments (id, email_id, sha256, path, json) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET email_id = excluded.email_id, sha256 = excluded.sha256, path = excluded.path, json = excluded.json',
              args: [e.id, Number(e.email_id), String(e.sha256), String(e.path), JSON.stringify(e)],
            });
            break;
          case 'attachment.tombstone':
            await tx.execute({ sql: 'DELETE FROM attachments WHERE id = ?', args: [e.id] });
            break;
        }
      }
      await tx.execute({ sql: 'UPDATE cursor SET after = ? WHERE id = 1', args: [page.next_after] });
      await tx.commit();
    } finally {
      tx.close();
    }
  }

  /** Forget everything (the feed said 410): the next read starts from the snapshot. */
  async reset(): Promise<void> {
    await this.db.batch(['DELETE FROM emails', 'DELETE FROM attachments', 'UPDATE cursor SET after = 0 WHERE id = 1'], 'write');
  }

  private async saveFile(e: FeedEvent, fetchFile: FetchFile): Promise<void> {
    const sha = String(e.sha256);
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`attachment ${e.id}: bad sha256`);
    const dest = path.join(this.filesDir!, sha);
    if (existsSync(dest)) return;
    const bytes = await fetchFile(String(e.path));
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== sha) throw new Error(`attachment ${e.id}: downloaded bytes hash to ${got}, the feed said ${sha}`);
    const tmp = `${dest}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o600 });
    renameSync(tmp, dest);
  }

  /** Files no mirrored attachment names any more are removed. */
  async pruneFiles(): Promise<void> {
    if (!this.filesDir) return;
    const rs = await this.db.execute('SELECT DISTINCT sha256 FROM attachments');
    const keep = new Set(rs.rows.map((r) => String(r[0])));
    const { readdirSync } = await import('node:fs');
    for (const name of readdirSync(this.filesDir)) if (!keep.has(name)) rmSync(path.join(this.filesDir, name), { force: true });
  }

  close(): void {
    this.db.close();
  }
}

/** Read the feed up to its head (at the time of the last page) into the mirror. Returns pages applied. */
export async function catchUp(mirror: FeedMirror, fetchPage: FetchPage, opts: { limit?: number; fetchFile?: FetchFile } = {}): Promise<number> {
  const limit = opts.limit ?? 500;
  let pages = 0;
  for (;;) {
    const after = await mirror.cursor();
    const page = await fetchPage(after, limit);
    if (page === 'gone') {
      if (after === 0) throw new Error('the feed answered 410 to after=0');
      await mirror.reset();
      continue;
    }
    await mirror.apply(page, opts.fetchFile);
    pages++;
    // A page shorter than asked reached the head; an empty page means nothing new.
    if (page.events.length < limit && page.next_after >= 0) break;
  }
  await mirror.pruneFiles();
  return pages;
}

/** HTTP access to a running service with a bearer token (a feed token, role `reader`). */
export function httpFeed(baseUrl: string, token: string): { fetchPage: FetchPage; fetchFile: FetchFile } {
  const auth = { authorization: `Bearer ${token}` };
  return {
    fetchPage: async (after, limit) => {
      const res = await fetch(new URL(`/api/feed?after=${after}&limit=${limit}`, baseUrl), { headers: auth });
      if (res.status === 410) return 'gone';
      if (!res.ok) throw new Error(`GET /api/feed answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as FeedPage;
    },
    fetchFile: async (p) => {
      const res = await fetch(new URL(p, baseUrl), { headers: auth });
      if (!res.ok) throw new Error(`GET ${p} answered ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const url = arg('url') ?? 'http://127.0.0.1:8080';
  const token = arg('token') ?? process.env.CRM_FEED_TOKEN;
  const out = arg('out') ?? 'feed-mirror.db';
  if (!token) throw new Error('a feed token is needed: --token or CRM_FEED_TOKEN (create one with POST /api/feed/tokens)');
  const mirror = await FeedMirror.open(out, { filesDir: arg('files') });
  const feed = httpFeed(url, token);
  const follow = argv.includes('--follow');
  try {
    for (;;) {
      await catchUp(mirror, feed.fetchPage, { fetchFile: feed.fetchFile });
      const counts = await mirror.db.execute('SELECT (SELECT count(*) FROM emails), (SELECT count(*) FROM attachments), (SELECT after FROM cursor)');
      const row = counts.rows[0]!;
      const [emails, attachments, after] = [row[0], row[1], row[2]];
      process.stdout.write(`${out}: ${emails} emails, ${attachments} attachments, at seq ${after}\n`);
      if (!follow) break;
      await new Promise((r) => setTimeout(r, 10_000));
    }
  } finally {
    mirror.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`feed-mirror: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
