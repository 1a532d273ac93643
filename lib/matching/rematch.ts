// Rematch: stored mail against the directory as it is now. Links are recomputed from each
// email's stored participants (no Gmail call), a page of emails per write transaction; mail
// that becomes matched gets the body and attachments sync withheld, fetched again through a
// mailbox that holds it; mail that stops matching loses its bodies and attachment rows, and
// a file goes once no row references its hash. Directory edits queue the addresses and
// domains they touched (email_rematch_queue); drainRematchQueue rematches just the mail that
// has participants there, and runs every minute from the scheduler and after each syncAll.
// Its runs are written through lib/capture/runs.ts, the only writer of the run ledger.
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Transaction } from '@libsql/client';
import type { AccountRow } from '../capture/accounts.js';
import { attachmentsChanged, emailsChanged } from '../capture/changes.js';
import { recordAudit } from '../audit/audit.js';
import { domainAndParents, foldAddress, foldDomain, normalizeAddress, normalizeDomain } from '../mail/address.js';
import { downloadPendingAttachments } from '../capture/attachments.js';
import { claimAndStoreBlob, deleteUnreferencedBlobs, releaseBlobClaims, runClaimId } from '../capture/blobs.js';
import { all, run, writeTx, type Executor } from '../db/client.js';
import type { Deps } from '../core/deps.js';
import { GmailStop, type GmailApi } from '../gmail/types.js';
import { Matcher, loadDirectory, type MatchLink } from './matcher.js';
import type { ParsedMessage } from '../mail/types.js';
import { closeRun, openRun, updateRun } from '../capture/runs.js';
import { recordAttachments, type SavedFile } from '../capture/store.js';
import { DownloadBudget, fetchWithheld as fetchWithheldContent } from '../capture/planner.js';
import { openGmail } from '../capture/syncRunner.js';

const PAGE_SIZE = 1000;
const FETCH_CHUNK = 50;
const IN_CHUNK = 500;

interface RematchScope {
  /** Only emails sent at or after this instant (ISO 8601). */
  since?: string;
  /** Only these emails (the queue's affected mail). */
  emailIds?: number[];
  /** Recompute links and withdraw what no longer matches, but fetch nothing (the queue's drain does). */
  withdrawOnly?: boolean;
}

interface RematchResult {
  messages_seen: number;
  links_added: number;
  links_removed: number;
  newly_matched: number;
  unmatched: number;
  bodies_fetched: number;
  bodies_failed: number;
  attachments_saved: number;
  attachments_purged: number;
  files_deleted: number;
  quota_units: number;
}

const emptyResult = (): RematchResult => ({
  messages_seen: 0,
  links_added: 0,
  links_removed: 0,
  newly_matched: 0,
  unmatched: 0,
  bodies_fetched: 0,
  bodies_failed: 0,
  attachments_saved: 0,
  attachments_purged: 0,
  files_deleted: 0,
  quota_units: 0,
});

const marks = (n: number): string => Array.from({ length: n }, () => '?').join(',');

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

const linkKey = (l: { investor_id: number | null; contact_id: number | null; match_kind: string; address: string }): string =>
  `${l.investor_id ?? ''}|${l.contact_id ?? ''}|${l.match_kind}|${l.address}`;

interface EmailRow {
  id: number;
  is_matched: number;
  /** No snippet stored: the body was withheld (or never fetched). */
  withheld: number;
}

interface PageOutcome {
  lastId: number;
  toFetch: number[];
}

/**
 * Recompute links for the emails in scope, then fetch what newly matched mail lacks.
 * `runId` is the rematch run the work is counted on.
 */
