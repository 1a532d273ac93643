// Self-verification of one mailbox: Gmail's list of ids (messages.list, ids only, 5 units per
// 500) compared with the stored copies. What Gmail holds and the store lacks is fetched and
// stored; copies Gmail no longer holds anywhere (not even in Spam or Trash) are marked
// deleted, which also replays deletions lost when expired history forced a backfill. Runs
// under the mailbox lease, as a run of kind `verify`.
import type { AccountRow } from './accounts.js';
import { recordVerify } from './accounts.js';
import { emailsChanged } from './changes.js';
import { directoryVersion, givenUpIds, recordMessageFailures, type MessageFailure } from './failures.js';
import { finishSync, LeaseLost, closeLostRun, renewLease, type Lease } from './runs.js';
import { participantsOf, storeMessages, type ProcessedMessage } from './store.js';
import { all, run, writeTx } from '../db/client.js';
import type { Deps } from '../core/deps.js';
import { GmailStop, type GmailApi } from '../gmail/types.js';
import { decodeBodyPart, parseGmailMessage } from '../mail/mime.js';
import { loadDirectory, Matcher } from '../matching/matcher.js';

const LIST_PAGE = 500;
const FETCH_BATCH = 50;
/** Mail never captured: drafts and chats ever, spam and trash when first seen. */
const NOT_CAPTURED = ['DRAFT', 'CHAT', 'SPAM', 'TRASH'];

export interface VerifySummary {
  run_id: number;
  account: string;
  status: 'succeeded' | 'failed';
  in_gmail: number;
  stored: number;
  missing: number;
  gone: number;
  repaired: number;
  error: string | null;
}

async function listIds(gmail: GmailApi, q: string, includeSpamTrash: boolean): Promise<Set<string>> {
  const ids = new Set<string>();
  let pageToken: string | undefined;
  for (;;) {
    const page = await gmail.listMessages({ maxResults: LIST_PAGE, q, includeSpamTrash, ...(pageToken ? { pageToken } : {}) });
    for (const m of page.messages) ids.add(m.id);
    if (!page.nextPageToken) return ids;
    pageToken = page.nextPageToken;
  }
}

export async function performVerify(deps: Deps, account: AccountRow, lease: Lease, gmail: GmailApi): Promise<VerifySummary> {
  const log = deps.log.child({ account: account.email, run_id: lease.runId });
  const figures = { in_gmail: 0, stored: 0, missing: 0, gone: 0, repaired: 0 };
  const failures: MessageFailure[] = [];
  const totals = () => ({
    kind: 'verify' as const,
    messages_seen: figures.in_gmail,
    messages_stored: figures.repaired,
    missing: figures.missing,
    gone: figures.gone,
    repaired: figures.repaired,
    messages_failed: failures.length,
    quota_units: gmail.stats.quotaUnits,
    http_calls: gmail.stats.calls,
    bytes_downloaded: gmail.stats.bytes,
    ...(failures.length ? { error: `could not store ${failures.length} missing message(s): ${failures.slice(0, 5).map((f) => `${f.gmailId}: ${f.reason}`).join('; ')}`.slice(0, 1000) } : {}),
  });
  const summary = (status: 'succeeded' | 'failed', error: string | null): VerifySummary => ({ run_id: lease.runId, account: account.email, status, ...figures, error });
  log.info({ event: 'verify.started' }, 'verification started');
  try {
    const since = deps.config.gmail.backfillSince;
    const base = '-in:chats -in:drafts';
    // What a backfill would capture, and everything Gmail still holds (spam and trash too):
    // a copy is gone only when it is in neither.
    const capturable = await listIds(gmail, since ? `${base} after:${Math.floor(Date.parse(since) / 1000)}` : base, false);
    const present = await listIds(gmail, base, true);
    const storedRows = await all<{ gmail_message_id: string; email_id: number }>(
      deps.db,
      'SELECT gmail_message_id, email_id FROM email_mailbox_messages WHERE account_id = ? AND deleted_at IS NULL',
      [account.id],
    );
    const stored = new Set(storedRows.map((r) => r.gmail_message_id));
    figures.in_gmail = capturable.size;
    figures.stored = stored.size;
    const notStored = [...capturable].filter((id) => !stored.has(id));
    const givenUp = await givenUpIds(deps.db, account.id, notStored);
    const missing = notStored.filter((id) => !givenUp.has(id));
    const gone = storedRows.filter((r) => !present.has(r.gmail_message_id));
    figures.missing = missing.length;
    figures.gone = gone.length;

    let version = await directoryVersion(deps.db);
    let matcher = new Matcher(await loadDirectory(deps.db, deps.config.gmail.workspaceDomains));
    for (let i = 0; i < missing.length; i += FETCH_BATCH) {
      const ids = missing.slice(i, i + FETCH_BATCH);
      for (;;) {
        const fetched = (await Promise.all(ids.map((id) => fetchOne(gmail, matcher, id, failures)))).filter((m): m is ProcessedMessage => m !== null);
        const result = await storeBatch(deps, account, lease, fetched, version, failures);
        if (result !== 'stale') {
          figures.repaired += result;
          break;
        }
        version = await directoryVersion(deps.db);
        matcher = new Matcher(await loadDirectory(deps.db, deps.config.gmail.workspaceDomains));
      }
    }

    const now = new Date(deps.clock.now()).toISOString();
    await writeTx(deps.db, async (tx) => {
      await renewLease(tx, lease, deps.clock.now());
      for (let i = 0; i < gone.length; i += 500) {
        const chunk = gone.slice(i, i + 500);
        await run(
          tx,
          `UPDATE email_mailbox_messages SET deleted_at = ?, updated_at = ? WHERE account_id = ? AND deleted_at IS NULL AND gmail_message_id IN (${chunk.map(() => '?').join(',')})`,
          [now, now, account.id, ...chunk.map((g) => g.gmail_message_id)],
        );
      }
      await emailsChanged(tx, gone.map((g) => g.email_id), { now });
      await recordVerify(tx, account.id, { missing: figures.missing, gone: figures.gone, repaired: figures.repaired }, now);
    });
    await finishSync(deps.db, lease, deps.clock.now(), { ok: true, synced: false, totals: totals() });
    log.info({ event: 'verify.done', ...figures }, 'verification done');
    return summary('succeeded', null);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof LeaseLost) {
      await closeLostRun(deps.db, lease.runId, deps.clock.now(), totals(), message);
      return summary('failed', message);
    }
    const state = err instanceof GmailStop ? err.state : 'error';
    log.error({ event: 'verify.failed', error: message }, 'verification failed');
    await finishSync(deps.db, lease, deps.clock.now(), { ok: false, totals: totals(), state, error: message });
    return summary('failed', message);
  }
}

