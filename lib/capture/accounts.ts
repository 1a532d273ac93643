// Reading mailbox accounts in the shapes the API and the sync engine need.
import { all, one, type Executor } from '../db/client.js';
import { AppError } from '../core/errors.js';
import type { AuthMethod } from '../core/config.js';
import { normalizeAddress } from '../mail/address.js';

export interface AccountRow {
  id: number;
  email: string;
  auth_method: AuthMethod;
  sync_enabled: number;
  state: 'idle' | 'syncing' | 'auth_error' | 'needs_consent' | 'error';
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
  created_at: string;
}

export interface AccountView {
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
