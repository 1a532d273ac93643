// Downloading the files of matched mail. Gmail's attachment ids are ephemeral: the ids the
// sync's own fetch of a message handed out are used first, and the message is fetched again
// only when it was not fetched on this run or an id turns out to have expired (404/400).
// Files are content-addressed (attachments/ab/<sha256>), written to a temp file beside the
// final path and renamed, so a crash never leaves a partial file where a reader would find
// it; the same bytes are stored once however many messages carry them. Mailboxes holding the
// same email claim its rows before downloading, so its files are downloaded once.
// Writes to the run ledger go through runs.ts.
import type { InStatement } from '@libsql/client';
import { blobRelPath, claimAndStoreBlob, deleteUnreferencedBlobs, LIVE_CONTENT_CLAIM, releaseBlobClaims, type BlobHooks } from './blobs.js';
import { attachmentsChanged } from './changes.js';
import { addAttachmentsSaved } from './runs.js';
import { instanceOf } from './accounts.js';
import { all } from '../db/client.js';
import type { Deps } from '../core/deps.js';
import { Semaphore } from '../gmail/limiter.js';
import { GmailStop, type GmailApi } from '../gmail/types.js';
import { AppError } from '../core/errors.js';
import { parseGmailMessage } from '../mail/mime.js';
import { downloadBytes } from './planner.js';

/** A row is tried this many times across runs; after that it stays `failed` until someone looks. */
export const MAX_ATTEMPTS = 5;
/** Emails whose rows are written back together. */
const BATCH_EMAILS = 50;
const MAX_ERROR_LENGTH = 500;

interface DownloadOptions {
  accountId: number;
  runId: number;
  /** Only these emails (rematch, after it fetched their bodies). */
  emailIds?: number[];
  /** Called after each batch is written: a sync extends its mailbox lease here. */
  afterBatch?: () => Promise<void>;
}

interface DownloadResult {
  saved: number;
  failed: number;
  tooLarge: number;
}

/** Test seams: after a file's bytes are in its temp file (before the rename), and after a batch's files are on disk (before their rows are written). */
interface DownloadHooks extends BlobHooks {
  beforeWrite?: (outcomes: { id: number; kind: string }[]) => void | Promise<void>;
}

/** A download claim on a row lasts this long unless its outcome is written first. */
const CLAIM_MS = 15 * 60_000;

// Attachment ids handed out by the sync's own fetch of a message, per client (one run).
const remembered = new WeakMap<GmailApi, Map<string, Map<string, string>>>();

/** Keep the ids a sync's fetch handed out, so the attachment step need not fetch the message again. */
export function rememberAttachmentIds(gmail: GmailApi, messageId: string, parts: { partId: string; attachmentId: string | null }[]): void {
  let byMessage = remembered.get(gmail);
  if (!byMessage) remembered.set(gmail, (byMessage = new Map()));
  const ids = new Map<string, string>();
  for (const p of parts) if (p.attachmentId) ids.set(p.partId, p.attachmentId);
  if (ids.size) byMessage.set(messageId, ids);
}

function takeRemembered(gmail: GmailApi, messageId: string): Map<string, string> | undefined {
  const byMessage = remembered.get(gmail);
  const ids = byMessage?.get(messageId);
  byMessage?.delete(messageId);
  return ids;
}

interface PendingRow {
  id: number;
  email_id: number;
  part_id: string;
  size: number | null;
  gmail_message_id: string;
}

type Outcome =
  | { id: number; kind: 'saved'; sha256: string; size: number }
  | { id: number; kind: 'too_large'; size: number }
  | { id: number; kind: 'failed'; error: string };

// One bound per client: callers that share a mailbox's client (a sync's attachment step and
// a rematch at the same time) share the mailbox's attachment concurrency too.
const bounds = new WeakMap<GmailApi, Semaphore>();

function boundFor(gmail: GmailApi, max: number): Semaphore {
  let s = bounds.get(gmail);
  if (!s || s.max !== max) {
    s = new Semaphore(max);
    bounds.set(gmail, s);
  }
  return s;
}

async function limited<T>(sem: Semaphore, task: () => Promise<T>): Promise<T> {
  const release = await sem.acquire();
  try {
    return await task();
  } finally {
    release();
  }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_LENGTH);

/**
 * Download the `pending` (and not yet exhausted `failed`) attachments of matched emails this
 * mailbox holds. Safe to run twice or concurrently: a file is written only under its own hash
 * and a row is only moved on from `pending`/`failed`.
 */
