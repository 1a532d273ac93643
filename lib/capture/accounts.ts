// Mailbox accounts: reading them in the shapes the API and the sync engine need, and every
// write to their state, lease, checkpoint and history columns. This file is the only writer
// of those columns; enrolment, pausing, unenrolment, consent, the sync engine and the lease
// all come through here. Whether a mailbox is paused, and whether it may sync, is decided
// here too (syncable, scheduledSync).
import { randomUUID } from 'node:crypto';
import { all, one, run, type Executor } from '../db/client.js';
import { AppError } from '../core/errors.js';
import type { AuthMethod } from '../core/config.js';
import { normalizeAddress } from '../mail/address.js';

/** A lease lasts this long unless its holder renews it; the heartbeat renews it far sooner. */
export const LEASE_MS = 60_000;
/** How often a process renews the leases it holds (timer in the process, besides every page). */
export const HEARTBEAT_MS = 10_000;

/** This process's instance id, for callers whose Deps name none. */
const processInstanceId = randomUUID();

export const instanceOf = (deps: { instanceId?: string }): string => deps.instanceId ?? processInstanceId;

type AccountState = 'idle' | 'syncing' | 'auth_error' | 'needs_consent' | 'error';

export interface AccountRow {
  id: number;
  email: string;
  auth_method: AuthMethod;
  sync_enabled: number;
  state: AccountState;
  history_id: string | null;
  last_sync_at: string | null;
  last_error: string | null;
  backfill_history_id: string | null;
  backfill_page_token: string | null;
  learned_units_sec: number | null;
  refresh_token_enc: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  lease_run_id: number | null;
  unenrolled_at: string | null;
  last_verify_at: string | null;
  last_verify_missing: number | null;
  last_verify_gone: number | null;
  last_verify_repaired: number | null;
  last_verify_held_at: string | null;
  created_at: string;
}

interface AccountView {
  id: number;
  email: string;
  auth_method: AuthMethod;
  sync_enabled: boolean;
  state: AccountRow['state'];
  history_id: string | null;
  last_sync_at: string | null;
  last_error: string | null;
  learned_units_sec: number | null;
  has_refresh_token: boolean;
  created_at: string;
}

export const accountView = (r: AccountRow): AccountView => ({
  id: r.id,
  email: r.email,
  auth_method: r.auth_method,
  sync_enabled: r.sync_enabled === 1,
  state: r.state,
  history_id: r.history_id,
  last_sync_at: r.last_sync_at,
  last_error: r.last_error,
  learned_units_sec: r.learned_units_sec,
  has_refresh_token: r.refresh_token_enc !== null,
  created_at: r.created_at,
});

export async function getAccount(db: Executor, ref: { id?: number; email?: string }): Promise<AccountRow> {
  const row =
    ref.id !== undefined
      ? await one<AccountRow>(db, 'SELECT * FROM email_accounts WHERE id = ? AND unenrolled_at IS NULL', [ref.id])
      : await one<AccountRow>(db, 'SELECT * FROM email_accounts WHERE email = ? AND unenrolled_at IS NULL', [normalizeAddress(ref.email) ?? '']);
  if (!row) throw new AppError('NOT_FOUND', ref.id !== undefined ? `no mailbox with id ${ref.id}` : `no enrolled mailbox ${ref.email}`);
  return row;
}

export async function listAccountRows(db: Executor): Promise<AccountRow[]> {
  return all<AccountRow>(db, 'SELECT * FROM email_accounts WHERE unenrolled_at IS NULL ORDER BY email');
}

/** BigInt comparison of Gmail historyIds (decimal strings that outgrow 2^53). */
export function historyGreater(a: string, b: string | null): boolean {
  if (b === null) return true;
  return BigInt(a) > BigInt(b);
}

// ---- who may sync ----

export const isPaused = (a: Pick<AccountRow, 'sync_enabled'>): boolean => a.sync_enabled !== 1;

