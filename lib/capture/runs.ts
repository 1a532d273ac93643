// The run ledger, and beginning and ending a leased sync. This file is the only writer of
// `email_sync_runs`; the lease columns of the account are written through accounts.ts.
//
// A lease names its holder (the process's instance id) and is renewed by a heartbeat timer
// in that process and by every committed page; a holder that dies stops renewing it, and
// within LEASE_MS the next caller takes it over and closes the run it left `running` as
// `failed` with error `interrupted`. A process on an embedded database takes over every
// lease not its own at its start (see takeOverAtStart).
import type { Db, Executor } from '../db/client.js';
import { all, one, run, writeTx } from '../db/client.js';
import type { Deps } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import {
  assertSyncable,
  instanceOf,
  leaseLive,
  releaseLease,
  settleExpiredLeases,
  takeLease,
  takeOverForeignLeases,
  type AccountRow,
  type Lease,
  type LeaseEnd,
} from './accounts.js';

export { LEASE_MS, LeaseLost, renewLease, type Lease } from './accounts.js';

export type RunKind = 'backfill' | 'incremental' | 'rematch' | 'attachments' | 'verify';

type BeginResult = { started: true; lease: Lease } | { started: false; runId: number };

const INTERRUPTED = 'interrupted';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Take the mailbox's lease and open its run row, in one write transaction. The mailbox must
 * still be enrolled and not paused when the transaction runs, so an unenrolment or a pause
 * that commits first wins and no run starts.
 */
export async function beginSync(deps: Pick<Deps, 'db' | 'clock' | 'instanceId'>, accountId: number, kind: RunKind): Promise<BeginResult> {
  const now = deps.clock.now();
  return writeTx(deps.db, async (tx) => {
    const acc = await one<AccountRow & { run_status: string | null }>(
      tx,
      'SELECT a.*, r.status AS run_status FROM email_accounts a LEFT JOIN email_sync_runs r ON r.id = a.lease_run_id WHERE a.id = ?',
      [accountId],
    );
    if (!acc) throw new AppError('NOT_FOUND', `no mailbox with id ${accountId}`);
    assertSyncable(acc);
    if (leaseLive(acc, now, acc.run_status === 'running')) {
      return { started: false, runId: acc.lease_run_id! };
    }
    if (acc.lease_run_id) await interruptRuns(tx, [acc.lease_run_id], now);
    const runId = await openRun(tx, accountId, kind, now);
    const lease: Lease = { accountId, owner: instanceOf(deps), runId };
    await takeLease(tx, lease, now);
    return { started: true, lease };
  });
}

export interface RunTotals {
  kind?: RunKind;
  messages_seen?: number;
  messages_stored?: number;
  attachments_saved?: number;
  quota_units?: number;
  http_calls?: number;
  bytes_downloaded?: number;
  messages_failed?: number;
  missing?: number;
  gone?: number;
  repaired?: number;
  /** A note on a run that succeeded (messages skipped); a failed run's error comes from its end. */
  error?: string | null;
}

export async function updateRun(db: Executor, runId: number, t: RunTotals): Promise<void> {
  await run(
    db,
    `UPDATE email_sync_runs SET
       kind = coalesce(?, kind),
       messages_seen = coalesce(?, messages_seen),
       messages_stored = coalesce(?, messages_stored),
       attachments_saved = coalesce(?, attachments_saved),
       quota_units = coalesce(?, quota_units),
       http_calls = coalesce(?, http_calls),
       bytes_downloaded = coalesce(?, bytes_downloaded),
       messages_failed = coalesce(?, messages_failed),
       missing = coalesce(?, missing),
       gone = coalesce(?, gone),
       repaired = coalesce(?, repaired),
       error = coalesce(?, error)
     WHERE id = ?`,
    [
      t.kind ?? null,
      t.messages_seen ?? null,
      t.messages_stored ?? null,
      t.attachments_saved ?? null,
      t.quota_units ?? null,
      t.http_calls ?? null,
      t.bytes_downloaded ?? null,
      t.messages_failed ?? null,
      t.missing ?? null,
      t.gone ?? null,
      t.repaired ?? null,
      t.error ?? null,
      runId,
    ],
  );
}

/** Attachments saved add up: a rematch downloads through several mailboxes into one run. */
export async function addAttachmentsSaved(db: Executor, runId: number, n: number): Promise<void> {
  if (n) await run(db, 'UPDATE email_sync_runs SET attachments_saved = attachments_saved + ? WHERE id = ?', [n, runId]);
}

