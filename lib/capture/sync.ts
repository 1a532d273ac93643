// The sync engine for one mailbox: backfill with a checkpoint per page, then history.
// Every page's rows, its checkpoint and the run's counters commit in one transaction,
// so a crash at any instant resumes at the last committed page and stores nothing twice.
// A message that cannot be parsed or stored is recorded (run and failure table) and skipped;
// the rest of its page commits. A directory change that commits while a page is being
// fetched is seen inside the page's transaction and the page is re-matched before storing.
// Account columns (checkpoint, history, lease) are written through accounts.ts and the run
// ledger through runs.ts, their only writers.
import type { Transaction } from '@libsql/client';
import type { AccountRow } from './accounts.js';
import { advanceHistory, completeBackfill, finishEnumeration, historyGreater, resetBackfill, saveBackfillPage, startBackfill } from './accounts.js';
import { rememberAttachmentIds } from './attachments.js';
import { claimAndStoreBlob, claimContents, releaseBlobClaims, releaseContentClaims, runClaimId } from './blobs.js';
import { emailsChanged } from './changes.js';
import { directoryVersion, givenUpIds, recordMessageFailures, type MessageFailure } from './failures.js';
import { all, one, run } from '../db/client.js';
import { sliced } from '../db/slice.js';
import type { Deps } from '../core/deps.js';
import type { GmailApi, GmailHistory } from '../gmail/types.js';
import type { ParsedMessage } from '../mail/types.js';
import { GmailStop, InvalidPageToken } from '../gmail/types.js';
import { Matcher, loadDirectory } from '../matching/matcher.js';
import { costTable } from '../gmail/costs.js';
import { DownloadBudget, Fetcher, type PlanItem } from './planner.js';
import { LeaseLost, closeLostRun, finishSync, renewLease, updateRun, type Lease, type RunKind, type RunTotals } from './runs.js';
import { knownGmailIds, participantsOf, prepareTexts, storeMessages, type ProcessedMessage, type StoreResult } from './store.js';

/** Labels whose mail is never captured: drafts and chats ever, spam and trash at backfill. */
const NEVER = ['DRAFT', 'CHAT', 'SPAM'];
const NOT_AT_BACKFILL = [...NEVER, 'TRASH'];

export interface SyncSummary {
  run_id: number;
  account: string;
  kind: RunKind;
  status: 'succeeded' | 'failed';
  messages_seen: number;
  messages_stored: number;
  quota_units: number;
  error: string | null;
}

export interface SyncHooks {
  /** Called after the mail is in, inside the lease (the attachment step). Returns files saved. */
  afterSync?: (deps: Deps, gmail: GmailApi, account: AccountRow, lease: Lease) => Promise<number>;
  /** Test seam: called after each committed page (crash injection). */
  onPageCommitted?: (info: { kind: RunKind; page: number }) => void | Promise<void>;
}

class Ctx {
  seen = 0;
  stored = 0;
  filesSaved = 0;
  page = 0;
  /** Messages skipped on this run (parse or store failures), and those of the page in hand. */
  readonly failures: MessageFailure[] = [];
  pageFailures: MessageFailure[] = [];
  readonly backfillFetch: Fetcher;
  readonly historyFetch: Fetcher;
  constructor(
    readonly deps: Deps,
    readonly account: AccountRow,
    readonly lease: Lease,
    readonly gmail: GmailApi,
    public matcher: Matcher,
    public directoryVersion: number,
    readonly hooks: SyncHooks,
    public kind: RunKind,
    readonly budget: DownloadBudget,
  ) {
    const base = {
      db: deps.db,
      config: deps.config,
      costs: costTable(deps.config.gmail.quotaCosts),
      gmail,
      // Through the context, so a directory reloaded mid-run applies to the next message.
      matcher: { match: (ps: Parameters<Matcher['match']>[0]) => this.matcher.match(ps) },
      budget,
      log: deps.log.child({ account: account.email }),
      keep: (bytes: Buffer) => claimAndStoreBlob(deps.db, deps.config.dataDir, bytes, runClaimId(lease.runId), `run:${lease.runId}`, this.now),
      onFailure: (gmailId: string, reason: string) => void this.pageFailures.push({ gmailId, reason }),
      onAttachmentIds: (gmailId: string, parsed: ParsedMessage) => rememberAttachmentIds(gmail, gmailId, parsed.attachments),
      claimContent: (dedupKeys: string[]) => claimContents(deps.db, dedupKeys, lease.runId, deps.clock.now()),
    };
    this.backfillFetch = new Fetcher({ ...base, skipLabels: NOT_AT_BACKFILL });
    this.historyFetch = new Fetcher({ ...base, skipLabels: NEVER });
  }