/** Throws unless the mailbox may be synced on request: enrolled and not paused. */
export function assertSyncable(a: Pick<AccountRow, 'id' | 'email' | 'sync_enabled' | 'unenrolled_at'>): void {
  if (a.unenrolled_at) throw new AppError('NOT_FOUND', `no enrolled mailbox ${a.email}`);
  if (isPaused(a)) throw new AppError('CONFLICT', `${a.email} is paused; resume it with PATCH /api/email/accounts/${a.id} {"sync_enabled":true}`);
}

/** The scheduler's choice: enrolled, not paused, and not waiting for the admin or the owner. */
export const scheduledSync = (a: AccountRow): boolean =>
  !a.unenrolled_at && !isPaused(a) && a.state !== 'auth_error' && a.state !== 'needs_consent';

const iso = (ms: number) => new Date(ms).toISOString();

// ---- enrolment, pausing, unenrolment, consent ----

export async function enrollAccount(db: Executor, email: string, method: AuthMethod, state: AccountState, nowIso: string, existingId?: number): Promise<void> {
  if (existingId !== undefined) {
    await run(db, 'UPDATE email_accounts SET unenrolled_at = NULL, sync_enabled = 1, auth_method = ?, state = ?, last_error = NULL, updated_at = ? WHERE id = ?', [
      method,
      state,
      nowIso,
      existingId,
    ]);
  } else {
    await run(db, 'INSERT INTO email_accounts (email, auth_method, sync_enabled, state, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?)', [email, method, state, nowIso, nowIso]);
  }
}

export async function setSyncEnabled(db: Executor, id: number, enabled: boolean, nowIso: string): Promise<void> {
  await run(db, 'UPDATE email_accounts SET sync_enabled = ?, updated_at = ? WHERE id = ?', [enabled ? 1 : 0, nowIso, id]);
}

export async function markUnenrolled(tx: Executor, id: number, nowIso: string): Promise<void> {
  await run(tx, 'UPDATE email_accounts SET unenrolled_at = ?, sync_enabled = 0, refresh_token_enc = NULL, updated_at = ? WHERE id = ?', [nowIso, nowIso, id]);
}

export async function deleteAccountRow(tx: Executor, id: number): Promise<void> {
  await run(tx, 'DELETE FROM email_accounts WHERE id = ?', [id]);
}

/** See storeOAuthAccount: an unenrolled row comes back enabled, a run in progress keeps `syncing`. */
export async function upsertOAuthAccount(
  db: Executor,
  email: string,
  sealedToken: string,
  nowIso: string,
  opts: { byAdmin?: boolean } = {},
): Promise<{ id: number; state: string; reenrolled: boolean } | null> {
  const before = await one<{ unenrolled_at: string | null }>(db, 'SELECT unenrolled_at FROM email_accounts WHERE email = ?', [email]);
  // An admin unenrolled it: only an admin's own consent brings it back (null: nothing stored).
  const row = await one<{ id: number; state: string }>(
    db,
    `INSERT INTO email_accounts (email, auth_method, sync_enabled, state, refresh_token_enc, last_error, created_at, updated_at)
     VALUES (?, 'oauth', 1, 'idle', ?, NULL, ?, ?)
     ON CONFLICT(email) DO UPDATE SET
       sync_enabled = CASE WHEN email_accounts.unenrolled_at IS NOT NULL THEN 1 ELSE email_accounts.sync_enabled END,
       unenrolled_at = NULL,
       auth_method = 'oauth',
       refresh_token_enc = excluded.refresh_token_enc,
       state = CASE WHEN email_accounts.state = 'syncing' THEN 'syncing' ELSE 'idle' END,
       last_error = NULL,
       updated_at = excluded.updated_at
     WHERE email_accounts.unenrolled_at IS NULL OR ?
     RETURNING id, state`,
    [email, sealedToken, nowIso, nowIso, opts.byAdmin ? 1 : 0],
  );
  return row ? { ...row, reenrolled: !!before?.unenrolled_at } : null;
}

export async function markNeedsConsentState(db: Executor, id: number, message: string, nowIso: string): Promise<void> {
  await run(db, "UPDATE email_accounts SET state = 'needs_consent', last_error = ?, updated_at = ? WHERE id = ?", [message, nowIso, id]);
}

