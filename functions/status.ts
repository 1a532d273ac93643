// GET /api/email/status (any user): is capture on, how each mailbox is doing, what is stored, and
// whether an operator should look (healthy). Read-only; answers even when disabled.
import { z } from 'zod';
import { listAccountRows } from '../lib/capture/accounts.js';
import { failureCounts } from '../lib/capture/failures.js';
import { one } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';
import { recentRuns } from './listRuns.js';

export const status = defineFunction({
  name: 'status',
  input: z.object({}).passthrough(),
  run: async (deps) => {
    const { gmail } = deps.config;
    const now = deps.clock.now();
    const rows = await listAccountRows(deps.db);
    const failures = await failureCounts(deps.db);
    const overdueMs = 2 * gmail.syncIntervalMin * 60_000;
    const problems: string[] = [];
    const accounts = rows.map((a) => {
      if (a.sync_enabled === 1 && gmail.enabled) {
        if (a.state === 'auth_error' || a.state === 'needs_consent') problems.push(`${a.email}: ${a.state}`);
        const since = a.last_sync_at ?? a.created_at;
        if (now - Date.parse(since) > overdueMs) problems.push(`${a.email}: no successful sync for over two intervals`);
      }
      return {
        id: a.id,
        email: a.email,
        auth_method: a.auth_method,
        sync_enabled: a.sync_enabled === 1,
        state: a.state,
        last_sync_at: a.last_sync_at,
        last_error: a.last_error,
        history_id: a.history_id,
        backfill_in_progress: a.backfill_history_id !== null,
        learned_units_sec: a.learned_units_sec,
        // Messages that could not be parsed or stored: still retried, and given up after 3 tries.
        messages_retrying: failures.get(a.id)?.retrying ?? 0,
        messages_given_up: failures.get(a.id)?.given_up ?? 0,
        last_verify: a.last_verify_at
          ? { at: a.last_verify_at, missing: a.last_verify_missing ?? 0, gone: a.last_verify_gone ?? 0, repaired: a.last_verify_repaired ?? 0, held_at: a.last_verify_held_at }
          : null,
      };
    });
    const counts = (await one<{ emails: number; matched: number; threads: number; attachments: number }>(
      deps.db,
      `SELECT (SELECT count(*) FROM emails) AS emails,
              (SELECT count(*) FROM emails WHERE is_matched = 1) AS matched,
              (SELECT count(*) FROM email_threads) AS threads,
              (SELECT count(*) FROM email_attachments WHERE state = 'saved') AS attachments`,
    ))!;
    return {
      enabled: gmail.enabled,
      auth_method: gmail.authMethod,
      workspace_domain: gmail.workspaceDomains.length ? gmail.workspaceDomains.join(',') : null,
      healthy: problems.length === 0,
      problems,
      accounts,
      counts,
      last_runs: await recentRuns(deps.db, 10),
    };
  },
});