  get now(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }

  totals(): RunTotals {
    const s = this.gmail.stats;
    return {
      kind: this.kind,
      messages_seen: this.seen,
      messages_stored: this.stored,
      attachments_saved: this.filesSaved,
      quota_units: s.quotaUnits,
      http_calls: s.calls,
      bytes_downloaded: s.bytes,
      messages_failed: this.failures.length,
      ...(this.failures.length ? { error: failureNote(this.failures) } : {}),
    };
  }
}

function failureNote(failures: MessageFailure[]): string {
  const shown = failures.slice(0, 5).map((f) => `${f.gmailId}: ${f.reason}`);
  const more = failures.length > shown.length ? `; and ${failures.length - shown.length} more` : '';
  return `skipped ${failures.length} message${failures.length === 1 ? '' : 's'} that could not be stored: ${shown.join('; ')}${more}`.slice(0, 1000);
}

export function decideKind(deps: Deps, account: AccountRow): RunKind {
  if (account.backfill_history_id || !account.history_id) return 'backfill';
  const staleMs = deps.config.gmail.historyStaleDays * 86_400_000;
  if (!account.last_sync_at || deps.clock.now() - Date.parse(account.last_sync_at) > staleMs) return 'backfill';
  return 'incremental';
}

export async function performSync(deps: Deps, account: AccountRow, lease: Lease, gmail: GmailApi, hooks: SyncHooks = {}): Promise<SyncSummary> {
  // The version is read before the directory so a change in between only causes a reload.
  const version = await directoryVersion(deps.db);
  const directory = await loadDirectory(deps.db, deps.config.gmail.workspaceDomains);
  const budget = await DownloadBudget.load(deps.db, account.id, deps.clock.now(), deps.config.gmail.dailyDownloadBytes);
  const c = new Ctx(deps, account, lease, gmail, new Matcher(directory), version, hooks, decideKind(deps, account), budget);
  const log = deps.log.child({ account: account.email, run_id: lease.runId });
  log.info({ event: 'sync.started', kind: c.kind }, 'sync started');
  try {
    if (c.kind === 'incremental') {
      const done = await incremental(c, account.history_id!);
      if (!done) {
        log.warn({ event: 'sync.history_expired', history_id: account.history_id }, 'history expired; falling back to a backfill that reuses stored mail');
        c.kind = 'backfill';
        await resetBackfill(deps.db, account.id);
        account.backfill_history_id = null;
        account.backfill_page_token = null;
      }
    }
    if (c.kind === 'backfill') {
      const historyId = await backfill(c);
      // Mail that arrived while the backfill ran is in history after the starting point.
      const caughtUp = await incremental(c, historyId);
      if (!caughtUp) log.warn({ event: 'sync.history_expired_after_backfill' }, 'history expired right after a backfill; the next run backfills again');
    }
    let attachmentsSaved = 0;
    if (hooks.afterSync) attachmentsSaved = await hooks.afterSync(deps, gmail, account, lease);
    await finishSync(deps.db, lease, deps.clock.now(), { ok: true, totals: { ...c.totals(), attachments_saved: c.filesSaved + attachmentsSaved }, learnedUnitsSec: learnedPace(c) });
    log.info({ event: 'sync.succeeded', kind: c.kind, seen: c.seen, stored: c.stored, quota_units: gmail.stats.quotaUnits }, 'sync succeeded');
    return summary(c, 'succeeded', null);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof LeaseLost) {
      log.error({ event: 'sync.lease_lost' }, message);
      await closeLostRun(deps.db, lease.runId, deps.clock.now(), c.totals(), message);
      return summary(c, 'failed', message);
    }
    const state = err instanceof GmailStop ? err.state : 'error';
    log.error({ event: 'sync.failed', state, error: message }, 'sync failed');
    await finishSync(deps.db, lease, deps.clock.now(), { ok: false, totals: c.totals(), state, error: message, learnedUnitsSec: learnedPace(c) });
    return summary(c, 'failed', message);
  }
}

