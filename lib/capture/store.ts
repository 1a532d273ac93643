// Writing one page of fetched messages: emails (deduplicated), the mailbox's copies,
// participants, investor links, attachment rows and threads. Runs inside the caller's
// transaction so a page and its checkpoint land together or not at all.
import type { Executor } from '../db/client.js';
import { all, one, run } from '../db/client.js';
import { breathe } from '../db/slice.js';
import type { MatchLink } from '../matching/matcher.js';
import type { Address, ParsedMessage } from '../mail/types.js';
import { blobRelPath } from './blobs.js';
import { attachmentsChanged, emailsChanged, PreparedTexts, type DerivedText } from './changes.js';
import { assignThreads, refreshThreads, threadKeys } from './threading.js';

/** A file already written under its hash while the message was fetched. */
export interface SavedFile {
  sha256: string;
  size: number;
}

/** A fetched message, matched against the directory; bodies are present only when matched. */
export interface ProcessedMessage {
  parsed: ParsedMessage;
  links: MatchLink[];
  /** Files fetched with the message, by part id; their rows are written `saved`. */
  files?: Map<string, SavedFile>;
  /** The bodies' feed and search texts, derived before the write transaction (prepareTexts). */
  derived?: DerivedText;
}

interface StoreContext {
  accountId: number;
  now: string;
  maxAttachmentBytes: number;
}

export interface StoreResult {
  stored: number;
  newlyMatchedEmailIds: number[];
  threads: Set<number>;
  /** Attachment rows written `saved` (their files came with the fetch). */
  filesSaved: number;
}

export function participantsOf(m: ParsedMessage): { address: string; name: string | null; role: string }[] {
  const out: { address: string; name: string | null; role: string }[] = [];
  const add = (role: string, list: (Address | null)[]) => {
    for (const a of list) if (a?.address) out.push({ address: a.address, name: a.name, role });
  };
  add('from', [m.from]);
  add('to', m.to);
  add('cc', m.cc);
  add('bcc', m.bcc);
  add('reply_to', m.replyTo);
  return out;
}

// SQLite binds at most 32,766 values per statement; every multi-row statement stays far below.
const ROWS = 200;

