// DELETE /api/email/accounts/:id[?purge=true] (admin): unenrol a mailbox. Without purge its
// captured copies stay; with purge, its copies and every email no other mailbox holds are
// deleted, with their attachment files once nothing references them. Running it twice is safe.
// The lease is checked inside the write transaction, so a sync that starts first makes this
// answer 409 and one that starts after finds the mailbox unenrolled (see beginSync). Account
// rows are written through lib/capture/accounts.ts.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { deleteAccountRow, getAccount, leaseLive, markUnenrolled, type AccountRow } from '../lib/capture/accounts.js';
import { deleteUnreferencedBlobs } from '../lib/capture/blobs.js';
import { emailsChanged } from '../lib/capture/changes.js';
import { all, one, run, writeTx } from '../lib/db/client.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';
import { refreshThreads } from '../lib/capture/threading.js';

export const deleteAccount = defineFunction({
  name: 'deleteAccount',
  input: z.object({ id: z.number().int().positive(), purge: z.boolean().default(false) }),
  run: async (deps, input, ctx) => {
    // A mailbox unenrolled earlier without purge still holds its copies: purging it later must
    // reach them, so purge also finds unenrolled rows (a plain unenrol of one answers 404).
    const hidden = input.purge ? await one<AccountRow>(deps.db, 'SELECT * FROM email_accounts WHERE id = ? AND unenrolled_at IS NOT NULL', [input.id]) : undefined;
    const acc = hidden ?? (await getAccount(deps.db, { id: input.id }));
    const now = nowIso(deps.clock);
    let purgedEmails = 0;
    let shas: string[] = [];
    await writeTx(deps.db, async (tx) => {
      const lease = await one<{ lease_owner: string | null; lease_expires_at: string | null; lease_run_id: number | null; run_status: string | null }>(
        tx,
        'SELECT a.lease_owner, a.lease_expires_at, a.lease_run_id, r.status AS run_status FROM email_accounts a LEFT JOIN email_sync_runs r ON r.id = a.lease_run_id WHERE a.id = ?',
        [acc.id],
      );
      if (lease && leaseLive(lease, deps.clock.now(), lease.run_status === 'running')) {
        throw new AppError('CONFLICT', `${acc.email} is syncing now; pause it and try again when the run ends`);
      }
      if (input.purge) {
        const orphans = await all<{ id: number; thread_id: number | null }>(
          tx,
          `SELECT e.id, e.thread_id FROM emails e JOIN email_mailbox_messages m ON m.email_id = e.id AND m.account_id = ?
            WHERE NOT EXISTS (SELECT 1 FROM email_mailbox_messages o WHERE o.email_id = e.id AND o.account_id <> ?)`,
          [acc.id, acc.id],
        );
        const ids = orphans.map((o) => o.id);
        // Read before the orphans go: their copies go with them (ON DELETE CASCADE).
        const held = (await all<{ email_id: number }>(tx, 'SELECT email_id FROM email_mailbox_messages WHERE account_id = ?', [acc.id])).map((r) => r.email_id);
        for (let i = 0; i < ids.length; i += 500) {
          const chunk = ids.slice(i, i + 500);
          const marks = chunk.map(() => '?').join(',');
          shas.push(...(await all<{ sha256: string }>(tx, `SELECT sha256 FROM email_attachments WHERE email_id IN (${marks}) AND sha256 IS NOT NULL`, chunk)).map((r) => r.sha256));
          await run(tx, `DELETE FROM emails WHERE id IN (${marks})`, chunk);
        }
        await run(tx, 'DELETE FROM email_mailbox_messages WHERE account_id = ?', [acc.id]);
        await run(tx, `DELETE FROM email_thread_keys WHERE key LIKE ?`, [`gm:${acc.id}:%`]);
        const threads = [...new Set(orphans.map((o) => o.thread_id).filter((t): t is number => t !== null))];
        await refreshThreads(tx, threads);
        await run(tx, 'DELETE FROM email_thread_keys WHERE thread_id IN (SELECT id FROM email_threads WHERE message_count = 0)');
        await run(tx, 'DELETE FROM email_threads WHERE message_count = 0');
        await deleteAccountRow(tx, acc.id);
        // Emails held elsewhere too lose a copy (who saw it); the others are gone.
        await emailsChanged(tx, held, { now, reason: 'purged' });
        purgedEmails = ids.length;
      } else {
        await markUnenrolled(tx, acc.id, now);
      }
      await recordAudit(tx, { at: now, actor: ctx.actor, action: input.purge ? 'account.purge' : 'account.unenroll', target: `account:${acc.id}`, detail: { email: acc.email, purge: input.purge, emails_deleted: purgedEmails } });
    });
    if (shas.length) shas = await deleteUnreferencedBlobs(deps.db, deps.config.dataDir, shas);
    deps.log.info({ event: 'accounts.unenrolled', account: acc.email, purge: input.purge, emails_deleted: purgedEmails, files_deleted: shas.length }, 'mailbox unenrolled');
    return { deleted: true, purged: input.purge, emails_deleted: purgedEmails, files_deleted: shas.length };
  },
});
