// POST /api/feed/tokens (admin) {name}: a read-only feed token (role `reader`) for a program
// on the box. The token is in this answer only; the database keeps its hash. Each run makes a new token.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { createFeedToken as create } from '../lib/feed/tokens.js';

export const createFeedToken = defineFunction({
  name: 'createFeedToken',
  input: z.object({ name: z.string().trim().min(1).max(100) }),
  run: async (deps, input, ctx) => {
    const t = await create(deps.db, input.name, ctx.actor?.id ?? null, deps.clock.now());
    deps.log.info({ event: 'feed.token_created', feed_token_id: t.id, name: t.name, by: ctx.actor?.id }, 'feed token created');
    return t;
  },
});
