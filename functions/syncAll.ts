// The scheduled sync: every enrolled, enabled mailbox that is not waiting for the admin
// (auth_error) or its owner (needs_consent), in parallel, each within its own Gmail budget.
// One mailbox's failure never stops the others. Safe to run twice: leases prevent overlap.
import { z } from 'zod';
import { listAccountRows, scheduledSync } from '../lib/capture/accounts.js';
import { defineFunction } from '../lib/core/fn.js';
import { drainRematchQueue } from '../lib/matching/rematch.js';
import { beginAccountSync } from '../lib/capture/syncRunner.js';

export const syncAll = defineFunction({
  name: 'syncAll',
  input: z.object({ trigger: z.string().optional() }).passthrough(),
  run: async (deps) => {
    const accounts = (await listAccountRows(deps.db)).filter(scheduledSync);
    const results = await Promise.all(
      accounts.map(async (a) => {
        try {
          const begun = await beginAccountSync(deps, a);
          return begun.go ? { ...(await begun.go()), already_running: false } : { ...begun.run, status: 'running' };
        } catch (err) {
          deps.log.error({ event: 'sync.start_failed', account: a.email, error: String(err) }, 'could not start a sync');
          return { account: a.email, status: 'failed', error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    // New mail is in: settle directory edits queued meanwhile (see rematchQueued).
    const rematch = await drainRematchQueue(deps).catch((err) => ({ status: 'failed', error: err instanceof Error ? err.message : String(err) }));
    return { runs: results, rematch };
  },
});
