// Download the pending (and retryable failed) attachments of matched mail, for one mailbox
// (`email`) or every enabled one. Syncs already do this after their pages (counted on the
// sync's run); run alone it records one run of kind `attachments` per mailbox. Safe to run
// twice or beside a sync: files are content-addressed and rows only move on from pending/failed.
import { z } from 'zod';
import { getAccount, listAccountRows, type AccountRow } from '../lib/capture/accounts.js';
import { downloadPendingAttachments } from '../lib/capture/attachments.js';
import type { Deps } from '../lib/core/deps.js';
import { defineFunction } from '../lib/core/fn.js';
import type { GmailApi } from '../lib/gmail/types.js';
import { closeRun, openRun } from '../lib/capture/runs.js';
import { openGmail } from '../lib/capture/syncRunner.js';

interface AttachmentRunSummary {
  run_id: number;
  account: string;
  status: 'succeeded' | 'failed';
  attachments_saved: number;
  failed: number;
  too_large: number;
  error: string | null;
}

async function fetchFor(deps: Deps, account: AccountRow): Promise<AttachmentRunSummary> {
  const runId = await openRun(deps.db, account.id, 'attachments', deps.clock.now());
  let gmail: GmailApi | null = null;
  try {
    gmail = await openGmail(deps, account);
    const r = await downloadPendingAttachments(deps, gmail, { accountId: account.id, runId });
    await closeRun(deps.db, runId, deps.clock.now(), { ok: true, totals: { attachments_saved: r.saved, quota_units: gmail.stats.quotaUnits, http_calls: gmail.stats.calls } });
    return { run_id: runId, account: account.email, status: 'succeeded', attachments_saved: r.saved, failed: r.failed, too_large: r.tooLarge, error: null };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    deps.log.error({ event: 'attachments.failed', account: account.email, run_id: runId, error }, 'attachment download failed');
    await closeRun(deps.db, runId, deps.clock.now(), { ok: false, error, totals: gmail ? { quota_units: gmail.stats.quotaUnits, http_calls: gmail.stats.calls } : undefined });
    return { run_id: runId, account: account.email, status: 'failed', attachments_saved: 0, failed: 0, too_large: 0, error };
  }
}

export const fetchAttachment = defineFunction({
  name: 'fetchAttachment',
  input: z.object({ email: z.string().trim().toLowerCase().optional() }),
  run: async (deps, input) => {
    const accounts = input.email
      ? [await getAccount(deps.db, { email: input.email })]
      : (await listAccountRows(deps.db)).filter((a) => a.sync_enabled === 1 && a.state !== 'auth_error' && a.state !== 'needs_consent');
    // Mailboxes have separate Gmail budgets: they download side by side.
    const runs = await Promise.all(accounts.map((a) => fetchFor(deps, a)));
    return { runs };
  },
});