function chunks<T>(list: T[], size = ROWS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

const marks = (n: number, row: string) => Array.from({ length: n }, () => row).join(',');

/**
 * One page: multi-row statements for the emails, copies, participants and links, one thread
 * refresh for the page. A page holding the same email twice (one mailbox with duplicates) is
 * written in rounds so each round sees the one before it.
 */
export async function storeMessages(tx: Executor, ctx: StoreContext, msgs: ProcessedMessage[]): Promise<StoreResult> {
  const result: StoreResult = { stored: 0, newlyMatchedEmailIds: [], threads: new Set(), filesSaved: 0 };
  const merged = new Set<number>();
  // Every email whose visible state this page changed, for the derived stores.
  const touched = new Set<number>();
  const savedFiles: number[] = [];
  const texts = new PreparedTexts();
  let pending = msgs;
  while (pending.length) {
    const round: ProcessedMessage[] = [];
    const later: ProcessedMessage[] = [];
    const keys = new Set<string>();
    const gmailIds = new Set<string>();
    for (const p of pending) {
      if (keys.has(p.parsed.dedupKey) || gmailIds.has(p.parsed.gmailId)) later.push(p);
      else {
        keys.add(p.parsed.dedupKey);
        gmailIds.add(p.parsed.gmailId);
        round.push(p);
      }
    }
    await storeRound(tx, ctx, round, { result, merged, touched, savedFiles, texts });
    pending = later;
  }
  for (const g of merged) result.threads.delete(g);
  await refreshThreads(tx, result.threads);
  await emailsChanged(tx, touched, { now: ctx.now, texts });
  await attachmentsChanged(tx, savedFiles, { now: ctx.now });
  result.filesSaved = savedFiles.length;
  return result;
}

interface RoundState {
  result: StoreResult;
  merged: Set<number>;
  touched: Set<number>;
  savedFiles: number[];
  texts: PreparedTexts;
}

type EmailRow = { id: number; dedup_key: string; thread_id: number | null; is_matched: number; has_body: number };

async function storeRound(tx: Executor, ctx: StoreContext, msgs: ProcessedMessage[], st: RoundState): Promise<void> {
  const { result, merged, touched, savedFiles, texts } = st;
  const existing = new Map<string, { emailId: number; deleted: boolean }>();
  for (const c of chunks(msgs)) {
    const rows = await all<{ gmail_message_id: string; email_id: number; deleted: number }>(
      tx,
      `SELECT gmail_message_id, email_id, deleted_at IS NOT NULL AS deleted FROM email_mailbox_messages WHERE account_id = ? AND gmail_message_id IN (${marks(c.length, '?')})`,
      [ctx.accountId, ...c.map((p) => p.parsed.gmailId)],
    );
    for (const r of rows) existing.set(r.gmail_message_id, { emailId: r.email_id, deleted: r.deleted === 1 });
  }
  const fresh: ProcessedMessage[] = [];
  for (const p of msgs) {
    const copy = existing.get(p.parsed.gmailId);
    if (copy === undefined) {
      fresh.push(p);
      continue;
    }
    // Gmail just served this copy, so it exists: one marked deleted (gone at a verification,
    // or a deletion Gmail later undid) is a stored copy again.
    await run(tx, 'UPDATE email_mailbox_messages SET label_ids = ?, deleted_at = NULL, updated_at = ? WHERE account_id = ? AND gmail_message_id = ?', [
      JSON.stringify(p.parsed.labelIds),
      ctx.now,
      ctx.accountId,
      p.parsed.gmailId,
    ]);
    if (copy.deleted) result.stored++;
    // Files this fetch brought (under its content claim) still fill the email's pending rows,
    // or they would be downloaded again by the attachment step.
    if (p.links.length && p.files?.size) for (const id of await fillPendingAttachments(tx, copy.emailId, p.files, ctx)) savedFiles.push(id);
    touched.add(copy.emailId);
  }
  if (!fresh.length) return;

  const emails = new Map<string, EmailRow>();
  for (const c of chunks(fresh)) {
    const rows = await all<EmailRow>(
      tx,
      `INSERT INTO emails (dedup_key, rfc822_message_id, subject, from_address, from_name, sent_at, internal_date,
                           in_reply_to, references_json, size_estimate, participant_counts, created_at, updated_at)
       VALUES ${marks(c.length, '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')}
       ON CONFLICT(dedup_key) DO UPDATE SET updated_at = excluded.updated_at
       RETURNING id, dedup_key, thread_id, is_matched, (body_text IS NOT NULL OR body_html IS NOT NULL) AS has_body`,
      c.flatMap(({ parsed: m }) => [
        m.dedupKey,
        m.messageId,
        m.subject,
        m.from?.address ?? null,
        m.from?.name ?? null,
        m.sentAt,
        new Date(m.internalDate).toISOString(),
        m.inReplyTo[0] ?? null,
        JSON.stringify(m.references),
        m.sizeEstimate,
        m.participantCounts ? JSON.stringify(m.participantCounts) : null,
        ctx.now,
        ctx.now,
      ]),
    );
    for (const r of rows) emails.set(r.dedup_key, r);
  }
  const emailOf = (p: ProcessedMessage) => emails.get(p.parsed.dedupKey)!;

  const participants = fresh.flatMap((p) => participantsOf(p.parsed).map((x) => [emailOf(p).id, x.address, x.name, x.role] as const));
  for (const c of chunks(participants)) {
    await run(tx, `INSERT INTO email_participants (email_id, address, name, role) VALUES ${marks(c.length, '(?, ?, ?, ?)')} ON CONFLICT DO NOTHING`, c.flat());
  }
  const links = fresh.flatMap((p) => p.links.map((l) => [emailOf(p).id, l.investor_id, l.contact_id, l.match_kind, l.confidence, l.address, ctx.now] as const));
  for (const c of chunks(links)) {
    await run(
      tx,
      `INSERT INTO email_investor_links (email_id, investor_id, contact_id, match_kind, confidence, address, created_at)
       VALUES ${marks(c.length, '(?, ?, ?, ?, ?, ?, ?)')} ON CONFLICT DO NOTHING`,
      c.flat(),
    );
  }

  // Matched mail gets its bodies and attachment rows: one multi-row statement of each per
  // ROWS emails (or attachment rows) instead of two per email.
  const bodies: (string | number | null)[][] = [];
  const files: AttachmentRow[] = [];
  for (const msg of fresh) {
    const { parsed: m, links: msgLinks } = msg;
    const email = emailOf(msg);
    // Matching is per email over every copy's participants: a Bcc only the sender's copy
    // shows can make an email matched after another mailbox stored it metadata-only.
    const matched = email.is_matched === 1 || msgLinks.length > 0;
    if (matched && (email.is_matched === 0 || email.has_body === 0)) {
      // A matched email's snippet is never NULL: NULL means "body withheld" to rematch.
      bodies.push([email.id, m.bodyText, m.bodyHtml, m.snippet ?? '']);
      if (msg.derived) texts.set(email.id, msg.derived);
      files.push(...attachmentRows(email.id, m, ctx, msg.files));
      if (email.is_matched === 0) result.newlyMatchedEmailIds.push(email.id);
    } else if (matched && msg.files?.size) {
      // Another mailbox's copy stored the email first, without the files this copy's fetch
      // holds (it left them to the run that had claimed them): its pending rows take them.
      for (const id of await fillPendingAttachments(tx, email.id, msg.files, ctx)) savedFiles.push(id);
    }
    touched.add(email.id);
  }
  for (const c of chunks(bodies)) {
    await run(
      tx,
      `WITH v(id, body_text, body_html, snippet) AS (VALUES ${marks(c.length, '(?, ?, ?, ?)')})
       UPDATE emails SET is_matched = 1, body_text = v.body_text, body_html = v.body_html, snippet = v.snippet, updated_at = ?
         FROM v WHERE emails.id = v.id`,
      [...c.flat(), ctx.now],
    );
  }
  for (const id of await insertAttachmentRows(tx, files)) savedFiles.push(id);

  const { threadOf, merged: gone, moved } = await assignThreads(
    tx,
    fresh.map((p) => ({ emailId: emailOf(p).id, keys: threadKeys(ctx.accountId, p.parsed), existingThreadId: emailOf(p).thread_id })),
  );
  for (const g of gone) merged.add(g);
  for (const id of moved) touched.add(id);
  const changed: [number, number][] = [];
  for (const p of fresh) {
    const email = emailOf(p);
    const threadId = threadOf.get(email.id)!;
    result.threads.add(threadId);
    if (email.thread_id !== threadId) changed.push([email.id, threadId]);
  }
  // Emails of a stored thread merged away above already carry the survivor; these are the page's own.
  for (const c of chunks(changed)) {
    await run(
      tx,
      `UPDATE emails SET thread_id = CASE id ${c.map(() => 'WHEN ? THEN ?').join(' ')} END WHERE id IN (${marks(c.length, '?')})`,
      [...c.flat(), ...c.map(([id]) => id)],
    );
  }

  for (const c of chunks(fresh)) {
    await run(
      tx,
      `INSERT INTO email_mailbox_messages (account_id, gmail_message_id, gmail_thread_id, email_id, label_ids, internal_date, created_at, updated_at)
       VALUES ${marks(c.length, '(?, ?, ?, ?, ?, ?, ?, ?)')}`,
      c.flatMap(({ parsed: m, ...rest }) => [
        ctx.accountId,
        m.gmailId,
        m.gmailThreadId,
        emailOf({ parsed: m, ...rest }).id,
        JSON.stringify(m.labelIds),
        new Date(m.internalDate).toISOString(),
        ctx.now,
        ctx.now,
      ]),
    );
  }
  result.stored += fresh.length;
}

type AttachmentRow = (string | number | null)[];

/** The attachment rows of a matched email: `saved` when the file came with the fetch, `too_large` never downloaded, else `pending`. */
function attachmentRows(emailId: number, m: ParsedMessage, ctx: Pick<StoreContext, 'now' | 'maxAttachmentBytes'>, files?: Map<string, SavedFile>): AttachmentRow[] {
  return m.attachments.map((a) => {
    const file = a.size > ctx.maxAttachmentBytes ? undefined : files?.get(a.partId);
    return [
      emailId,
      a.partId,
      a.filename,
      a.mimeType,
      file ? file.size : a.size,
      a.contentId,
      a.inline ? 1 : 0,
      a.size > ctx.maxAttachmentBytes ? 'too_large' : file ? 'saved' : 'pending',
      file?.sha256 ?? null,
      file ? blobRelPath(file.sha256) : null,
      // Counted like the attachment step's own download: one attempt, saved.
      file ? 1 : 0,
      ctx.now,
      ctx.now,
    ];
  });
}

/** Writes attachment rows (existing ones are left as they are); returns the ids of rows written `saved`. */
async function insertAttachmentRows(tx: Executor, rows: AttachmentRow[]): Promise<number[]> {
  const saved: number[] = [];
  for (const c of chunks(rows)) {
    const out = await all<{ id: number; state: string }>(
      tx,
      `INSERT INTO email_attachments (email_id, part_id, filename, mime_type, size, content_id, is_inline, state, sha256, storage_path, attempts, created_at, updated_at)
       VALUES ${marks(c.length, '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')} ON CONFLICT(email_id, part_id) DO NOTHING
       RETURNING id, state`,
      c.flat(),
    );
    for (const r of out) if (r.state === 'saved') saved.push(r.id);
  }
  return saved;
}

/**
 * Attachment rows for a matched email: `saved` when the file came with the fetch, `too_large`
 * never downloaded, else `pending` for the attachment step. Returns the ids of rows saved here.
 */
export async function recordAttachments(
  tx: Executor,
  emailId: number,
  m: ParsedMessage,
  ctx: Pick<StoreContext, 'now' | 'maxAttachmentBytes'>,
  files?: Map<string, SavedFile>,
): Promise<number[]> {
  return insertAttachmentRows(tx, attachmentRows(emailId, m, ctx, files));
}

/** Pending (or failed) rows of a stored email that this copy's fetch brought the files of; counted like a download. */
async function fillPendingAttachments(tx: Executor, emailId: number, files: Map<string, SavedFile>, ctx: Pick<StoreContext, 'now' | 'maxAttachmentBytes'>): Promise<number[]> {
  const out: number[] = [];
  for (const [partId, file] of files) {
    if (file.size > ctx.maxAttachmentBytes) continue;
    const rows = await all<{ id: number }>(
      tx,
      `UPDATE email_attachments SET state = 'saved', sha256 = ?, storage_path = ?, size = ?, error = NULL, attempts = attempts + 1, updated_at = ?
        WHERE email_id = ? AND part_id = ? AND state IN ('pending', 'failed') RETURNING id`,
      [file.sha256, blobRelPath(file.sha256), file.size, ctx.now, emailId, partId],
    );
    for (const r of rows) out.push(r.id);
  }
  return out;
}

/** Gmail ids of this page that the mailbox already holds (a resumed page stores nothing twice). */
export async function knownGmailIds(db: Executor, accountId: number, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await all<{ gmail_message_id: string }>(
    db,
    `SELECT gmail_message_id FROM email_mailbox_messages WHERE account_id = ? AND gmail_message_id IN (${ids.map(() => '?').join(',')})`,
    [accountId, ...ids],
  );
  return new Set(rows.map((r) => r.gmail_message_id));
}

/**
 * Derive the feed and search texts of the page's matched bodies before its write transaction
 * opens, yielding between messages, so neither the write lock nor the event loop is held by
 * this text work inside it.
 */
export async function prepareTexts(msgs: ProcessedMessage[]): Promise<void> {
  for (const p of msgs) {
    const m = p.parsed;
    if (p.derived || !p.links.length || (m.bodyText === null && m.bodyHtml === null)) continue;
    await breathe();
    p.derived = PreparedTexts.derive(m.bodyText, m.bodyHtml);
  }
}