/** A pace below the configured budget is worth remembering; at the budget there is nothing learned. */
function learnedPace(c: Ctx): number | null {
  const pace = c.gmail.paceUnitsSec;
  return pace < c.deps.config.gmail.rateUnitsSec ? Math.round(pace * 100) / 100 : null;
}

function summary(c: Ctx, status: 'succeeded' | 'failed', error: string | null): SyncSummary {
  return {
    run_id: c.lease.runId,
    account: c.account.email,
    kind: c.kind,
    status,
    messages_seen: c.seen,
    messages_stored: c.stored,
    quota_units: c.gmail.stats.quotaUnits,
    error,
  };
}

function backfillQuery(c: Ctx): string {
  const parts = ['-in:chats', '-in:drafts'];
  const since = c.deps.config.gmail.backfillSince;
  if (since) parts.push(`after:${Math.floor(Date.parse(since) / 1000)}`);
  return parts.join(' ');
}

/**
 * Two phases, each checkpointed: enumerate the mailbox into the pending list (messages.list
 * pages, ids and thread ids only), then fetch what is pending by plan. A copy leaves the list
 * in the transaction that stores it. Returns the historyId to continue from.
 */
async function backfill(c: Ctx): Promise<string> {
  const { deps, account, gmail } = c;
  let startHistory = account.backfill_history_id;
  let pageToken = account.backfill_page_token ?? undefined;
  let enumerated = !!startHistory && !!(await one<{ at: string | null }>(deps.db, 'SELECT backfill_enumerated_at AS at FROM email_accounts WHERE id = ?', [account.id]))?.at;
  if (!startHistory) {
    // The starting point is read before the first list call so mail arriving during a
    // long backfill is picked up from history afterwards.
    const profile = await gmail.getProfile();
    startHistory = profile.historyId;
    pageToken = undefined;
    await startBackfill(deps.db, account.id, startHistory, c.now);
  }
  while (!enumerated) {
    let page;
    try {
      page = await gmail.listMessages({ pageToken, maxResults: deps.config.gmail.backfillPageSize, q: backfillQuery(c) });
    } catch (err) {
      if (!(err instanceof InvalidPageToken) || !pageToken) throw err;
      // A stored token Gmail no longer accepts: list again from the start; what is stored or
      // already pending is skipped by id.
      deps.log.warn({ event: 'sync.page_token_rejected', account: account.email }, 'Gmail refused the stored page token; listing the mailbox again from the start');
      pageToken = undefined;
      await saveBackfillPage(deps.db, account.id, null);
      continue;
    }
    c.seen += page.messages.length;
    const ids = page.messages.map((m) => m.id);
    const known = await knownGmailIds(deps.db, account.id, ids);
    const givenUp = await givenUpIds(deps.db, account.id, ids);
    const fresh = page.messages.filter((m) => !known.has(m.id) && !givenUp.has(m.id));
    const last = !page.nextPageToken;
    await commitPage(c, [], async (tx) => {
      await addPending(tx, account.id, fresh, c.now);
      if (last) await finishEnumeration(tx, account.id, c.now);
      else await saveBackfillPage(tx, account.id, page.nextPageToken!);
    });
    enumerated = last;
    pageToken = page.nextPageToken;
  }
  for (;;) {
    const batch = await pendingBatch(deps.db, account.id, deps.config.gmail.backfillPageSize);
    if (!batch.length) break;
    const got = await c.backfillFetch.fetch(batch);
    // Messages that could not be parsed leave the list too (recorded as failures): the
    // verification run finds them again, and a batch never repeats forever.
    const settled = [...got.fetched.map((p) => p.parsed.gmailId), ...got.dropped];
    await commitPage(c, got.fetched, (tx) => removePending(tx, account.id, settled));
  }
  await commitPage(c, [], (tx) => completeBackfill(tx, account.id, startHistory!));
  return startHistory!;
}