export async function rematchStored(deps: Deps, runId: number, scope: RematchScope = {}): Promise<RematchResult> {
  const result = emptyResult();
  const matcher = new Matcher(await loadDirectory(deps.db, deps.config.gmail.workspaceDomains));
  const log = deps.log.child({ run_id: runId });
  const toFetch: number[] = [];

  const listed = scope.emailIds ? [...new Set(scope.emailIds)].sort((a, b) => a - b) : null;
  let cursor = 0;
  let listPos = 0;
  for (;;) {
    let ids: number[] | null = null;
    if (listed) {
      if (listPos >= listed.length) break;
      ids = listed.slice(listPos, listPos + PAGE_SIZE);
      listPos += ids.length;
    }
    const page = await rematchPage(deps, log, matcher, { afterId: cursor, ids, since: scope.since }, result);
    if (!page) break;
    cursor = page.lastId;
    toFetch.push(...page.toFetch);
    await updateRun(deps.db, runId, { messages_seen: result.messages_seen });
    // A page is all database work, promise continuations that never give the event loop a
    // turn: without one here a full rematch would hold off /healthz and every request until
    // it ends, and the driver's statements (freed by finalizers that run on a later turn)
    // would pile up in native memory.
    await yieldTurn();
  }

  if (toFetch.length && !scope.withdrawOnly) await fetchWithheld(deps, runId, toFetch, result);
  log.info(
    {
      event: 'rematch.done',
      seen: result.messages_seen,
      links_added: result.links_added,
      links_removed: result.links_removed,
      newly_matched: result.newly_matched,
      unmatched: result.unmatched,
      bodies_fetched: result.bodies_fetched,
      bodies_failed: result.bodies_failed,
      attachments_saved: result.attachments_saved,
    },
    'rematch finished',
  );
  return result;
}

