// POST /api/reviews/:id/reject (admin): refuse a held directory change. A held change was
// rolled back when it was held, so nothing of it exists: rejecting marks the review `rejected`
// (who, when), writes an audit entry, and the change is never applied. The withheld mail stays
// withheld (no rematch is queued), and a later approve or a second reject answers CONFLICT.
// Whoever still wants the change makes it again, and it is held again.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { one, run, writeTx } from '../lib/db/client.js';

export const rejectReview = defineFunction({
  name: 'rejectReview',
  input: z.object({ id: z.coerce.number().int().positive() }),
  run: async (deps, input, ctx) => {
    const now = new Date(deps.clock.now()).toISOString();
    const review = await writeTx(deps.db, async (decided) => {
      const review = await one<{ id: number; fn: string; summary: string; newly_exposed: number; status: string }>(
        decided,
        'SELECT id, fn, summary, newly_exposed, status FROM rematch_reviews WHERE id = ?',
        [input.id],
      );
      if (!review) throw new AppError('NOT_FOUND', `no review with id ${input.id}`);
      // The status test is in the UPDATE itself, so a reject racing an approve cannot both win.
      const r = await run(decided, "UPDATE rematch_reviews SET status = 'rejected', decided_by = ?, decided_at = ? WHERE id = ? AND status = 'pending'", [
        ctx.actor?.id ?? null,
        now,
        review.id,
      ]);
      if (r.rowsAffected !== 1) throw new AppError('CONFLICT', `review ${review.id} is already ${review.status}`);
      await recordAudit(decided, {
        at: now,
        actor: ctx.actor,
        action: 'review.rejected',
        target: `review:${review.id}`,
        detail: { fn: review.fn, summary: review.summary, newly_exposed: review.newly_exposed },
      });
      return review;
    });
    deps.log.info({ event: 'directory.review_rejected', review_id: review.id, fn: review.fn, by: ctx.actor?.id }, 'held directory change rejected');
    return { id: review.id, status: 'rejected' as const, action: review.fn, decided_at: now };
  },
});
