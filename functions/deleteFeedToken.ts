// DELETE /api/feed/tokens/:id (admin): revokes a feed token at once. A second run answers NOT_FOUND.
import { z } from 'zod';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { deleteFeedToken as remove } from '../lib/feed/tokens.js';

export const deleteFeedToken = defineFunction({
  name: 'deleteFeedToken',
  input: z.object({ id: z.coerce.number().int().positive() }),
  run: async (deps, input, ctx) => {
    if (!(await remove(deps.db, input.id))) throw new AppError('NOT_FOUND', `no feed token with id ${input.id}`);
    deps.log.info({ event: 'feed.token_deleted', feed_token_id: input.id, by: ctx.actor?.id }, 'feed token revoked');
    return null;
  },
});
