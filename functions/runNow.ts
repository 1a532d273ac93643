// POST /api/email/sync/run-now (admin): start a sync of one or every enabled mailbox and answer at
// once. The run rows exist (running) before the answer; a mailbox already syncing reports
// its current run. Mailboxes in auth_error or needs_consent are tried again here.
import { z } from 'zod';
import { assertSyncable, getAccount, isPaused, listAccountRows } from '../lib/capture/accounts.js';
import { defineFunction } from '../lib/core/fn.js';
import { beginAccountSync, type StartedRun } from '../lib/capture/syncRunner.js';

export const runNow = defineFunction({
  name: 'runNow',
  input: z.object({ email: z.string().trim().toLowerCase().nullish() }),
  run: async (deps, input) => {
    let accounts;
    if (input.email !== undefined && input.email !== null) {
      const a = await getAccount(deps.db, { email: input.email });
      assertSyncable(a);
      accounts = [a];
    } else {
      accounts = (await listAccountRows(deps.db)).filter((a) => !isPaused(a));
    }
    const runs: StartedRun[] = [];
    for (const a of accounts) {
      const begun = await beginAccountSync(deps, a);
      runs.push(begun.run);
      const go = begun.go;
      if (go) deps.background.run(go, (err) => deps.log.error({ event: 'sync.crashed', account: a.email, error: String(err) }, 'sync crashed'));
    }
    return { runs };
  },
});
