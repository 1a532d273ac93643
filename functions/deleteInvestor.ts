// Removes an investor; its contacts stay, without an investor. Its domains and addresses and
// its contacts' addresses are queued for rematch. Runs on DELETE /api/investors/:id (any user);
// a second run answers NOT_FOUND.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import { investorById, queueInvestorAddresses, RematchSet } from '../lib/directory/directory.js';
import { emailsChanged } from '../lib/capture/changes.js';
import { all } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';
import { reviewable, settleChange } from '../lib/directory/review.js';
import { nowIso } from '../lib/core/time.js';
import { withdrawNow } from '../lib/matching/rematch.js';

export const deleteInvestor = defineFunction({
  name: 'deleteInvestor',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input, ctx) {
    let linkedIds: number[] = [];
    const out = await reviewable(deps, ctx, { fn: 'deleteInvestor', input, summary: `delete investor ${input.id}` }, () =>
      writeTx(deps.db, async (tx) => {
        const investor = await investorById(tx, input.id);
        const rq = new RematchSet();
        await queueInvestorAddresses(tx, investor.id, rq);
        // Its links go with it (ON DELETE CASCADE): mail that still matches otherwise shows fewer links now.
        const linked = await all<{ email_id: number }>(tx, 'SELECT DISTINCT email_id FROM email_investor_links WHERE investor_id = ?', [investor.id]);
        await tx.execute({ sql: 'DELETE FROM investors WHERE id = ?', args: [investor.id] });
        await settleChange(deps, ctx, tx, rq, { action: 'investor.delete', target: `investor:${investor.id}`, before: investor });
        await emailsChanged(tx, linked.map((l) => l.email_id), { now: nowIso(deps.clock) });
        linkedIds = linked.map((l) => l.email_id);
        return null;
      }),
    );
    if (out) return out;
    // Mail that matched only through it stops matching now, not at the next drain.
    await withdrawNow(deps, linkedIds);
    deps.log.info({ event: 'directory.investor_deleted', investor_id: input.id, by: ctx.actor?.id }, 'investor deleted');
    return null;
  },
});
