// Pause or resume one mailbox. Runs on PATCH /api/email/accounts/:id {sync_enabled} (admin).
// Idempotent. Pausing is not a state: a paused mailbox keeps its state and its sync position.
// The flag is written through lib/capture/accounts.ts, the only writer of account state.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { accountView, getAccount, setSyncEnabled } from '../lib/capture/accounts.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';

export const updateAccount = defineFunction({
  name: 'updateAccount',
  input: z.object({ id: z.number().int().positive(), sync_enabled: z.boolean({ message: 'sync_enabled must be true or false' }) }),
  run: async (deps, input, ctx) => {
    const acc = await getAccount(deps.db, { id: input.id });
    await setSyncEnabled(deps.db, input.id, input.sync_enabled, nowIso(deps.clock));
    deps.log.info({ event: input.sync_enabled ? 'accounts.resumed' : 'accounts.paused', account: acc.email }, 'mailbox sync toggled');
    await recordAudit(deps.db, { at: new Date(deps.clock.now()).toISOString(), actor: ctx.actor, action: 'account.update', target: `account:${acc.id}`, detail: { email: acc.email, before: { sync_enabled: acc.sync_enabled === 1 }, after: { sync_enabled: input.sync_enabled } } });
    return accountView(await getAccount(deps.db, { id: input.id }));
  },
});
