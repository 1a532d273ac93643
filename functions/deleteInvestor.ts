// Removes an investor; its contacts stay, without an investor. Its domains and addresses and
// its contacts' addresses are queued for rematch. Runs on DELETE /api/investors/:id (any user);
// a second run answers NOT_FOUND.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import { investorById, queueInvestorAddresses, RematchSet } from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';

export const deleteInvestor = defineFunction({
  name: 'deleteInvestor',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input, ctx) {
    await writeTx(deps.db, async (tx) => {
      const investor = await investorById(tx, input.id);
      const rq = new RematchSet();
      await queueInvestorAddresses(tx, investor.id, rq);
      await tx.execute({ sql: 'DELETE FROM investors WHERE id = ?', args: [investor.id] });
      await rq.flush(tx, nowIso(deps.clock));
    });
    deps.log.info({ event: 'directory.investor_deleted', investor_id: input.id, by: ctx.actor?.id }, 'investor deleted');
    return null;
  },
});