/** Close the run and release the lease (only if still ours), with the account's new state. */
export async function finishSync(db: Db, lease: Lease, nowMs: number, outcome: LeaseEnd & { totals: RunTotals }): Promise<void> {
  await writeTx(db, async (tx) => {
    await updateRun(tx, lease.runId, outcome.totals);
    await run(tx, "UPDATE email_sync_runs SET status = ?, error = CASE WHEN ? THEN error ELSE ? END, finished_at = ? WHERE id = ? AND status = 'running'", [
      outcome.ok ? 'succeeded' : 'failed',
      outcome.ok,
      outcome.ok ? null : outcome.error,
      iso(nowMs),
      lease.runId,
    ]);
    await releaseLease(tx, lease, nowMs, outcome);
  });
}

/** A run whose lease was taken over: closed failed, the account left to its new holder. */
export async function closeLostRun(db: Executor, runId: number, nowMs: number, totals: RunTotals, error: string): Promise<void> {
  await updateRun(db, runId, totals);
  await run(db, "UPDATE email_sync_runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'running'", [error, iso(nowMs), runId]);
}

/** A run not tied to a mailbox lease (rematch, attachments on their own). */
export async function openRun(db: Executor, accountId: number | null, kind: RunKind, nowMs: number): Promise<number> {
  const r = await one<{ id: number }>(db, "INSERT INTO email_sync_runs (account_id, kind, status, started_at) VALUES (?, ?, 'running', ?) RETURNING id", [
    accountId,
    kind,
    iso(nowMs),
  ]);
  return r!.id;
}

export async function closeRun(db: Executor, runId: number, nowMs: number, outcome: { ok: boolean; error?: string; totals?: RunTotals }): Promise<void> {
  if (outcome.totals) await updateRun(db, runId, outcome.totals);
  await run(db, 'UPDATE email_sync_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?', [
    outcome.ok ? 'succeeded' : 'failed',
    outcome.ok ? null : (outcome.error ?? 'failed'),
    iso(nowMs),
    runId,
  ]);
}

async function interruptRuns(tx: Executor, ids: number[], nowMs: number): Promise<void> {
  for (const id of ids) {
    await run(tx, "UPDATE email_sync_runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'running'", [INTERRUPTED, iso(nowMs), id]);
  }
}

/**
 * At the start of a process that is its database's only writer (embedded `file:` database):
 * every lease held by someone else ends now, and every run still `running` was left by a
 * process that is gone; they are closed `failed`/`interrupted`. Returns the accounts whose
 * sync was interrupted, for the caller to resume.
 */
export async function takeOverAtStart(deps: Pick<Deps, 'db' | 'clock' | 'instanceId'>): Promise<{ id: number; email: string }[]> {
  const now = deps.clock.now();
  return writeTx(deps.db, async (tx) => {
    const taken = await takeOverForeignLeases(tx, instanceOf(deps), iso(now));
    const running = await all<{ id: number }>(tx, "SELECT id FROM email_sync_runs WHERE status = 'running'");
    await interruptRuns(tx, running.map((r) => r.id), now);
    return taken.map(({ id, email }) => ({ id, email }));
  });
}

/**
 * Runs left `running` by a dead holder, on a database other processes may share: a leased run
 * (sync, verify) whose mailbox lease is gone or expired is closed `interrupted`, and the
 * mailbox's `syncing` state settled. Runs without a lease (rematch, attachments) are left.
 */
export async function sweepDeadRuns(deps: Pick<Deps, 'db' | 'clock'>): Promise<number> {
  const now = deps.clock.now();
  return writeTx(deps.db, async (tx) => {
    const dead = await all<{ id: number }>(
      tx,
      `SELECT r.id FROM email_sync_runs r
        WHERE r.status = 'running' AND r.kind IN ('backfill', 'incremental', 'verify')
          AND NOT EXISTS (SELECT 1 FROM email_accounts a WHERE a.lease_run_id = r.id AND a.lease_owner IS NOT NULL AND a.lease_expires_at > ?)`,
      [iso(now)],
    );
    await interruptRuns(tx, dead.map((r) => r.id), now);
    await settleExpiredLeases(tx, iso(now));
    return dead.length;
  });
}
