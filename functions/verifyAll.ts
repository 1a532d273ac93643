// The daily verification: every mailbox the scheduler syncs, whose first backfill is done and
// whose last verification is a day old or more, verified one after another (a mailbox syncing
// now is left for the next round). Runs hourly so a restart never skips a day; safe twice.
import { z } from 'zod';
import { listAccountRows, scheduledSync } from '../lib/capture/accounts.js';
import { defineFunction } from '../lib/core/fn.js';
import { startVerify } from './verifyMailbox.js';

const VERIFY_EVERY_MS = 24 * 3600_000;

export const verifyAll = defineFunction({
  name: 'verifyAll',
  input: z.object({ trigger: z.string().optional() }).passthrough(),
  run: async (deps) => {
    const now = deps.clock.now();
    const due = (await listAccountRows(deps.db)).filter(
      (a) => scheduledSync(a) && a.history_id && !a.backfill_history_id && (!a.last_verify_at || now - Date.parse(a.last_verify_at) >= VERIFY_EVERY_MS),
    );
    const results = [];
    for (const a of due) {
      try {
        const { go } = await startVerify(deps, a);
        results.push(await go());
      } catch (err) {
        results.push({ account: a.email, status: 'skipped', error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { runs: results };
  },
});