// SQLite allows 32,766 bound values; statements stay well under it.
const ROWS_PER_STATEMENT = 200;

async function addPending(tx: Transaction, accountId: number, items: PlanItem[], now: string): Promise<void> {
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) {
    const chunk = items.slice(i, i + ROWS_PER_STATEMENT);
    await run(
      tx,
      `INSERT INTO email_pending_messages (account_id, gmail_message_id, gmail_thread_id, created_at) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(',')}
       ON CONFLICT DO NOTHING`,
      chunk.flatMap((m) => [accountId, m.id, m.threadId, now]),
    );
  }
}

async function removePending(tx: Transaction, accountId: number, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT) {
    const chunk = ids.slice(i, i + ROWS_PER_STATEMENT);
    await run(tx, `DELETE FROM email_pending_messages WHERE account_id = ? AND gmail_message_id IN (${chunk.map(() => '?').join(',')})`, [accountId, ...chunk]);
  }
}

/** About `size` pending messages, whole Gmail threads only, so the planner sees each thread once. */
async function pendingBatch(db: Deps['db'], accountId: number, size: number): Promise<PlanItem[]> {
  const rows = await all<{ id: string; thread_id: string }>(
    db,
    'SELECT gmail_message_id AS id, gmail_thread_id AS thread_id FROM email_pending_messages WHERE account_id = ? ORDER BY gmail_thread_id DESC, gmail_message_id LIMIT ?',
    [accountId, size],
  );
  if (!rows.length) return [];
  const lastThread = rows[rows.length - 1]!.thread_id;
  const rest = await all<{ id: string; thread_id: string }>(
    db,
    'SELECT gmail_message_id AS id, gmail_thread_id AS thread_id FROM email_pending_messages WHERE account_id = ? AND gmail_thread_id = ?',
    [accountId, lastThread],
  );
  const seen = new Set(rows.map((r) => r.id));
  for (const r of rest) if (!seen.has(r.id)) rows.push(r);
  return rows.map((r) => ({ id: r.id, threadId: r.thread_id }));
}

interface Pending {
  threadId: string;
  fetch: boolean;
  deleted: boolean;
  labels?: string[];
  added: Set<string>;
  removed: Set<string>;
}

/** Returns false when Gmail no longer has history from `startHistoryId` (404). */
async function incremental(c: Ctx, startHistoryId: string): Promise<boolean> {
  const { deps, account, gmail } = c;
  let pageToken: string | undefined;
  for (;;) {
    const h = await gmail.listHistory({ startHistoryId, pageToken });
    if (h === null) return false;
    const changes = collectChanges(h.history);
    const ids = [...changes.keys()];
    const known = await knownGmailIds(deps.db, account.id, ids);
    const givenUp = await givenUpIds(deps.db, account.id, ids);
    const toFetch = ids.filter((id) => {
      const ch = changes.get(id)!;
      return !known.has(id) && !givenUp.has(id) && ch.fetch && !ch.deleted;
    });
    c.seen += toFetch.length;
    const { fetched } = await c.historyFetch.fetch(toFetch.map((id) => ({ id, threadId: changes.get(id)!.threadId })));
    const last = !h.nextPageToken;
    const maxRecord = h.history.reduce<string | null>((m, r) => (r.id && historyGreater(r.id, m) ? r.id : m), null);
    const checkpoint = last ? h.historyId : maxRecord;
    await commitPage(c, fetched, async (tx) => {
      const touched: number[] = [];
      for (const id of ids) {
        if (!known.has(id)) continue;
        const ch = changes.get(id)!;
        if (ch.deleted) {
          await run(tx, 'UPDATE email_mailbox_messages SET deleted_at = ?, updated_at = ? WHERE account_id = ? AND gmail_message_id = ? AND deleted_at IS NULL', [
            c.now,
            c.now,
            account.id,
            id,
          ]);
        } else if (ch.added.size || ch.removed.size || ch.labels) {
          const cur = await one<{ label_ids: string }>(tx, 'SELECT label_ids FROM email_mailbox_messages WHERE account_id = ? AND gmail_message_id = ?', [account.id, id]);
          const labels = ch.labels ?? applyDelta(JSON.parse(cur?.label_ids ?? '[]') as string[], ch);
          await run(tx, 'UPDATE email_mailbox_messages SET label_ids = ?, updated_at = ? WHERE account_id = ? AND gmail_message_id = ?', [
            JSON.stringify(labels),
            c.now,
            account.id,
            id,
          ]);
        }
        const copy = await one<{ email_id: number }>(tx, 'SELECT email_id FROM email_mailbox_messages WHERE account_id = ? AND gmail_message_id = ?', [account.id, id]);
        if (copy) touched.push(copy.email_id);
      }
      await emailsChanged(tx, touched, { now: c.now });
      if (checkpoint) await advanceHistory(tx, account.id, checkpoint);
    });
    if (last) return true;
    pageToken = h.nextPageToken;
  }
}

