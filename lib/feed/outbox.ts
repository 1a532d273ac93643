// The feed's writer. Registered with lib/capture/changes.ts, it runs inside every writer's
// transaction with the ids whose visible state changed, reads their current rows, and
// appends an event wherever what the feed last said differs from what the tables now hold:
// an upsert when a matched email (or a saved attachment of one) is new or changed, a
// tombstone when a published item left. The event commits with the change or not at all.
//
// Each item keeps only its latest event: appending one deletes the previous, so the stored
// log never carries a body that the tables dropped, and `after=0` reads as a snapshot.
import { createHash } from 'node:crypto';
import type { Executor } from '../db/client.js';
import { all, run } from '../db/client.js';
import { breathe } from '../db/slice.js';
import type { ChangeContext, RemovalReason } from '../capture/changes.js';
import { domainAndParents, foldAddress, foldDomain, normalizeAddress } from '../mail/address.js';
import { chunkText, cleanText, contentHash, type Chunk } from './text.js';

export type FeedEventType = 'email.upsert' | 'email.tombstone' | 'attachment.upsert' | 'attachment.tombstone';

interface FeedAddress {
  address: string;
  name: string | null;
}

interface FeedAttachment {
  id: number;
  email_id: number;
  filename: string | null;
  mime_type: string | null;
  size: number | null;
  sha256: string;
  /** Where the file is downloaded (a feed token may read it). */
  path: string;
}

interface EmailUpsert {
  id: number;
  dedup_key: string;
  thread_id: number | null;
  subject: string | null;
  from: FeedAddress | null;
  to: FeedAddress[];
  cc: FeedAddress[];
  sent_at: string;
  investors: { investor_id: number | null; contact_id: number | null; match_kind: string }[];
  /** The enrolled mailboxes holding a copy: who on the team saw it. */
  mailboxes: { email: string; labels: string[]; deleted: boolean }[];
  text: string;
  chunks: Chunk[];
  content_hash: string;
  attachments: Omit<FeedAttachment, 'email_id'>[];
}

const IN_CHUNK = 400;
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(',');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const hashOf = (payload: unknown): string => sha256(JSON.stringify(payload));

interface EmailRow {
  id: number;
  dedup_key: string;
  thread_id: number | null;
  subject: string | null;
  from_address: string | null;
  from_name: string | null;
  sent_at: string;
  is_matched: number;
  body_text: string | null;
  body_html: string | null;
}

interface ItemRow {
  kind: 'email' | 'attachment';
  item_id: number;
  email_id: number;
  state: 'live' | 'gone';
  payload_hash: string | null;
  body_hash: string | null;
  seq: number;
}

type Desired = { live: true; payload: EmailUpsert } | { live: false; reason: RemovalReason };

/** emailUpdaters entry: bring the feed in line with these emails (and their attachments). */
export async function feedEmailsChanged(tx: Executor, ids: number[], ctx: ChangeContext): Promise<void> {
  let exclusions: Exclusions | null = null;
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const chunk = ids.slice(i, i + IN_CHUNK);
    exclusions = await reconcile(tx, chunk, ctx, exclusions);
  }
}

/** attachmentUpdaters entry: an attachment's outcome is part of its email's published state. */
export async function feedAttachmentsChanged(tx: Executor, ids: number[], ctx: ChangeContext): Promise<void> {
  const emailIds = new Set<number>();
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const c = ids.slice(i, i + IN_CHUNK);
    const rows = await all<{ email_id: number }>(
      tx,
      `SELECT email_id FROM email_attachments WHERE id IN (${marks(c.length)})
       UNION SELECT email_id FROM email_feed_items WHERE kind = 'attachment' AND item_id IN (${marks(c.length)})`,
      [...c, ...c],
    );
    for (const r of rows) emailIds.add(r.email_id);
  }
  await feedEmailsChanged(tx, [...emailIds], ctx);
}