export async function downloadPendingAttachments(deps: Deps, gmail: GmailApi, opts: DownloadOptions, hooks: DownloadHooks = {}): Promise<DownloadResult> {
  const result: DownloadResult = { saved: 0, failed: 0, tooLarge: 0 };
  if (opts.emailIds && opts.emailIds.length === 0) return result;
  const rows = await pendingRows(deps, opts);
  if (!rows.length) return result;

  const log = deps.log.child({ account: gmail.email, run_id: opts.runId });
  const sem = boundFor(gmail, deps.config.gmail.attachConcurrency);
  const byMessage = new Map<string, PendingRow[]>();
  for (const r of rows) {
    const list = byMessage.get(r.gmail_message_id) ?? [];
    list.push(r);
    byMessage.set(r.gmail_message_id, list);
  }
  const messages = [...byMessage.entries()];
  const owner = `${instanceOf(deps)}:${opts.runId}`;
  for (let i = 0; i < messages.length; i += BATCH_EMAILS) {
    const claimed = await claimRows(deps, owner, messages.slice(i, i + BATCH_EMAILS).flatMap(([, list]) => list.map((r) => r.id)));
    const batch = messages
      .slice(i, i + BATCH_EMAILS)
      .map(([messageId, list]) => [messageId, list.filter((r) => claimed.has(r.id))] as [string, PendingRow[]])
      .filter(([, list]) => list.length > 0);
    const settled = await Promise.allSettled(batch.map(([messageId, list]) => downloadMessage(deps, gmail, sem, messageId, list, hooks, owner)));
    const outcomes: Outcome[] = [];
    let stop: unknown = null;
    settled.forEach((s, j) => {
      if (s.status === 'fulfilled') outcomes.push(...s.value);
      else if (s.reason instanceof GmailStop) stop ??= s.reason;
      else outcomes.push(...batch[j]![1].map((r) => ({ id: r.id, kind: 'failed' as const, error: errorText(s.reason) })));
    });
    await hooks.beforeWrite?.(outcomes);
    const counts = await writeOutcomes(deps, opts.runId, outcomes, [...claimed]);
    await opts.afterBatch?.();
    result.saved += counts.saved;
    result.failed += counts.failed;
    result.tooLarge += counts.tooLarge;
    // The mailbox itself refused (auth, daily limit): the rest would fail the same way, and
    // the caller decides what the mailbox's state becomes.
    if (stop) throw stop;
  }
  log.info({ event: 'attachments.done', saved: result.saved, failed: result.failed, too_large: result.tooLarge }, 'attachments downloaded');
  return result;
}

async function pendingRows(deps: Deps, opts: DownloadOptions): Promise<PendingRow[]> {
  const base = `SELECT a.id, a.email_id, a.part_id, a.size, min(m.gmail_message_id) AS gmail_message_id
       FROM email_attachments a
       JOIN emails e ON e.id = a.email_id AND e.is_matched = 1
       JOIN email_mailbox_messages m ON m.email_id = a.email_id AND m.account_id = ? AND m.deleted_at IS NULL
      WHERE a.state IN ('pending', 'failed') AND a.attempts < ?
        -- Another run claimed this email's content and is fetching its files now: they come
        -- with its copy. The claim counts for nothing once that run ends or it expires.
        AND NOT EXISTS (SELECT 1 FROM email_content_claims c WHERE c.dedup_key = e.dedup_key AND c.run_id != ? AND ${LIVE_CONTENT_CLAIM})`;
  const now = new Date(deps.clock.now()).toISOString();
  if (!opts.emailIds) {
    return all<PendingRow>(deps.db, `${base} GROUP BY a.id ORDER BY a.email_id, a.id`, [opts.accountId, MAX_ATTEMPTS, opts.runId, now]);
  }
  const out: PendingRow[] = [];
  const ids = [...new Set(opts.emailIds)];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    out.push(
      ...(await all<PendingRow>(deps.db, `${base} AND a.email_id IN (${chunk.map(() => '?').join(',')}) GROUP BY a.id ORDER BY a.email_id, a.id`, [
        opts.accountId,
        MAX_ATTEMPTS,
        opts.runId,
        now,
        ...chunk,
      ])),
    );
  }
  return out;
}

/** Current attachment ids of a message by part id, with Gmail's sizes. */
async function freshParts(gmail: GmailApi, sem: Semaphore, messageId: string): Promise<Map<string, { attachmentId: string | null; size: number }> | null> {
  const msg = await limited(sem, () => gmail.getMessage(messageId, 'full'));
  if (!msg) return null;
  const parsed = parseGmailMessage(msg, { bodies: false });
  return new Map(parsed.attachments.map((a) => [a.partId, { attachmentId: a.attachmentId, size: a.size }]));
}