/** One page in one write transaction: read, compare, write. Null when nothing is left. */
async function rematchPage(
  deps: Deps,
  log: Deps['log'],
  matcher: Matcher,
  where: { afterId: number; ids: number[] | null; since?: string },
  result: RematchResult,
): Promise<PageOutcome | null> {
  const now = new Date(deps.clock.now()).toISOString();
  const tx = await deps.db.transaction('write');
  let shas: string[] = [];
  let purged: number[] = [];
  let attachmentsPurged = 0;
  let outcome: PageOutcome | null = null;
  try {
    let emails: EmailRow[];
    if (where.ids) {
      emails = await all<EmailRow>(tx, `SELECT id, is_matched, snippet IS NULL AS withheld FROM emails WHERE id IN (${marks(where.ids.length)}) ORDER BY id`, where.ids);
    } else if (where.since) {
      emails = await all<EmailRow>(
        tx,
        'SELECT id, is_matched, snippet IS NULL AS withheld FROM emails WHERE id > ? AND sent_at >= ? ORDER BY id LIMIT ?',
        [where.afterId, where.since, PAGE_SIZE],
      );
    } else {
      emails = await all<EmailRow>(tx, 'SELECT id, is_matched, snippet IS NULL AS withheld FROM emails WHERE id > ? ORDER BY id LIMIT ?', [where.afterId, PAGE_SIZE]);
    }
    if (!emails.length) {
      await tx.commit();
      // A listed page whose emails were all deleted meanwhile is not the end of the list.
      return where.ids ? { lastId: where.afterId, toFetch: [] } : null;
    }
    const pageIds = emails.map((e) => e.id);
    const lo = pageIds[0]!;
    const hi = pageIds[pageIds.length - 1]!;
    // Full pages are contiguous id ranges: one range scan each. Filtered pages name their ids.
    const contiguous = !where.ids && !where.since;
    const filter = contiguous ? 'email_id BETWEEN ? AND ?' : `email_id IN (${marks(pageIds.length)})`;
    const filterArgs = contiguous ? [lo, hi] : pageIds;
    // Links before participants: a copy stored between the two reads can only add
    // participants, so links are never judged against a list that lacks their address.
    const links = await all<{ id: number; email_id: number; investor_id: number | null; contact_id: number | null; match_kind: string; address: string }>(
      tx,
      `SELECT id, email_id, investor_id, contact_id, match_kind, address FROM email_investor_links WHERE ${filter}`,
      filterArgs,
    );
    const participants = await all<{ email_id: number; address: string }>(tx, `SELECT email_id, address FROM email_participants WHERE ${filter}`, filterArgs);

    const byEmail = new Map<number, { address: string }[]>();
    for (const p of participants) {
      const list = byEmail.get(p.email_id);
      if (list) list.push(p);
      else byEmail.set(p.email_id, [p]);
    }
    const linksByEmail = new Map<number, Map<string, number>>();
    for (const l of links) {
      let m = linksByEmail.get(l.email_id);
      if (!m) linksByEmail.set(l.email_id, (m = new Map()));
      m.set(linkKey(l), l.id);
    }

    const removeLinkIds: number[] = [];
    const addLinks: { emailId: number; links: MatchLink[] }[] = [];
    const nowMatched: number[] = [];
    const purge: number[] = [];
    const toFetch: number[] = [];
    for (const e of emails) {
      const desired = matcher.match(byEmail.get(e.id) ?? []);
      const have = linksByEmail.get(e.id) ?? new Map<string, number>();
      const desiredKeys = new Set<string>();
      const missing: MatchLink[] = [];
      for (const l of desired) {
        const k = linkKey(l);
        desiredKeys.add(k);
        if (!have.has(k)) missing.push(l);
      }
      for (const [k, id] of have) if (!desiredKeys.has(k)) removeLinkIds.push(id);
      if (missing.length) addLinks.push({ emailId: e.id, links: missing });
      const matched = desired.length > 0;
      if (matched) {
        if (e.is_matched === 0) nowMatched.push(e.id);
        if (e.is_matched === 0 || e.withheld === 1) toFetch.push(e.id);
      } else if (e.is_matched === 1 || e.withheld === 0) {
        purge.push(e.id);
      }
    }

    for (const c of chunks(removeLinkIds, IN_CHUNK)) await run(tx, `DELETE FROM email_investor_links WHERE id IN (${marks(c.length)})`, c);
    // Many rows per statement: a first rematch after a large import adds links to most mail.
    const rows = addLinks.flatMap((a) => a.links.map((l) => [a.emailId, l.investor_id, l.contact_id, l.match_kind, l.confidence, l.address, now]));
    for (const c of chunks(rows, IN_CHUNK)) {
      await run(
        tx,
        `INSERT INTO email_investor_links (email_id, investor_id, contact_id, match_kind, confidence, address, created_at)
         VALUES ${c.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(',')} ON CONFLICT DO NOTHING`,
        c.flat(),
      );
    }
    for (const c of chunks(nowMatched, IN_CHUNK)) await run(tx, `UPDATE emails SET is_matched = 1, updated_at = ? WHERE id IN (${marks(c.length)})`, [now, ...c]);
    for (const c of chunks(purge, IN_CHUNK)) {
      const rows = await all<{ sha256: string | null }>(tx, `SELECT sha256 FROM email_attachments WHERE email_id IN (${marks(c.length)})`, c);
      attachmentsPurged += rows.length;
      shas.push(...rows.map((r) => r.sha256).filter((s): s is string => !!s));
      await run(tx, `DELETE FROM email_attachments WHERE email_id IN (${marks(c.length)})`, c);
      await run(tx, `UPDATE emails SET is_matched = 0, body_text = NULL, body_html = NULL, snippet = NULL, updated_at = ? WHERE id IN (${marks(c.length)})`, [now, ...c]);
    }
    const removed = new Set(removeLinkIds);
    const removedFrom = links.filter((l) => removed.has(l.id)).map((l) => l.email_id);
    await emailsChanged(tx, [...removedFrom, ...addLinks.map((a) => a.emailId), ...nowMatched, ...purge], { now });
    if (purge.length) {
      await recordAudit(tx, { at: now, action: 'rematch.purge', target: null, detail: { emails: purge.length, attachments: attachmentsPurged, email_ids: purge.slice(0, 1000) } });
    }
    await tx.commit();

    result.messages_seen += emails.length;
    result.links_removed += removeLinkIds.length;
    result.links_added += addLinks.reduce((n, a) => n + a.links.length, 0);
    result.newly_matched += nowMatched.length;
    result.unmatched += purge.length;
    result.attachments_purged += attachmentsPurged;
    purged = purge;
    outcome = { lastId: hi, toFetch };
  } catch (err) {
    if (!tx.closed) await tx.rollback().catch(() => undefined);
    shas = [];
    throw err;
  } finally {
    tx.close();
  }
  // Files go only after the rows that named them are gone for good (committed).
  const filesDeleted = shas.length ? (await deleteUnreferencedBlobs(deps.db, deps.config.dataDir, shas)).length : 0;
  result.files_deleted += filesDeleted;
  // One line per page, written as soon as the page is settled: the record of what was
  // withdrawn survives a rematch that stops later.
  if (purged.length) {
    log.info(
      { event: 'rematch.purged', emails: purged.length, attachments: attachmentsPurged, files_deleted: filesDeleted, email_ids: purged },
      'bodies and attachments of mail that no longer matches were purged',
    );
  }
  return outcome;
}

interface Copy {
  email_id: number;
  account_id: number;
  gmail_message_id: string;
  size_estimate: number | null;
}

/** Each mailbox's raw download budget for today, loaded once per run. */
class Budgets {
  readonly loaded = new Map<number, DownloadBudget>();
  private readonly loading = new Map<number, Promise<DownloadBudget>>();
  constructor(private readonly deps: Deps) {}

