// Removes an exclusion and queues its address or domain for rematch, so its mail can match
// again. Runs on DELETE /api/exclusions/:id (admin); a second run answers NOT_FOUND.
import { z } from 'zod';
import { one, writeTx } from '../lib/db/client.js';
import { RematchSet } from '../lib/directory/directory.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { reviewable, settleChange } from '../lib/directory/review.js';
import { nowIso } from '../lib/core/time.js';

export const deleteExclusion = defineFunction({
  name: 'deleteExclusion',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input, ctx) {
    const out = await reviewable(deps, ctx, { fn: 'deleteExclusion', input, summary: `delete exclusion ${input.id}` }, () =>
      writeTx(deps.db, async (tx) => {
        const found = await one<{ id: number; address: string | null; domain: string | null; created_at: string }>(
          tx,
          'SELECT id, address, domain, created_at FROM exclusions WHERE id = ?',
          [input.id],
        );
        if (!found) throw new AppError('NOT_FOUND', `no exclusion with id ${input.id}`);
        await tx.execute({ sql: 'DELETE FROM exclusions WHERE id = ?', args: [input.id] });
        const rq = new RematchSet();
        if (found.address) rq.add('address', [found.address]);
        if (found.domain) rq.add('domain', [found.domain]);
        await settleChange(deps, ctx, tx, rq, { action: 'exclusion.delete', target: `exclusion:${input.id}`, before: found });
        return null;
      }),
    );
    if (out) return out;
    deps.log.info({ event: 'directory.exclusion_deleted', exclusion_id: input.id, by: ctx.actor?.id }, 'exclusion deleted');
    return null;
  },
});