// ---- the lease ----

export interface Lease {
  accountId: number;
  owner: string;
  runId: number;
}

export class LeaseLost extends Error {
  constructor() {
    super('the mailbox lease was taken over by another process');
    this.name = 'LeaseLost';
  }
}

interface LeaseHeld {
  lease_owner: string | null;
  lease_expires_at: string | null;
  lease_run_id: number | null;
}

/** A lease counts while it is unexpired and names a run that is still going. */
export const leaseLive = (a: LeaseHeld, nowMs: number, runRunning: boolean): boolean =>
  !!a.lease_owner && !!a.lease_expires_at && Date.parse(a.lease_expires_at) > nowMs && !!a.lease_run_id && runRunning;

export async function takeLease(tx: Executor, lease: Lease, nowMs: number): Promise<void> {
  await run(tx, "UPDATE email_accounts SET lease_owner = ?, lease_expires_at = ?, lease_run_id = ?, state = 'syncing', updated_at = ? WHERE id = ?", [
    lease.owner,
    iso(nowMs + LEASE_MS),
    lease.runId,
    iso(nowMs),
    lease.accountId,
  ]);
}

/** Extend the lease (inside a page's transaction); a lost lease aborts that page. */
export async function renewLease(tx: Executor, lease: Lease, nowMs: number): Promise<void> {
  const r = await run(tx, 'UPDATE email_accounts SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND lease_run_id = ?', [
    iso(nowMs + LEASE_MS),
    lease.accountId,
    lease.owner,
    lease.runId,
  ]);
  if (r.rowsAffected !== 1) throw new LeaseLost();
}

/** The heartbeat: extend every lease this process holds. Returns how many. */
export async function renewHeldLeases(db: Executor, owner: string, nowMs: number): Promise<number> {
  const r = await run(db, 'UPDATE email_accounts SET lease_expires_at = ? WHERE lease_owner = ? AND lease_expires_at IS NOT NULL', [iso(nowMs + LEASE_MS), owner]);
  return r.rowsAffected;
}

export type LeaseEnd =
  /** `synced: false` (a verification) leaves last_sync_at alone: it is not a sync. */
  | { ok: true; learnedUnitsSec?: number | null; synced?: boolean }
  | { ok: false; state: 'auth_error' | 'needs_consent' | 'error'; error: string; learnedUnitsSec?: number | null };

/** Release the lease (only if still ours) with the account's new state. */
export async function releaseLease(tx: Executor, lease: Lease, nowMs: number, end: LeaseEnd): Promise<void> {
  const now = iso(nowMs);
  const learned = [end.learnedUnitsSec !== undefined, end.learnedUnitsSec ?? null];
  if (end.ok) {
    await run(
      tx,
      `UPDATE email_accounts SET state = 'idle', last_error = NULL, last_sync_at = CASE WHEN ? THEN ? ELSE last_sync_at END,
         learned_units_sec = CASE WHEN ? THEN ? ELSE learned_units_sec END,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND lease_run_id = ?`,
      [end.synced !== false, now, ...learned, now, lease.accountId, lease.owner, lease.runId],
    );
  } else {
    await run(
      tx,
      `UPDATE email_accounts SET state = ?, last_error = ?,
         learned_units_sec = CASE WHEN ? THEN ? ELSE learned_units_sec END,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND lease_run_id = ?`,
      [end.state, end.error, ...learned, now, lease.accountId, lease.owner, lease.runId],
    );
  }
}

/**
 * Every lease not held by `owner` ends now (a process on an embedded database is its only
 * writer, so at its start no other holder can be alive). Returns the accounts and the runs
 * their dead holders left.
 */
