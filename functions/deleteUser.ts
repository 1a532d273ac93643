// Removes a team member; their tokens go with them. Runs on DELETE /api/users/:id (admin).
// Running it twice answers NOT_FOUND the second time.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { writeTx } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';
import { assertOtherEnabledAdmin, userById } from '../lib/directory/users.js';

export const deleteUser = defineFunction({
  name: 'deleteUser',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input, ctx) {
    await writeTx(deps.db, async (tx) => {
      const user = await userById(tx, input.id);
      if (user.role === 'admin' && !user.disabled) await assertOtherEnabledAdmin(tx, user.id, 'delete');
      // tokens and oauth_states rows go by ON DELETE CASCADE.
      await tx.execute({ sql: 'DELETE FROM users WHERE id = ?', args: [user.id] });
      await recordAudit(tx, { at: nowIso(deps.clock), actor: ctx.actor, action: 'user.delete', target: `user:${user.id}`, detail: { before: user } });
    });
    deps.log.info({ event: 'users.deleted', user_id: input.id, by: ctx.actor?.id }, 'user deleted');
    return null;
  },
});