  get(accountId: number): Promise<DownloadBudget> {
    let p = this.loading.get(accountId);
    if (!p) {
      p = DownloadBudget.load(this.deps.db, accountId, this.deps.clock.now(), this.deps.config.gmail.dailyDownloadBytes).then((b) => {
        this.loaded.set(accountId, b);
        return b;
      });
      this.loading.set(accountId, p);
    }
    return p;
  }
}

type AccountForGmail = Pick<AccountRow, 'id' | 'email' | 'auth_method' | 'learned_units_sec'>;

/** Opens each mailbox's client once per run; a mailbox that cannot be opened or stops is skipped after. */
class Clients {
  private readonly open = new Map<number, Promise<GmailApi | null>>();
  private readonly dead = new Set<number>();
  readonly used = new Map<number, GmailApi>();

  constructor(
    private readonly deps: Deps,
    private readonly accounts: Map<number, AccountForGmail>,
  ) {}

  get(accountId: number): Promise<GmailApi | null> {
    if (this.dead.has(accountId)) return Promise.resolve(null);
    let p = this.open.get(accountId);
    if (!p) {
      const acc = this.accounts.get(accountId);
      p = acc
        ? openGmail(this.deps, acc).then(
            (g) => {
              this.used.set(accountId, g);
              return g;
            },
            (err) => {
              this.kill(accountId, err);
              return null;
            },
          )
        : Promise.resolve(null);
      this.open.set(accountId, p);
    }
    return p;
  }

  kill(accountId: number, err: unknown): void {
    if (this.dead.has(accountId)) return;
    this.dead.add(accountId);
    this.deps.log.warn(
      { event: 'rematch.mailbox_unavailable', account: this.accounts.get(accountId)?.email, error: err instanceof Error ? err.message : String(err) },
      'a mailbox could not be used to fetch withheld bodies; other copies are tried',
    );
  }
}

/** Fetch bodies (and record attachments) of matched emails sync withheld, then their files. */
async function fetchWithheld(deps: Deps, runId: number, emailIds: number[], result: RematchResult): Promise<void> {
  const log = deps.log.child({ run_id: runId });
  if (!deps.config.gmail.enabled) {
    log.warn({ event: 'rematch.bodies_deferred', emails: emailIds.length }, 'Gmail integration is disabled: newly matched mail gets its bodies on a later rematch');
    return;
  }
  const accounts = new Map(
    (await all<AccountForGmail>(deps.db, 'SELECT id, email, auth_method, learned_units_sec FROM email_accounts WHERE unenrolled_at IS NULL')).map((a) => [a.id, a]),
  );
  const clients = new Clients(deps, accounts);
  const budgets = new Budgets(deps);
  const fetchedVia = new Map<number, number[]>();
  // Files that come with a raw fetch are claimed until the rows naming them commit, so a purge
  // meanwhile cannot delete them.
  const keep = (bytes: Buffer) => claimAndStoreBlob(deps.db, deps.config.dataDir, bytes, runClaimId(runId), `run:${runId}`, new Date(deps.clock.now()).toISOString());

  for (const chunk of chunks(emailIds, FETCH_CHUNK)) {
    // Healthy mailboxes first; a mailbox waiting for the admin is a last resort.
    const copies = await all<Copy>(
      deps.db,
      `SELECT m.email_id, m.account_id, m.gmail_message_id, e.size_estimate FROM email_mailbox_messages m JOIN email_accounts a ON a.id = m.account_id
         JOIN emails e ON e.id = m.email_id
        WHERE m.email_id IN (${marks(chunk.length)}) AND m.deleted_at IS NULL AND a.unenrolled_at IS NULL
        ORDER BY m.email_id, a.state IN ('auth_error', 'needs_consent'), a.sync_enabled DESC, m.account_id`,
      chunk,
    );
    const byEmail = new Map<number, Copy[]>();
    for (const c of copies) {
      const list = byEmail.get(c.email_id) ?? [];
      list.push(c);
      byEmail.set(c.email_id, list);
    }
    const fetched = await Promise.all(
      chunk.map(async (emailId): Promise<{ emailId: number; accountId: number; parsed: ParsedMessage; files: Map<string, SavedFile> } | null> => {
        for (const copy of byEmail.get(emailId) ?? []) {
          const gmail = await clients.get(copy.account_id);
          if (!gmail) continue;
          try {
            const budget = await budgets.get(copy.account_id);
            const got = await fetchWithheldContent(gmail, copy.gmail_message_id, { sizeEstimate: copy.size_estimate, config: deps.config, budget, log, keep });
            if (got) return { emailId, accountId: copy.account_id, ...got };
          } catch (err) {
            if (err instanceof GmailStop) clients.kill(copy.account_id, err);
            else log.warn({ event: 'rematch.body_fetch_failed', email_id: emailId, error: err instanceof Error ? err.message : String(err) }, 'could not fetch a withheld body');
          }
        }
        return null;
      }),
    );
    const got = fetched.filter((f): f is NonNullable<typeof f> => f !== null);
    result.bodies_failed += chunk.length - got.length;
    if (!got.length) continue;
    const { ids: stored, files } = await storeBodies(deps, got, [...budgets.loaded.values()]);
    await releaseBlobClaims(deps.db, [runClaimId(runId)]);
    result.attachments_saved += files;
    result.bodies_fetched += stored.length;
    for (const f of got) {
      if (!stored.includes(f.emailId)) continue;
      const list = fetchedVia.get(f.accountId) ?? [];
      list.push(f.emailId);
      fetchedVia.set(f.accountId, list);
    }
  }

  for (const [accountId, ids] of fetchedVia) {
    const gmail = clients.used.get(accountId);
    if (!gmail) continue;
    try {
      result.attachments_saved += (await downloadPendingAttachments(deps, gmail, { accountId, runId, emailIds: ids })).saved;
    } catch (err) {
      clients.kill(accountId, err);
    }
  }
  for (const g of clients.used.values()) result.quota_units += g.stats.quotaUnits;
}