function applyDelta(labels: string[], ch: Pending): string[] {
  const s = new Set(labels);
  for (const l of ch.added) s.add(l);
  for (const l of ch.removed) s.delete(l);
  return [...s];
}

/** Fold a page of history records into one net change per message, in record order. */
function collectChanges(records: GmailHistory[]): Map<string, Pending> {
  const changes = new Map<string, Pending>();
  const get = (id: string, threadId?: string | null) => {
    let p = changes.get(id);
    if (!p) {
      p = { threadId: threadId ?? '', fetch: false, deleted: false, added: new Set(), removed: new Set() };
      changes.set(id, p);
    }
    return p;
  };
  for (const r of records) {
    for (const a of r.messagesAdded ?? []) {
      const m = a.message;
      if (!m?.id) continue;
      const p = get(m.id, m.threadId);
      if (!p.threadId && m.threadId) p.threadId = m.threadId;
      if (m.labelIds) p.labels = m.labelIds;
      if (!(m.labelIds ?? []).some((l) => NEVER.includes(l))) p.fetch = true;
    }
    for (const d of r.messagesDeleted ?? []) if (d.message?.id) get(d.message.id).deleted = true;
    for (const la of r.labelsAdded ?? []) {
      const m = la.message;
      if (!m?.id) continue;
      const p = get(m.id);
      for (const l of la.labelIds ?? []) {
        p.added.add(l);
        p.removed.delete(l);
      }
      if (m.labelIds) p.labels = m.labelIds;
    }
    for (const lr of r.labelsRemoved ?? []) {
      const m = lr.message;
      if (!m?.id) continue;
      const p = get(m.id);
      for (const l of lr.labelIds ?? []) {
        p.removed.add(l);
        p.added.delete(l);
      }
      if (m.labelIds) p.labels = m.labelIds;
      // Mail rescued from spam, or restored from trash, becomes capturable.
      if ((lr.labelIds ?? []).some((l) => l === 'SPAM' || l === 'TRASH') && !(m.labelIds ?? []).some((l) => NEVER.includes(l))) p.fetch = true;
    }
  }
  return changes;
}

async function commitPage(c: Ctx, fetched: ProcessedMessage[], checkpoint: (tx: Transaction) => Promise<void>): Promise<void> {
  const { deps } = c;
  for (;;) {
    await prepareTexts(fetched);
    const tx = await deps.db.transaction('write');
    // Statements through `w` give the event loop a turn every few milliseconds (lib/db/slice.ts).
    const w = sliced(tx);
    let stale = false;
    try {
      await renewLease(w, c.lease, deps.clock.now());
      // Checked under the write lock: a directory change either committed before (seen here)
      // or commits after this page (and its rematch then sees this page's rows).
      if ((await directoryVersion(w)) !== c.directoryVersion) {
        stale = true;
      } else {
        const r = await storeIsolated(w, c, fetched);
        await recordMessageFailures(w, c.account.id, c.lease.runId, c.now, c.pageFailures, fetched.map((m) => m.parsed.gmailId));
        c.failures.push(...c.pageFailures);
        await checkpoint(w);
        // Raw bytes spent on this page's fetches count against the mailbox's day with the page.
        await c.budget.save(w);
        // The page's rows now name its files: their claims can go with the same commit.
        await releaseBlobClaims(w, [runClaimId(c.lease.runId)]);
        // The page's emails are stored with whatever files came: other mailboxes see that.
        await releaseContentClaims(w, c.lease.runId, fetched.map((m) => m.parsed.dedupKey), deps.clock.now());
        await updateRun(w, c.lease.runId, { ...c.totals(), messages_stored: c.stored + r.stored, attachments_saved: c.filesSaved + r.filesSaved });
        await tx.commit();
        c.stored += r.stored;
        c.filesSaved += r.filesSaved;
        c.pageFailures = [];
      }
    } catch (err) {
      await tx.rollback().catch(() => undefined);
      throw err;
    } finally {
      if (stale) await tx.rollback().catch(() => undefined);
      tx.close();
    }
    if (!stale) break;
    fetched = await rematchFetched(c, fetched);
  }
  c.page++;
  await c.hooks.onPageCommitted?.({ kind: c.kind, page: c.page });
}

