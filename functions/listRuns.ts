// The run ledger, newest first. Runs on GET /api/email/sync/runs (admin). Read-only.
import { z } from 'zod';
import { getAccount } from '../lib/capture/accounts.js';
import { all } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';

interface RunView {
  id: number;
  account: string | null;
  kind: string;
  status: string;
  messages_seen: number;
  messages_stored: number;
  attachments_saved: number;
  quota_units: number;
  http_calls: number;
  bytes_downloaded: number;
  /** Messages of the run recorded as failed and skipped. */
  messages_failed: number;
  /** Verify runs: in Gmail but not stored, stored but gone from Gmail, missing ones fetched (null for other kinds). */
  missing: number | null;
  gone: number | null;
  repaired: number | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

export async function recentRuns(db: Parameters<typeof all>[0], limit: number, accountId?: number): Promise<RunView[]> {
  return all<RunView>(
    db,
    `SELECT r.id, a.email AS account, r.kind, r.status, r.messages_seen, r.messages_stored, r.attachments_saved,
            r.quota_units, r.http_calls, r.bytes_downloaded, r.messages_failed, r.missing, r.gone, r.repaired,
            r.error, r.started_at, r.finished_at
       FROM email_sync_runs r LEFT JOIN email_accounts a ON a.id = r.account_id
      ${accountId === undefined ? '' : 'WHERE r.account_id = ?'}
      ORDER BY r.id DESC LIMIT ?`,
    accountId === undefined ? [limit] : [accountId, limit],
  );
}

export const listRuns = defineFunction({
  name: 'listRuns',
  input: z.object({
    limit: z.coerce.number().int().min(1, 'limit must be 1 to 500').max(500, 'limit must be 1 to 500').default(50),
    email: z.string().trim().toLowerCase().optional(),
  }),
  run: async (deps, input) => {
    let accountId: number | undefined;
    if (input.email) {
      accountId = (await getAccount(deps.db, { email: input.email })).id;
    }
    return { runs: await recentRuns(deps.db, input.limit, accountId) };
  },
});
