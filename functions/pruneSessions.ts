// Deletes session rows that can never be used again: tokens expired or revoked more than a
// day ago (the day keeps "token expired" answers meaningful for a while) and login attempts
// older than the throttle window. Scheduled hourly; safe to run any number of times.
import { z } from 'zod';
import { LOGIN_WINDOW_MS } from '../lib/auth/throttle.js';
import { defineFunction } from '../lib/core/fn.js';

const GRACE_MS = 24 * 3600_000;

export const pruneSessions = defineFunction({
  name: 'pruneSessions',
  input: z.object({ trigger: z.string().optional() }).passthrough(),
  run: async (deps) => {
    const now = deps.clock.now();
    const cutoff = new Date(now - GRACE_MS).toISOString();
    const [tokens, attempts] = await deps.db.batch(
      [
        { sql: 'DELETE FROM tokens WHERE expires_at <= ? OR revoked_at <= ?', args: [cutoff, cutoff] },
        { sql: 'DELETE FROM login_attempts WHERE at <= ?', args: [new Date(now - LOGIN_WINDOW_MS).toISOString()] },
      ],
      'write',
    );
    const out = { tokens_deleted: tokens!.rowsAffected, attempts_deleted: attempts!.rowsAffected };
    if (out.tokens_deleted) deps.log.info({ event: 'auth.sessions_pruned', ...out }, 'expired sessions deleted');
    return out;
  },
});
