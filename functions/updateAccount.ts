// Pause or resume one mailbox. Runs on PATCH /api/email/accounts/:id {sync_enabled} (admin).
// Idempotent. Pausing is not a state: a paused mailbox keeps its state and its sync position.
import { z } from 'zod';
import { accountView, getAccount } from '../lib/capture/accounts.js';
import { run } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';

export const updateAccount = defineFunction({
  name: 'updateAccount',
  input: z.object({ id: z.number().int().positive(), sync_enabled: z.boolean({ message: 'sync_enabled must be true or false' }) }),
  run: async (deps, input) => {
    const acc = await getAccount(deps.db, { id: input.id });
    await run(deps.db, 'UPDATE email_accounts SET sync_enabled = ?, updated_at = ? WHERE id = ?', [input.sync_enabled ? 1 : 0, nowIso(deps.clock), input.id]);
    deps.log.info({ event: input.sync_enabled ? 'accounts.resumed' : 'accounts.paused', account: acc.email }, 'mailbox sync toggled');
    return accountView(await getAccount(deps.db, { id: input.id }));
  },
});