/** Bodies and attachment rows in one transaction, only for emails still matched. Returns the ids stored. */
async function storeBodies(deps: Deps, got: { emailId: number; parsed: ParsedMessage; files?: Map<string, SavedFile> }[], budgets: DownloadBudget[] = []): Promise<{ ids: number[]; files: number }> {
  const now = new Date(deps.clock.now()).toISOString();
  const ctx = { now, maxAttachmentBytes: deps.config.gmail.maxAttachmentBytes };
  const stored: number[] = [];
  const saved: number[] = [];
  await writeTx(deps.db, async (tx) => {
    for (const { emailId, parsed, files } of got) {
      // An empty snippet marks the email as fetched even when Gmail has no text for it.
      const r = await run(tx, 'UPDATE emails SET body_text = ?, body_html = ?, snippet = ?, updated_at = ? WHERE id = ? AND is_matched = 1', [
        parsed.bodyText,
        parsed.bodyHtml,
        parsed.snippet ?? '',
        now,
        emailId,
      ]);
      if (r.rowsAffected === 0) continue;
      saved.push(...(await recordAttachments(tx, emailId, parsed, ctx, files)));
      stored.push(emailId);
    }
    await emailsChanged(tx, stored, { now });
    await attachmentsChanged(tx, saved, { now });
    for (const b of budgets) await b.save(tx);
  });
  return { ids: stored, files: saved.length };
}

// ---------------------------------------------------------------------------------------
// The queue

/**
 * Emails with a participant at a queued address (compared folded: case, Gmail dots, +tags) or
 * at a queued domain or one of its subdomains.
 */