async function reconcile(tx: Executor, ids: number[], ctx: ChangeContext, exclusionsIn: Exclusions | null): Promise<Exclusions | null> {
  let exclusions = exclusionsIn;
  const m = marks(ids.length);
  const emails = await all<EmailRow>(
    tx,
    `SELECT id, dedup_key, thread_id, subject, from_address, from_name, sent_at, is_matched,
            CASE WHEN is_matched = 1 THEN body_text END AS body_text, CASE WHEN is_matched = 1 THEN body_html END AS body_html
       FROM emails WHERE id IN (${m})`,
    ids,
  );
  const items = await all<ItemRow>(
    tx,
    `SELECT kind, item_id, email_id, state, payload_hash, body_hash, seq FROM email_feed_items
      WHERE (kind = 'email' AND item_id IN (${m})) OR (kind = 'attachment' AND email_id IN (${m}))`,
    [...ids, ...ids],
  );
  const byId = new Map(emails.map((e) => [e.id, e]));
  const emailItem = new Map<number, ItemRow>();
  const attachmentItems = new Map<number, ItemRow[]>();
  for (const it of items) {
    if (it.kind === 'email') emailItem.set(it.item_id, it);
    else push(attachmentItems, it.email_id, it);
  }
  // Nothing to say about mail the feed never published and that is not matched now.
  const relevant = ids.filter((id) => byId.get(id)?.is_matched === 1 || emailItem.has(id) || attachmentItems.has(id));
  if (!relevant.length) return exclusions;
  const rm = marks(relevant.length);

  // One statement at a time: a transaction runs its statements in order anyway.
  const participants = await all<{ email_id: number; address: string; name: string | null; role: string }>(
      tx,
      `SELECT email_id, address, name, role FROM email_participants WHERE email_id IN (${rm}) ORDER BY email_id, role, address`,
      relevant,
    );
  const links = await all<{ email_id: number; investor_id: number | null; contact_id: number | null; match_kind: string }>(
      tx,
      `SELECT DISTINCT email_id, investor_id, contact_id, match_kind FROM email_investor_links WHERE email_id IN (${rm})
        ORDER BY email_id, ifnull(investor_id, 0), ifnull(contact_id, 0), match_kind`,
      relevant,
    );
  const copies = await all<{ email_id: number; email: string; label_ids: string; deleted_at: string | null }>(
      tx,
      `SELECT m.email_id, a.email, m.label_ids, m.deleted_at FROM email_mailbox_messages m JOIN email_accounts a ON a.id = m.account_id
        WHERE m.email_id IN (${rm}) ORDER BY m.email_id, a.email, m.gmail_message_id`,
      relevant,
    );
  const attachments = await all<{ id: number; email_id: number; filename: string | null; mime_type: string | null; size: number | null; sha256: string }>(
      tx,
      `SELECT id, email_id, filename, mime_type, size, sha256 FROM email_attachments
        WHERE email_id IN (${rm}) AND state = 'saved' AND sha256 IS NOT NULL ORDER BY email_id, id`,
      relevant,
    );
  const partsBy = group(participants);
  const linksBy = group(links);
  const copiesBy = group(copies);
  const attsBy = group(attachments);

  // Bodies unchanged since the last upsert reuse its text: one read for the chunk.
  const reuse = new Map<number, number>();
  for (const id of relevant) {
    const e = byId.get(id);
    const prior = emailItem.get(id);
    if (e?.is_matched === 1 && prior?.state === 'live' && prior.body_hash !== null) reuse.set(id, prior.seq);
  }
  const published = await publishedTexts(tx, [...reuse.values()]);

  const out = new Appends(ctx.now);
  for (const id of relevant) {
    await breathe();
    const e = byId.get(id);
    let desired: Desired;
    let bodyHash: string | null = null;
    const held = copiesBy.get(id) ?? [];
    if (!e) {
      desired = { live: false, reason: ctx.reason ?? 'purged' };
    } else if (e.is_matched !== 1) {
      exclusions ??= await loadExclusions(tx);
      const excluded = (partsBy.get(id) ?? []).some((p) => exclusions!.covers(p.address));
      desired = { live: false, reason: excluded ? 'excluded' : 'unmatched' };
    } else if (held.length > 0 && held.every((c) => c.deleted_at !== null)) {
      desired = { live: false, reason: 'deleted_everywhere' };
    } else {
      bodyHash = hashOf([e.body_text, e.body_html]);
      const prior = emailItem.get(id);
      // Turning mail into clean text is the costly part; a label or link change reuses it,
      // and a writer that computed it before taking the write lock hands it in.
      const seq = reuse.get(id);
      const text =
        prior?.body_hash === bodyHash && seq !== undefined ? published.get(seq) : undefined;
      const clean = text ? undefined : ctx.texts?.cleanFor(id, e.body_text, e.body_html);
      desired = { live: true, payload: emailPayload(e, partsBy.get(id) ?? [], linksBy.get(id) ?? [], held, attsBy.get(id) ?? [], text, clean) };
    }

    const wantAttachments = desired.live ? (attsBy.get(id) ?? []).map(attachmentPayload) : [];
    const wanted = new Set(wantAttachments.map((a) => a.id));
    const publishedAtts = attachmentItems.get(id) ?? [];

    // Removals before additions: a consumer never holds an attachment of a removed email.
    for (const it of publishedAtts) {
      if (it.state === 'live' && !wanted.has(it.item_id)) {
        const reason: RemovalReason = desired.live ? (ctx.reason ?? 'purged') : desired.reason;
        out.add('attachment.tombstone', id, it.item_id, JSON.stringify({ id: it.item_id, email_id: id, reason }), it, null);
      }
    }
    const cur = emailItem.get(id);
    if (desired.live) {
      const json = JSON.stringify(desired.payload);
      const h = sha256(json);
      if (!cur || cur.state !== 'live' || cur.payload_hash !== h) out.add('email.upsert', id, null, json, cur, h, bodyHash);
    } else if (cur?.state === 'live') {
      out.add('email.tombstone', id, null, JSON.stringify({ id, reason: desired.reason }), cur, null);
    }
    const pubBy = new Map(publishedAtts.map((p) => [p.item_id, p]));
    for (const a of wantAttachments) {
      const json = JSON.stringify(a);
      const h = sha256(json);
      const it = pubBy.get(a.id);
      if (!it || it.state !== 'live' || it.payload_hash !== h) out.add('attachment.upsert', id, a.id, json, it, h);
    }
  }
  await out.flush(tx);
  return exclusions;
}