/**
 * Store the page; if that fails, store it again one message at a time, each in its own
 * savepoint, and record the ones that fail. A failure outside a message (the checkpoint, the
 * database itself) still rolls the whole page back.
 */
async function storeIsolated(tx: Transaction, c: Ctx, fetched: ProcessedMessage[]): Promise<StoreResult> {
  const ctx = { accountId: c.account.id, now: c.now, maxAttachmentBytes: c.deps.config.gmail.maxAttachmentBytes };
  await tx.execute('SAVEPOINT page');
  try {
    const r = await storeMessages(tx, ctx, fetched);
    await tx.execute('RELEASE page');
    return r;
  } catch (err) {
    await tx.execute('ROLLBACK TO page');
    await tx.execute('RELEASE page');
    if (fetched.length <= 1 && !isMessageError(err)) throw err;
  }
  const total: StoreResult = { stored: 0, newlyMatchedEmailIds: [], threads: new Set(), filesSaved: 0 };
  for (const m of fetched) {
    await tx.execute('SAVEPOINT message');
    try {
      const r = await storeMessages(tx, ctx, [m]);
      await tx.execute('RELEASE message');
      total.stored += r.stored;
      total.filesSaved += r.filesSaved;
      total.newlyMatchedEmailIds.push(...r.newlyMatchedEmailIds);
      for (const t of r.threads) total.threads.add(t);
    } catch (err) {
      await tx.execute('ROLLBACK TO message');
      await tx.execute('RELEASE message');
      if (!isMessageError(err)) throw err;
      c.pageFailures.push({ gmailId: m.parsed.gmailId, reason: `cannot be stored: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300) });
    }
  }
  return total;
}

/** Errors that belong to one message's content, not to the database (which would fail every message). */
function isMessageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CORRUPT|READONLY|CANTOPEN|NOMEM|INTERRUPT)/.test(code)) return false;
  return true;
}

/** The directory changed while the page was fetched: match again; fetch anew mail that became matched. */
async function rematchFetched(c: Ctx, fetched: ProcessedMessage[]): Promise<ProcessedMessage[]> {
  const { deps } = c;
  c.directoryVersion = await directoryVersion(deps.db);
  c.matcher = new Matcher(await loadDirectory(deps.db, deps.config.gmail.workspaceDomains));
  deps.log.info({ event: 'sync.directory_reloaded', account: c.account.email, version: c.directoryVersion }, 'the directory changed during the sync; matching the page again');
  const out: ProcessedMessage[] = [];
  const again: PlanItem[] = [];
  for (const m of fetched) {
    const links = c.matcher.match(participantsOf(m.parsed));
    if (links.length && !m.links.length) {
      again.push({ id: m.parsed.gmailId, threadId: m.parsed.gmailThreadId }); // its body was dropped when it matched nothing
    } else if (!links.length) {
      const p = m.parsed;
      p.bodyText = null;
      p.bodyHtml = null;
      p.snippet = null;
      p.attachments = [];
      p.pendingBodyParts = [];
      out.push({ parsed: p, links });
    } else {
      out.push({ parsed: m.parsed, links });
    }
  }
  out.push(...(await c.historyFetch.fetch(again.map((m) => ({ id: m.id, threadId: m.threadId })))).fetched);
  return out;
}
