// POST /api/email/rematch {since?} (admin): re-match stored mail against the directory as it
// is now. Answers at once with the run (kind `rematch`, no mailbox); the work continues in the
// background: links added and removed, bodies and attachments fetched for mail that became
// matched, purged from mail that no longer is. From the CLI the command waits for it.
// Safe to run twice: a second run finds nothing left to change.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { isoAt } from '../lib/core/time.js';
import { performRematch, queueHighWater } from '../lib/matching/rematch.js';
import { openRun } from '../lib/capture/runs.js';

const Since = z
  .string({ message: 'must be an ISO 8601 date or time, such as 2025-01-31 or 2025-01-31T09:00:00Z' })
  .trim()
  .transform((s, ctx) => {
    const t = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(s) ? Date.parse(s) : NaN;
    if (!Number.isFinite(t)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an ISO 8601 date or time, such as 2025-01-31 or 2025-01-31T09:00:00Z` });
      return z.NEVER;
    }
    return isoAt(t);
  });

export const rematch = defineFunction({
  name: 'rematch',
  input: z.object({ since: Since.nullish() }),
  run: async (deps, raw) => {
    const input = { since: raw.since ?? undefined };
    // A full rematch settles every directory change queued before it starts.
    const drainUpTo = input.since === undefined ? await queueHighWater(deps.db) : undefined;
    const runId = await openRun(deps.db, null, 'rematch', deps.clock.now());
    deps.log.info({ event: 'rematch.started', run_id: runId, since: input.since ?? null }, 'rematch started');
    deps.background.run(
      () => performRematch(deps, runId, { since: input.since }, drainUpTo),
      (err) => deps.log.error({ event: 'rematch.crashed', run_id: runId, error: String(err) }, 'rematch stopped unexpectedly'),
    );
    return { run_id: runId };
  },
});