async function fetchOne(gmail: GmailApi, matcher: Matcher, id: string, failures: MessageFailure[]): Promise<ProcessedMessage | null> {
  const msg = await gmail.getMessage(id, 'full');
  if (!msg || (msg.labelIds ?? []).some((l) => NOT_CAPTURED.includes(l))) return null;
  let parsed;
  let links;
  try {
    parsed = parseGmailMessage(msg);
    links = matcher.match(participantsOf(parsed));
  } catch (err) {
    failures.push({ gmailId: id, reason: `cannot be parsed: ${err instanceof Error ? err.message : String(err)}` });
    return null;
  }
  if (!links.length) {
    // Unmatched bodies never leave memory.
    parsed.bodyText = null;
    parsed.bodyHtml = null;
    parsed.snippet = null;
    parsed.attachments = [];
    parsed.pendingBodyParts = [];
    return { parsed, links };
  }
  for (const part of parsed.pendingBodyParts) {
    const bytes = await gmail.getAttachment(id, part.attachmentId);
    if (!bytes) continue;
    const text = decodeBodyPart(bytes, part.charset);
    if (part.mimeType === 'text/plain' && parsed.bodyText === null) parsed.bodyText = text;
    if (part.mimeType === 'text/html' && parsed.bodyHtml === null) parsed.bodyHtml = text;
  }
  parsed.pendingBodyParts = [];
  return { parsed, links };
}

/** One batch in one transaction; a message that cannot be stored is recorded and skipped. */
async function storeBatch(deps: Deps, account: AccountRow, lease: Lease, fetched: ProcessedMessage[], version: number, failures: MessageFailure[]): Promise<number | 'stale'> {
  const now = new Date(deps.clock.now()).toISOString();
  const ctx = { accountId: account.id, now, maxAttachmentBytes: deps.config.gmail.maxAttachmentBytes };
  const tx = await deps.db.transaction('write');
  try {
    await renewLease(tx, lease, deps.clock.now());
    if ((await directoryVersion(tx)) !== version) {
      await tx.rollback();
      return 'stale';
    }
    let stored = 0;
    const failed: MessageFailure[] = [];
    for (const m of fetched) {
      await tx.execute('SAVEPOINT message');
      try {
        stored += (await storeMessages(tx, ctx, [m])).stored;
        await tx.execute('RELEASE message');
      } catch (err) {
        await tx.execute('ROLLBACK TO message');
        await tx.execute('RELEASE message');
        failed.push({ gmailId: m.parsed.gmailId, reason: `cannot be stored: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300) });
      }
    }
    await recordMessageFailures(tx, account.id, lease.runId, now, failed, fetched.map((m) => m.parsed.gmailId));
    await tx.commit();
    failures.push(...failed);
    return stored;
  } catch (err) {
    if (!tx.closed) await tx.rollback().catch(() => undefined);
    throw err;
  } finally {
    tx.close();
  }
}