interface Append {
  type: FeedEventType;
  emailId: number;
  attachmentId: number | null;
  json: string;
  prev: ItemRow | undefined;
  hash: string | null;
  bodyHash: string | null;
}

// Rows per multi-row statement: at most 7 values each, far below SQLite's 32,766 bound values.
export const FEED_ROWS = 200;

/**
 * A chunk's events, written together: one multi-row insert into the log per FEED_ROWS events
 * (seqs follow the order the events were added, as SQLite inserts a VALUES list in order),
 * one delete of the events they supersede, one upsert of the items' latest state.
 */
class Appends {
  private readonly list: Append[] = [];
  constructor(private readonly at: string) {}

  add(type: FeedEventType, emailId: number, attachmentId: number | null, json: string, prev: ItemRow | undefined, hash: string | null, bodyHash: string | null = null): void {
    this.list.push({ type, emailId, attachmentId, json, prev, hash, bodyHash });
  }

  async flush(tx: Executor): Promise<void> {
    for (let i = 0; i < this.list.length; i += FEED_ROWS) {
      const c = this.list.slice(i, i + FEED_ROWS);
      const rows = await all<{ seq: number }>(
        tx,
        `INSERT INTO email_feed (type, email_id, attachment_id, at, payload) VALUES ${c.map(() => '(?, ?, ?, ?, ?)').join(',')} RETURNING seq`,
        c.flatMap((a) => [a.type, a.emailId, a.attachmentId, this.at, a.json]),
      );
      // RETURNING's order is not promised; seqs are, so they are matched to events by rank.
      const seqs = rows.map((r) => r.seq).sort((x, y) => x - y);
      if (seqs.length !== c.length) throw new Error(`feed: ${c.length} events written but ${seqs.length} seqs returned`);
      const superseded = c.filter((a) => a.prev).map((a) => a.prev!.seq);
      if (superseded.length) await run(tx, `DELETE FROM email_feed WHERE seq IN (${marks(superseded.length)})`, superseded);
      await run(
        tx,
        `INSERT INTO email_feed_items (kind, item_id, email_id, state, payload_hash, body_hash, seq) VALUES ${c.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(',')}
         ON CONFLICT(kind, item_id) DO UPDATE SET email_id = excluded.email_id, state = excluded.state, payload_hash = excluded.payload_hash,
           body_hash = excluded.body_hash, seq = excluded.seq`,
        c.flatMap((a, k) => [
          a.attachmentId === null ? 'email' : 'attachment',
          a.attachmentId ?? a.emailId,
          a.emailId,
          a.type.endsWith('.upsert') ? 'live' : 'gone',
          a.hash,
          a.bodyHash,
          seqs[k]!,
        ]),
      );
    }
  }
}

