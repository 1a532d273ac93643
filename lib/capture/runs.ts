// The run ledger and the per-mailbox lease. The lease lives in the database so the
// scheduler, run-now and a second process sharing the database never sync one mailbox
// twice at once; a lease whose holder crashed expires and is taken over, and the run it
// left `running` is closed `failed` with error `interrupted`.
import { randomUUID } from 'node:crypto';
import type { Db, Executor } from '../db/client.js';
import { one, run } from '../db/client.js';
import type { Deps } from '../core/deps.js';

export const LEASE_MS = 15 * 60_000;

export type RunKind = 'backfill' | 'incremental' | 'rematch' | 'attachments';

export interface Lease {
  accountId: number;
  owner: string;
  runId: number;
}

export type BeginResult = { started: true; lease: Lease } | { started: false; runId: number };

const iso = (ms: number) => new Date(ms).toISOString();

/** Take the mailbox's lease and open its run row, in one write transaction. */
export async function beginSync(deps: Pick<Deps, 'db' | 'clock'>, accountId: number, kind: RunKind): Promise<BeginResult> {
  const now = deps.clock.now();
  const tx = await deps.db.transaction('write');
  try {
    const acc = await one<{ lease_owner: string | null; lease_expires_at: string | null; lease_run_id: number | null }>(
      tx,
      'SELECT lease_owner, lease_expires_at, lease_run_id FROM email_accounts WHERE id = ?',
      [accountId],
    );
    if (!acc) throw new Error(`no account ${accountId}`);
    if (acc.lease_owner && acc.lease_expires_at && Date.parse(acc.lease_expires_at) > now && acc.lease_run_id) {
      await tx.commit();
      return { started: false, runId: acc.lease_run_id };
    }
    if (acc.lease_run_id) {
      await run(tx, "UPDATE email_sync_runs SET status = 'failed', error = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running'", [
        iso(now),
        acc.lease_run_id,
      ]);
    }
    const owner = randomUUID();
    const r = await one<{ id: number }>(
      tx,
      "INSERT INTO email_sync_runs (account_id, kind, status, started_at) VALUES (?, ?, 'running', ?) RETURNING id",
      [accountId, kind, iso(now)],
    );
    await run(
      tx,
      "UPDATE email_accounts SET lease_owner = ?, lease_expires_at = ?, lease_run_id = ?, state = 'syncing', updated_at = ? WHERE id = ?",
      [owner, iso(now + LEASE_MS), r!.id, iso(now), accountId],
    );
    await tx.commit();
    return { started: true, lease: { accountId, owner, runId: r!.id } };
  } catch (err) {
    await tx.rollback();
    throw err;
  } finally {
    tx.close();
  }
}

export class LeaseLost extends Error {
  constructor() {
    super('the mailbox lease was taken over by another process');
    this.name = 'LeaseLost';
  }
}

/** Extend the lease inside a page's transaction; a lost lease aborts that page. */
export async function renewLease(tx: Executor, lease: Lease, nowMs: number): Promise<void> {
  const r = await run(tx, 'UPDATE email_accounts SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?', [
    iso(nowMs + LEASE_MS),
    lease.accountId,
    lease.owner,
  ]);
  if (r.rowsAffected !== 1) throw new LeaseLost();
}

export interface RunTotals {
  kind?: RunKind;
  messages_seen?: number;
  messages_stored?: number;
  attachments_saved?: number;
  quota_units?: number;
  http_calls?: number;
  bytes_downloaded?: number;
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
       bytes_downloaded = coalesce(?, bytes_downloaded)
     WHERE id = ?`,
    [t.kind ?? null, t.messages_seen ?? null, t.messages_stored ?? null, t.attachments_saved ?? null, t.quota_units ?? null, t.http_calls ?? null, t.bytes_downloaded ?? null, runId],
  );
}

/** Close the run and release the lease (only if still ours), with the account's new state. */
export async function finishSync(
  db: Db,
  lease: Lease,
  nowMs: number,
  outcome: { ok: true; totals: RunTotals; learnedUnitsSec?: number | null } | { ok: false; totals: RunTotals; state: 'auth_error' | 'needs_consent' | 'error'; error: string; learnedUnitsSec?: number | null },
): Promise<void> {
  const now = iso(nowMs);
  await updateRun(db, lease.runId, outcome.totals);
  await db.batch(
    [
      {
        sql: 'UPDATE email_sync_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?',
        args: [outcome.ok ? 'succeeded' : 'failed', outcome.ok ? null : outcome.error, now, lease.runId],
      },
      outcome.ok
        ? {
            sql: `UPDATE email_accounts SET state = 'idle', last_error = NULL, last_sync_at = ?,
                    learned_units_sec = CASE WHEN ? THEN ? ELSE learned_units_sec END,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?`,
            args: [now, outcome.learnedUnitsSec !== undefined, outcome.learnedUnitsSec ?? null, now, lease.accountId, lease.owner],
          }
        : {
            sql: `UPDATE email_accounts SET state = ?, last_error = ?,
                    learned_units_sec = CASE WHEN ? THEN ? ELSE learned_units_sec END,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?`,
            args: [outcome.state, outcome.error, outcome.learnedUnitsSec !== undefined, outcome.learnedUnitsSec ?? null, now, lease.accountId, lease.owner],
          },
    ],
    'write',
  );
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
