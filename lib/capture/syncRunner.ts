// Starting syncs: the lease is taken (and the run row exists) before anyone is told a
// run started; the sync itself then runs in the caller's task or in the background. After
// every run the leftovers of interrupted work are swept (sweepAfterRun).
import type { AccountRow } from './accounts.js';
import { scheduledSync } from './accounts.js';
import type { Deps } from '../core/deps.js';
import { GmailStop, type GmailApi } from '../gmail/types.js';
import { beginSync, finishSync, renewLease, sweepDeadRuns, type Lease } from './runs.js';
import { decideKind, performSync, type SyncHooks, type SyncSummary } from './sync.js';
import { downloadPendingAttachments } from './attachments.js';
import { sweepBlobs } from './blobs.js';
import { refreshTokenFor } from '../auth/consent.js';

export interface StartedRun {
  id: number;
  account: string;
  already_running: boolean;
}

type Begun = { run: StartedRun; go?: () => Promise<SyncSummary> };

/** Temp files younger than this may belong to a download still in flight in some process. */
export const TEMP_FILE_GRACE_MS = 60 * 60_000;

export const defaultHooks: SyncHooks = {
  // Downloads can outlast the lease of a long page; each written batch extends it.
  afterSync: async (deps, gmail, account, lease) =>
    (await downloadPendingAttachments(deps, gmail, { accountId: account.id, runId: lease.runId, afterBatch: () => renewLease(deps.db, lease, deps.clock.now()) })).saved,
};

/** Take the lease and open the run; `go` performs the sync (absent when already running). */
export async function beginAccountSync(deps: Deps, account: AccountRow, hooks: SyncHooks = defaultHooks): Promise<Begun> {
  const begun = await beginSync(deps, account.id, decideKind(deps, account));
  if (!begun.started) return { run: { id: begun.runId, account: account.email, already_running: true } };
  const lease = begun.lease;
  return {
    run: { id: lease.runId, account: account.email, already_running: false },
    go: async () => {
      try {
        return await runWithGmail(deps, account, lease, hooks);
      } finally {
        await sweepAfterRun(deps);
      }
    },
  };
}

/** A paced Gmail client for an account; OAuth accounts need their owner's stored consent. */
export async function openGmail(deps: Deps, account: Pick<AccountRow, 'id' | 'email' | 'auth_method' | 'learned_units_sec'>): Promise<GmailApi> {
  let refreshToken: string | null = null;
  if (account.auth_method === 'oauth') {
    refreshToken = await refreshTokenFor(deps.db, deps, account.id);
    if (!refreshToken) {
      throw new GmailStop('needs_consent', `no working consent for ${account.email}: the mailbox owner must consent (GET /api/email/oauth/start?email=${account.email})`);
    }
  }
  return deps.gmail({ id: account.id, email: account.email, auth_method: account.auth_method, learned_units_sec: account.learned_units_sec, refresh_token: refreshToken });
}

async function runWithGmail(deps: Deps, account: AccountRow, lease: Lease, hooks: SyncHooks): Promise<SyncSummary> {
  let gmail: GmailApi;
  try {
    gmail = await openGmail(deps, account);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    const state = err instanceof GmailStop ? err.state : 'error';
    await finishSync(deps.db, lease, deps.clock.now(), { ok: false, totals: {}, state, error });
    return { run_id: lease.runId, account: account.email, kind: decideKind(deps, account), status: 'failed', messages_seen: 0, messages_stored: 0, quota_units: 0, error };
  }
  return performSync(deps, account, lease, gmail, hooks);
}

/**
 * Leftovers of interrupted work, swept after each run: runs a dead holder left `running`,
 * temp files of downloads that never finished (older than the grace), file claims older than
 * a claim can live, and stored files no row references. Never fails the run.
 */
export async function sweepAfterRun(deps: Deps): Promise<void> {
  try {
    const now = deps.clock.now();
    const closed = await sweepDeadRuns(deps);
    const swept = await sweepBlobs(deps.db, deps.config.dataDir, {
      nowMs: now,
      tempOlderThanMs: TEMP_FILE_GRACE_MS,
      claimsOlderThanIso: new Date(now - TEMP_FILE_GRACE_MS).toISOString(),
    });
    if (closed || swept.tempFiles || swept.unreferenced || swept.staleClaims) {
      deps.log.info({ event: 'sweep.done', runs_closed: closed, temp_files: swept.tempFiles, files_unreferenced: swept.unreferenced, stale_claims: swept.staleClaims }, 'leftovers swept');
    }
  } catch (err) {
    deps.log.warn({ event: 'sweep.failed', error: err instanceof Error ? err.message : String(err) }, 'sweeping leftovers failed');
  }
}

/** Start (in the background) a sync of every mailbox the scheduler would sync among `ids`. */
export async function resumeSyncs(deps: Deps, accounts: AccountRow[]): Promise<StartedRun[]> {
  const started: StartedRun[] = [];
  for (const a of accounts.filter(scheduledSync)) {
    try {
      const begun = await beginAccountSync(deps, a);
      started.push(begun.run);
      const go = begun.go;
      if (go) deps.background.run(go, (err) => deps.log.error({ event: 'sync.crashed', account: a.email, error: String(err) }, 'sync crashed'));
    } catch (err) {
      deps.log.error({ event: 'sync.start_failed', account: a.email, error: String(err) }, 'could not resume a sync');
    }
  }
  return started;
}