type TextPart = Pick<EmailUpsert, 'text' | 'chunks' | 'content_hash'>;

/** The text, chunks and hash of the events at these seqs that are email upserts. */
async function publishedTexts(tx: Executor, seqs: number[]): Promise<Map<number, TextPart>> {
  const out = new Map<number, TextPart>();
  for (let i = 0; i < seqs.length; i += IN_CHUNK) {
    const c = seqs.slice(i, i + IN_CHUNK);
    const rows = await all<{ seq: number; payload: string }>(tx, `SELECT seq, payload FROM email_feed WHERE seq IN (${marks(c.length)}) AND type = 'email.upsert'`, c);
    for (const row of rows) {
      const p = JSON.parse(row.payload) as Partial<TextPart>;
      if (typeof p.text === 'string' && Array.isArray(p.chunks) && typeof p.content_hash === 'string') out.set(row.seq, { text: p.text, chunks: p.chunks, content_hash: p.content_hash });
    }
  }
  return out;
}

function emailPayload(
  e: EmailRow,
  parts: { address: string; name: string | null; role: string }[],
  links: { investor_id: number | null; contact_id: number | null; match_kind: string }[],
  copies: { email: string; label_ids: string; deleted_at: string | null }[],
  atts: { id: number; email_id: number; filename: string | null; mime_type: string | null; size: number | null; sha256: string }[],
  known?: TextPart,
  clean?: string,
): EmailUpsert {
  const text = known?.text ?? clean ?? cleanText(e.body_text, e.body_html);
  const byRole = (role: string) => parts.filter((p) => p.role === role).map((p) => ({ address: p.address, name: p.name }));
  return {
    id: e.id,
    dedup_key: e.dedup_key,
    thread_id: e.thread_id,
    subject: e.subject,
    from: e.from_address ? { address: e.from_address, name: e.from_name } : null,
    to: byRole('to'),
    cc: byRole('cc'),
    sent_at: e.sent_at,
    investors: links.map((l) => ({ investor_id: l.investor_id, contact_id: l.contact_id, match_kind: l.match_kind })),
    mailboxes: copies.map((c) => ({ email: c.email, labels: parseLabels(c.label_ids), deleted: c.deleted_at !== null })),
    text,
    chunks: known?.chunks ?? chunkText(e.id, text),
    content_hash: known?.content_hash ?? contentHash(text),
    attachments: atts.map(({ email_id: _omit, ...a }) => ({ ...a, path: `/api/email/attachments/${a.id}` })),
  };
}

function attachmentPayload(a: { id: number; email_id: number; filename: string | null; mime_type: string | null; size: number | null; sha256: string }): FeedAttachment {
  return { id: a.id, email_id: a.email_id, filename: a.filename, mime_type: a.mime_type, size: a.size, sha256: a.sha256, path: `/api/email/attachments/${a.id}` };
}

function parseLabels(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').sort() : [];
  } catch {
    return [];
  }
}

interface Exclusions {
  covers(address: string): boolean;
}

/** The exclusions table as the matcher reads it: folded addresses, and domains with their subdomains. */
async function loadExclusions(tx: Executor): Promise<Exclusions> {
  const rows = await all<{ address: string | null; domain: string | null }>(tx, 'SELECT address, domain FROM exclusions');
  const addresses = new Set(rows.filter((r) => r.address).map((r) => foldAddress(r.address!)));
  const domains = new Set(rows.filter((r) => r.domain).map((r) => foldDomain(r.domain!)));
  return {
    covers(raw) {
      const a = normalizeAddress(raw);
      if (!a) return false;
      const folded = foldAddress(a);
      if (addresses.has(folded)) return true;
      return domainAndParents(folded.slice(folded.lastIndexOf('@') + 1)).some((d) => domains.has(d));
    },
  };
}

function group<T extends { email_id: number }>(rows: T[]): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const r of rows) push(m, r.email_id, r);
  return m;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
