// Sync one mailbox now and wait for it: backfill or history, then its attachments.
// Safe to run twice at once: the second call finds the lease held and reports that run.
import { z } from 'zod';
import { assertSyncable, getAccount } from '../lib/capture/accounts.js';
import { defineFunction } from '../lib/core/fn.js';
import { beginAccountSync } from '../lib/capture/syncRunner.js';

export const syncMailbox = defineFunction({
  name: 'syncMailbox',
  input: z
    .object({ email: z.string().trim().toLowerCase().optional(), account_id: z.number().int().positive().optional() })
    .refine((v) => (v.email === undefined) !== (v.account_id === undefined), { message: 'give exactly one of email or account_id', path: ['email'] }),
  run: async (deps, input) => {
    const account = await getAccount(deps.db, { id: input.account_id, email: input.email });
    assertSyncable(account);
    const begun = await beginAccountSync(deps, account);
    if (!begun.go) return { ...begun.run, status: 'running' as const };
    return { ...(await begun.go()), already_running: false };
  },
});