export async function takeOverForeignLeases(tx: Executor, owner: string, nowIso: string): Promise<{ id: number; email: string; lease_run_id: number | null }[]> {
  const rows = await all<{ id: number; email: string; lease_run_id: number | null }>(
    tx,
    'SELECT id, email, lease_run_id FROM email_accounts WHERE lease_owner IS NOT NULL AND lease_owner <> ?',
    [owner],
  );
  if (rows.length) {
    await run(
      tx,
      `UPDATE email_accounts SET lease_owner = NULL, lease_expires_at = NULL,
         state = CASE WHEN state = 'syncing' THEN 'error' ELSE state END,
         last_error = CASE WHEN state = 'syncing' THEN 'interrupted: the service stopped during a sync' ELSE last_error END,
         updated_at = ? WHERE lease_owner IS NOT NULL AND lease_owner <> ?`,
      [nowIso, owner],
    );
  }
  return rows;
}

/** Mailboxes whose lease has run out while their state still says `syncing`. */
export async function settleExpiredLeases(tx: Executor, nowIso: string): Promise<number> {
  const r = await run(
    tx,
    `UPDATE email_accounts SET lease_owner = NULL, lease_expires_at = NULL, state = 'error',
       last_error = 'interrupted: the process syncing this mailbox stopped', updated_at = ?
     WHERE lease_owner IS NOT NULL AND lease_expires_at <= ? AND state = 'syncing'`,
    [nowIso, nowIso],
  );
  return r.rowsAffected;
}

// ---- checkpoint and history ----

/** The starting point of a backfill, read before its first list call. */
export async function startBackfill(db: Executor, id: number, historyId: string, nowIso: string): Promise<void> {
  await run(db, 'UPDATE email_accounts SET backfill_history_id = ?, backfill_page_token = NULL, backfill_started_at = ?, backfill_enumerated_at = NULL WHERE id = ?', [historyId, nowIso, id]);
}

/** The listing phase is over: every id is stored or pending; fetching by plan continues. */
export async function finishEnumeration(tx: Executor, id: number, nowIso: string): Promise<void> {
  await run(tx, 'UPDATE email_accounts SET backfill_page_token = NULL, backfill_enumerated_at = ? WHERE id = ?', [nowIso, id]);
}

export async function saveBackfillPage(tx: Executor, id: number, pageToken: string | null): Promise<void> {
  await run(tx, 'UPDATE email_accounts SET backfill_page_token = ? WHERE id = ?', [pageToken, id]);
}

/** The backfill is complete: history takes over from the point read before it began. */
export async function completeBackfill(tx: Executor, id: number, historyId: string): Promise<void> {
  await run(tx, 'UPDATE email_accounts SET history_id = ?, backfill_history_id = NULL, backfill_page_token = NULL, backfill_started_at = NULL, backfill_enumerated_at = NULL WHERE id = ?', [historyId, id]);
}

export async function resetBackfill(db: Executor, id: number): Promise<void> {
  await run(db, 'UPDATE email_accounts SET backfill_history_id = NULL, backfill_page_token = NULL WHERE id = ?', [id]);
}

/** Move history_id forward (never back), compared as BigInt. */
export async function advanceHistory(tx: Executor, id: number, checkpoint: string): Promise<void> {
  const cur = await one<{ history_id: string | null }>(tx, 'SELECT history_id FROM email_accounts WHERE id = ?', [id]);
  if (historyGreater(checkpoint, cur?.history_id ?? null)) await run(tx, 'UPDATE email_accounts SET history_id = ? WHERE id = ?', [checkpoint, id]);
}

// ---- verification ----

interface VerifyFigures {
  missing: number;
  gone: number;
  repaired: number;
}

export async function recordVerify(tx: Executor, id: number, f: VerifyFigures, nowIso: string): Promise<void> {
  // "Held": Gmail and the store agreed, or every difference was repaired on this run.
  const held = f.missing === f.repaired;
  await run(
    tx,
    `UPDATE email_accounts SET last_verify_at = ?, last_verify_missing = ?, last_verify_gone = ?, last_verify_repaired = ?,
       last_verify_held_at = CASE WHEN ? THEN ? ELSE last_verify_held_at END WHERE id = ?`,
    [nowIso, f.missing, f.gone, f.repaired, held, nowIso, id],
  );
}