/**
 * Claim rows for this run; a row another mailbox's run claimed (the same email held by both)
 * is left to it. Claims end when the outcomes are written, or expire.
 */
async function claimRows(deps: Deps, owner: string, ids: number[]): Promise<Set<number>> {
  const out = new Set<number>();
  if (!ids.length) return out;
  const now = deps.clock.now();
  const rows = await all<{ id: number }>(
    deps.db,
    `UPDATE email_attachments SET claim_owner = ?, claim_expires_at = ?
      WHERE id IN (${ids.map(() => '?').join(',')}) AND state IN ('pending', 'failed')
        AND (claim_owner IS NULL OR claim_owner = ? OR claim_expires_at <= ?)
      RETURNING id`,
    [owner, new Date(now + CLAIM_MS).toISOString(), ...ids, owner, new Date(now).toISOString()],
  );
  for (const r of rows) out.add(r.id);
  return out;
}

async function downloadMessage(deps: Deps, gmail: GmailApi, sem: Semaphore, messageId: string, rows: PendingRow[], hooks: DownloadHooks, owner: string): Promise<Outcome[]> {
  const max = deps.config.gmail.maxAttachmentBytes;
  const out: Outcome[] = [];
  const wanted: PendingRow[] = [];
  for (const r of rows) {
    // The size recorded at capture decides before any request: an oversized file costs nothing.
    if ((r.size ?? 0) > max) out.push({ id: r.id, kind: 'too_large', size: r.size ?? 0 });
    else wanted.push(r);
  }
  if (!wanted.length) return out;

  const known = takeRemembered(gmail, messageId);
  let parts: Map<string, { attachmentId: string | null; size: number }> | null;
  if (known && wanted.every((r) => known.has(r.part_id))) {
    // Fresh from this run's fetch of the message: no second fetch unless an id has expired.
    parts = new Map(wanted.map((r) => [r.part_id, { attachmentId: known.get(r.part_id)!, size: r.size ?? 0 }]));
  } else {
    parts = await freshParts(gmail, sem, messageId);
  }
  if (!parts) return [...out, ...wanted.map((r) => ({ id: r.id, kind: 'failed' as const, error: 'message no longer in this mailbox' }))];
  let refreshed: ReturnType<typeof freshParts> | null = null;
  // Ids handed out by one fetch can expire before they are used; the first download that
  // finds its id gone fetches the message once more for everyone.
  const refresh = () => (refreshed ??= freshParts(gmail, sem, messageId));

  const results = await Promise.all(
    wanted.map(async (r): Promise<Outcome> => {
      let listed = 0;
      try {
        const part = parts!.get(r.part_id);
        listed = part?.size ?? 0;
        if (!part?.attachmentId) return { id: r.id, kind: 'failed', error: `part ${r.part_id} is no longer an attachment of the message` };
        if (part.size > max) return { id: r.id, kind: 'too_large', size: part.size };
        let bytes = await fetchBytes(gmail, sem, messageId, part.attachmentId, part.size, max);
        if (bytes === undefined) {
          const again = await refresh();
          if (again) parts = again;
          const next = again?.get(r.part_id);
          if (!next?.attachmentId) return { id: r.id, kind: 'failed', error: `part ${r.part_id} could not be found again after its attachment id expired` };
          bytes = await fetchBytes(gmail, sem, messageId, next.attachmentId, next.size, max, true);
        }
        if (!bytes) return { id: r.id, kind: 'failed', error: 'Gmail no longer has this attachment' };
        if (bytes.length > max) return { id: r.id, kind: 'too_large', size: bytes.length };
        const sha256 = await claimAndStoreBlob(deps.db, deps.config.dataDir, bytes, r.id, owner, new Date(deps.clock.now()).toISOString(), hooks);
        return { id: r.id, kind: 'saved', sha256, size: bytes.length };
      } catch (err) {
        if (err instanceof GmailStop) throw err;
        if (err instanceof AppError && err.code === 'PAYLOAD_TOO_LARGE') return { id: r.id, kind: 'too_large', size: Math.max(listed, max + 1) };
        return { id: r.id, kind: 'failed', error: errorText(err) };
      }
    }),
  );
  return [...out, ...results];
}

/**
 * Bytes of one attachment; `undefined` when the id may have expired (Gmail answers 404, or
 * refuses the id) and a fresh one is worth trying; on the last try errors are thrown.
 */
