// POST /api/reviews/:id/approve (admin): apply a held directory change exactly as it was asked
// for, on behalf of the member who asked; the audit entry names both. Its mail is rematched
// (bodies fetched) by the queue within a minute. A second approval answers CONFLICT.
import { z } from 'zod';
import type { Actor } from '../lib/core/deps.js';
import { AppError } from '../lib/core/errors.js';
import { invoke, type AnyFn } from '../lib/core/fn.js';
import { defineFunction } from '../lib/core/fn.js';
import { one } from '../lib/db/client.js';
import { createContact } from './createContact.js';
import { createInvestor } from './createInvestor.js';
import { deleteContact } from './deleteContact.js';
import { deleteExclusion } from './deleteExclusion.js';
import { deleteInvestor } from './deleteInvestor.js';
import { importInvestors } from './importInvestors.js';
import { updateContact } from './updateContact.js';
import { updateInvestor } from './updateInvestor.js';

// Only the directory changes that can be held; anything else in the table is refused.
const HELD: Record<string, AnyFn> = {
  createContact: createContact as AnyFn,
  createInvestor: createInvestor as AnyFn,
  updateContact: updateContact as AnyFn,
  updateInvestor: updateInvestor as AnyFn,
  deleteContact: deleteContact as AnyFn,
  deleteInvestor: deleteInvestor as AnyFn,
  deleteExclusion: deleteExclusion as AnyFn,
  importInvestors: importInvestors as AnyFn,
};

export const approveReview = defineFunction({
  name: 'approveReview',
  input: z.object({ id: z.coerce.number().int().positive() }),
  run: async (deps, input, ctx) => {
    const review = await one<{ id: number; fn: string; input: string; requested_by: string | null; status: string }>(
      deps.db,
      'SELECT id, fn, input, requested_by, status FROM rematch_reviews WHERE id = ?',
      [input.id],
    );
    if (!review) throw new AppError('NOT_FOUND', `no review with id ${input.id}`);
    if (review.status !== 'pending') throw new AppError('CONFLICT', `review ${review.id} is already ${review.status}`);
    const fn = HELD[review.fn];
    if (!fn) throw new AppError('CONFLICT', `review ${review.id} holds ${review.fn}, which cannot be applied`);
    const requester = review.requested_by ? (JSON.parse(review.requested_by) as Actor) : undefined;
    const result = await invoke(deps, fn, JSON.parse(review.input), { actor: requester, client: ctx.client, review: { id: review.id, by: ctx.actor } });
    deps.log.info({ event: 'directory.review_approved', review_id: review.id, fn: review.fn, by: ctx.actor?.id }, 'held directory change approved');
    return { id: review.id, status: 'approved', action: review.fn, result };
  },
});