export async function affectedEmailIds(db: Executor, queued: { addresses: Iterable<string>; domains: Iterable<string> }): Promise<number[]> {
  const addresses = new Set<string>();
  for (const a of queued.addresses) {
    const n = normalizeAddress(a);
    if (n) addresses.add(foldAddress(n));
  }
  const domains = new Set<string>();
  for (const d of queued.domains) {
    const n = foldDomain(d);
    if (n) domains.add(n);
  }
  if (!addresses.size && !domains.size) return [];
  // Distinct addresses come from the address index alone; folding happens here, in memory.
  const distinct = await all<{ address: string }>(db, 'SELECT DISTINCT address FROM email_participants');
  const hits = distinct
    .map((r) => r.address)
    .filter((a) => {
      if (addresses.has(foldAddress(a))) return true;
      const at = a.lastIndexOf('@');
      return at > 0 && domainAndParents(a.slice(at + 1)).some((d) => domains.has(foldDomain(d)));
    });
  const ids = new Set<number>();
  for (const c of chunks(hits, IN_CHUNK)) {
    for (const r of await all<{ email_id: number }>(db, `SELECT DISTINCT email_id FROM email_participants WHERE address IN (${marks(c.length)})`, c)) {
      ids.add(r.email_id);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

export interface RematchRunSummary extends RematchResult {
  run_id: number;
  status: 'succeeded' | 'failed';
  error: string | null;
}

/**
 * Perform a rematch on an open run and close it. With `drainUpTo`, queue rows up to that id
 * are settled by this run (a full rematch covers them) and deleted once it succeeds.
 */
export async function performRematch(deps: Deps, runId: number, scope: RematchScope, drainUpTo?: number): Promise<RematchRunSummary> {
  try {
    const r = await rematchStored(deps, runId, scope);
    if (drainUpTo !== undefined) await run(deps.db, 'DELETE FROM email_rematch_queue WHERE id <= ?', [drainUpTo]);
    await closeRun(deps.db, runId, deps.clock.now(), {
      ok: true,
      totals: { messages_seen: r.messages_seen, messages_stored: r.bodies_fetched, attachments_saved: r.attachments_saved, quota_units: r.quota_units },
    });
    return { ...r, run_id: runId, status: 'succeeded', error: null };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    deps.log.error({ event: 'rematch.failed', run_id: runId, error }, 'rematch failed');
    await closeRun(deps.db, runId, deps.clock.now(), { ok: false, error });
    return { ...emptyResult(), run_id: runId, status: 'failed', error };
  }
}

/**
 * Withdraw right after a directory change commits what it stops matching (an exclusion, a
 * deleted contact or investor, an edit that removes domains or addresses): links, bodies and files go as a recorded rematch run, rather
 * than at the next drain of the queue a minute later. Nothing is fetched here; the change's
 * queue rows stay for the drain, which fetches what became matched and, should this run
 * fail, withdraws in its place. Never throws: the change itself has committed, so a failure
 * here is recorded (on its run, and logged) and answered as 'failed', not as an error.
 */
export async function withdrawNow(deps: Deps, emailIds: number[]): Promise<'succeeded' | 'failed' | 'idle'> {
  if (!emailIds.length) return 'idle';
  try {
    const runId = await openRun(deps.db, null, 'rematch', deps.clock.now());
    return (await performRematch(deps, runId, { emailIds, withdrawOnly: true })).status;
  } catch (err) {
    deps.log.error({ event: 'rematch.withdraw_failed', error: err instanceof Error ? err.message : String(err) }, 'withdrawing after a directory change failed; the queue drain will do it');
    return 'failed';
  }
}

/** withdrawNow for the stored mail of the addresses and domains a change touched. */
export async function withdrawTouched(deps: Deps, touched: { addresses: Iterable<string>; domains: Iterable<string> }): Promise<'succeeded' | 'failed' | 'idle'> {
  return withdrawNow(deps, await affectedEmailIds(deps.db, touched));
}

/** The newest queue row now: a rematch that starts after this covers every row up to it. */
export async function queueHighWater(db: Executor): Promise<number | undefined> {
  const rows = await all<{ id: number | null }>(db, 'SELECT max(id) AS id FROM email_rematch_queue');
  return rows[0]?.id ?? undefined;
}

interface DrainResult {
  run_id: number | null;
  queued: number;
  emails: number;
  status: 'idle' | 'succeeded' | 'failed';
  error: string | null;
}

/**
 * Rematch the mail touched by queued directory edits, then drop the rows it covered. Rows
 * that arrive meanwhile wait for the next drain; a failed drain leaves its rows for a retry.
 * No run is recorded when nothing was queued or no stored mail involves the queued values.
 */
export async function drainRematchQueue(deps: Deps): Promise<DrainResult> {
  const rows = await all<{ id: number; address: string | null; domain: string | null }>(deps.db, 'SELECT id, address, domain FROM email_rematch_queue ORDER BY id');
  if (!rows.length) return { run_id: null, queued: 0, emails: 0, status: 'idle', error: null };
  const upTo = rows[rows.length - 1]!.id;
  const ids = await affectedEmailIds(deps.db, {
    addresses: rows.map((r) => r.address).filter((a): a is string => !!a),
    domains: rows.map((r) => r.domain).filter((d): d is string => !!d),
  });
  if (!ids.length) {
    await run(deps.db, 'DELETE FROM email_rematch_queue WHERE id <= ?', [upTo]);
    return { run_id: null, queued: rows.length, emails: 0, status: 'idle', error: null };
  }
  const runId = await openRun(deps.db, null, 'rematch', deps.clock.now());
  deps.log.info({ event: 'rematch.queue_started', run_id: runId, queued: rows.length, emails: ids.length }, 'rematch of queued directory changes started');
  const r = await performRematch(deps, runId, { emailIds: ids }, upTo);
  return { run_id: runId, queued: rows.length, emails: ids.length, status: r.status, error: r.error };
}