async function fetchBytes(gmail: GmailApi, sem: Semaphore, messageId: string, attachmentId: string, expectedBytes: number, maxBytes: number, last = false): Promise<Buffer | null | undefined> {
  try {
    // The process-wide byte bound, shared with the sync's fetches: taken inside the mailbox's
    // slot so a file waiting for bytes holds no more than its one slot.
    const bytes = await limited(sem, async () => {
      // A size the message did not list is taken at the cap, the most that may be read.
      const releaseBytes = await downloadBytes.acquire(expectedBytes > 0 ? expectedBytes : maxBytes);
      try {
        return await gmail.getAttachment(messageId, attachmentId, { ...(expectedBytes > 0 ? { expectedBytes } : {}), maxBytes });
      } finally {
        releaseBytes();
      }
    });
    if (bytes === null) return last ? null : undefined;
    return bytes;
  } catch (err) {
    // Over the cap is an answer about the file, not an expired id: no second try.
    if (last || err instanceof GmailStop || (err instanceof AppError && err.code === 'PAYLOAD_TOO_LARGE')) throw err;
    return undefined;
  }
}

/** One write per batch; rows moved on meanwhile (rematch purged them) keep their new state. */
async function writeOutcomes(deps: Deps, runId: number, outcomes: Outcome[], claimed: number[]): Promise<DownloadResult> {
  const counts: DownloadResult = { saved: 0, failed: 0, tooLarge: 0 };
  if (!outcomes.length) {
    if (claimed.length) await endClaims(deps.db, claimed);
    return counts;
  }
  const now = new Date(deps.clock.now()).toISOString();
  const live = "id = ? AND state IN ('pending', 'failed') AND EXISTS (SELECT 1 FROM emails e WHERE e.id = email_attachments.email_id AND e.is_matched = 1)";
  const stmts: InStatement[] = outcomes.map((o) => {
    switch (o.kind) {
      case 'saved':
        return {
          sql: `UPDATE email_attachments SET state = 'saved', sha256 = ?, storage_path = ?, size = ?, error = NULL, attempts = attempts + 1, updated_at = ? WHERE ${live}`,
          args: [o.sha256, blobRelPath(o.sha256), o.size, now, o.id],
        };
      case 'too_large':
        return { sql: `UPDATE email_attachments SET state = 'too_large', size = ?, error = NULL, updated_at = ? WHERE ${live}`, args: [o.size, now, o.id] };
      case 'failed':
        return { sql: `UPDATE email_attachments SET state = 'failed', error = ?, attempts = attempts + 1, updated_at = ? WHERE ${live}`, args: [o.error, now, o.id] };
    }
  });
  const results: { rowsAffected: number }[] = [];
  const tx = await deps.db.transaction('write');
  try {
    for (const st of stmts) results.push(await tx.execute(st));
    const changed = outcomes.filter((_, i) => (results[i]?.rowsAffected ?? 0) > 0).map((o) => o.id);
    await attachmentsChanged(tx, changed, { now });
    // The rows are saved (or not): the file claims of this batch end with them.
    await endClaims(tx, claimed);
    await tx.commit();
  } catch (err) {
    if (!tx.closed) await tx.rollback().catch(() => undefined);
    throw err;
  } finally {
    tx.close();
  }
  const orphans: string[] = [];
  outcomes.forEach((o, i) => {
    if ((results[i]?.rowsAffected ?? 0) === 0) {
      if (o.kind === 'saved') orphans.push(o.sha256);
      return;
    }
    if (o.kind === 'saved') counts.saved++;
    else if (o.kind === 'too_large') counts.tooLarge++;
    else counts.failed++;
  });
  // Added rather than set: a rematch downloads through several mailboxes into one run.
  await addAttachmentsSaved(deps.db, runId, counts.saved);
  // A file written for a row that was purged meanwhile is removed unless another row holds it.
  if (orphans.length) await deleteUnreferencedBlobs(deps.db, deps.config.dataDir, orphans);
  return counts;
}

async function endClaims(db: { execute: Deps['db']['execute'] }, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await db.execute({ sql: `UPDATE email_attachments SET claim_owner = NULL, claim_expires_at = NULL WHERE id IN (${chunk.map(() => '?').join(',')})`, args: chunk });
  }
  await releaseBlobClaims(db, ids);
}

/** At the start of a database's only writer: no download can be in flight, so no claim holds. */
export async function releaseAllDownloadClaims(db: Deps['db']): Promise<void> {
  await db.execute('UPDATE email_attachments SET claim_owner = NULL, claim_expires_at = NULL WHERE claim_owner IS NOT NULL');
  await db.execute('DELETE FROM email_content_claims');
}
