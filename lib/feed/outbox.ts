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
import { all, one, run } from '../db/client.js';
import type { ChangeContext, RemovalReason } from '../capture/changes.js';
import { domainAndParents, foldAddress, normalizeAddress, normalizeDomain } from '../mail/address.js';
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

export interface Tombstone {
  id: number;
  email_id?: number;
  reason: RemovalReason;
}

const IN_CHUNK = 400;
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(',');
const hashOf = (payload: unknown): string => createHash('sha256').update(JSON.stringify(payload)).digest('hex');

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

  for (const id of relevant) {
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
      // Turning mail into clean text is the costly part; a label or link change reuses it.
      const text = prior?.state === 'live' && prior.body_hash === bodyHash ? await publishedText(tx, prior.seq) : undefined;
      desired = { live: true, payload: emailPayload(e, partsBy.get(id) ?? [], linksBy.get(id) ?? [], held, attsBy.get(id) ?? [], text) };
    }

    const wantAttachments = desired.live ? (attsBy.get(id) ?? []).map(attachmentPayload) : [];
    const wanted = new Set(wantAttachments.map((a) => a.id));
    const published = attachmentItems.get(id) ?? [];

    // Removals before additions: a consumer never holds an attachment of a removed email.
    for (const it of published) {
      if (it.state === 'live' && !wanted.has(it.item_id)) {
        const reason: RemovalReason = desired.live ? (ctx.reason ?? 'purged') : desired.reason;
        await append(tx, ctx.now, 'attachment.tombstone', id, it.item_id, { id: it.item_id, email_id: id, reason }, it, null);
      }
    }
    const cur = emailItem.get(id);
    if (desired.live) {
      const h = hashOf(desired.payload);
      if (!cur || cur.state !== 'live' || cur.payload_hash !== h) await append(tx, ctx.now, 'email.upsert', id, null, desired.payload, cur, h, bodyHash);
    } else if (cur?.state === 'live') {
      await append(tx, ctx.now, 'email.tombstone', id, null, { id, reason: desired.reason }, cur, null);
    }
    const pubBy = new Map(published.map((p) => [p.item_id, p]));
    for (const a of wantAttachments) {
      const h = hashOf(a);
      const it = pubBy.get(a.id);
      if (!it || it.state !== 'live' || it.payload_hash !== h) await append(tx, ctx.now, 'attachment.upsert', id, a.id, a, it, h);
    }
  }
  return exclusions;
}

async function append(
  tx: Executor,
  at: string,
  type: FeedEventType,
  emailId: number,
  attachmentId: number | null,
  payload: unknown,
  prev: ItemRow | undefined,
  hash: string | null,
  bodyHash: string | null = null,
): Promise<void> {
  const row = await one<{ seq: number }>(
    tx,
    'INSERT INTO email_feed (type, email_id, attachment_id, at, payload) VALUES (?, ?, ?, ?, ?) RETURNING seq',
    [type, emailId, attachmentId, at, JSON.stringify(payload)],
  );
  if (prev) await run(tx, 'DELETE FROM email_feed WHERE seq = ?', [prev.seq]);
  const kind = attachmentId === null ? 'email' : 'attachment';
  await run(
    tx,
    `INSERT INTO email_feed_items (kind, item_id, email_id, state, payload_hash, body_hash, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(kind, item_id) DO UPDATE SET email_id = excluded.email_id, state = excluded.state, payload_hash = excluded.payload_hash,
       body_hash = excluded.body_hash, seq = excluded.seq`,
    [kind, attachmentId ?? emailId, emailId, type.endsWith('.upsert') ? 'live' : 'gone', hash, bodyHash, row!.seq],
  );
}

type TextPart = Pick<EmailUpsert, 'text' | 'chunks' | 'content_hash'>;

/** The text, chunks and hash of the event at `seq`, when it is an email upsert. */
async function publishedText(tx: Executor, seq: number): Promise<TextPart | undefined> {
  const row = await one<{ payload: string }>(tx, "SELECT payload FROM email_feed WHERE seq = ? AND type = 'email.upsert'", [seq]);
  if (!row) return undefined;
  const p = JSON.parse(row.payload) as Partial<TextPart>;
  return typeof p.text === 'string' && Array.isArray(p.chunks) && typeof p.content_hash === 'string' ? { text: p.text, chunks: p.chunks, content_hash: p.content_hash } : undefined;
}

function emailPayload(
  e: EmailRow,
  parts: { address: string; name: string | null; role: string }[],
  links: { investor_id: number | null; contact_id: number | null; match_kind: string }[],
  copies: { email: string; label_ids: string; deleted_at: string | null }[],
  atts: { id: number; email_id: number; filename: string | null; mime_type: string | null; size: number | null; sha256: string }[],
  known?: TextPart,
): EmailUpsert {
  const text = known?.text ?? cleanText(e.body_text, e.body_html);
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
  const domains = new Set(rows.filter((r) => r.domain).map((r) => normalizeDomain(r.domain!)).map((d) => (d === 'googlemail.com' ? 'gmail.com' : d)));
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
