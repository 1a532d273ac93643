// POST /api/email/accounts/:id/verify (admin), and the daily verifyAll: compare the mailbox's Gmail
// ids with the stored copies, fetch what is missing, mark copies gone from Gmail deleted.
// Takes the mailbox lease like a sync, as a run of kind `verify`; a mailbox syncing now, or
// whose first backfill has not finished, answers 409. Running it twice is safe: the second
// finds nothing to repair. With `background`, answers {run_id} at once.
import { z } from 'zod';
import { assertSyncable, getAccount, type AccountRow } from '../lib/capture/accounts.js';
import { beginSync } from '../lib/capture/runs.js';
import { openGmail, sweepAfterRun } from '../lib/capture/syncRunner.js';
import { performVerify, type VerifySummary } from '../lib/capture/verify.js';
import { finishSync } from '../lib/capture/runs.js';
import type { Deps } from '../lib/core/deps.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { GmailStop } from '../lib/gmail/types.js';

export async function startVerify(deps: Deps, account: AccountRow): Promise<{ runId: number; go: () => Promise<VerifySummary> }> {
  assertSyncable(account);
  if (!account.history_id || account.backfill_history_id) {
    throw new AppError('CONFLICT', `${account.email} has not finished its first backfill; verify it once a sync has completed`);
  }
  const begun = await beginSync(deps, account.id, 'verify');
  if (!begun.started) throw new AppError('CONFLICT', `${account.email} is syncing now (run ${begun.runId}); verify it when that run ends`);
  const lease = begun.lease;
  const go = async (): Promise<VerifySummary> => {
    try {
      let gmail;
      try {
        gmail = await openGmail(deps, account);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        await finishSync(deps.db, lease, deps.clock.now(), { ok: false, totals: {}, state: err instanceof GmailStop ? err.state : 'error', error });
        return { run_id: lease.runId, account: account.email, status: 'failed', in_gmail: 0, stored: 0, missing: 0, gone: 0, repaired: 0, error };
      }
      return await performVerify(deps, account, lease, gmail);
    } finally {
      await sweepAfterRun(deps);
    }
  };
  return { runId: lease.runId, go };
}

export const verifyMailbox = defineFunction({
  name: 'verifyMailbox',
  input: z.object({ id: z.number().int().positive(), background: z.boolean().default(false) }),
  run: async (deps, input) => {
    const account = await getAccount(deps.db, { id: input.id });
    const { runId, go } = await startVerify(deps, account);
    if (input.background) {
      deps.background.run(go, (err) => deps.log.error({ event: 'verify.crashed', account: account.email, error: String(err) }, 'verification stopped unexpectedly'));
      return { run_id: runId };
    }
    return await go();
  },
});
