// GET /api/feed?after=&limit= (admin or a feed token), and `npm run fn -- readFeed '{"after":0}'`:
// the change feed, oldest first. after=0 answers the compacted snapshot of what is current,
// then the live tail; an `after` below the retained history answers 410. Read-only.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { MAX_LIMIT, readFeedPage } from '../lib/feed/read.js';

export const readFeed = defineFunction({
  name: 'readFeed',
  input: z.object({
    // Negative values continue a snapshot (see lib/feed/read.ts); they come only from next_after.
    after: z.coerce.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).default(0),
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(100),
  }),
  run: async (deps, input) => {
    const page = await readFeedPage(deps.db, input.after, input.limit);
    return { events: page.events, next_after: page.next_after, head: page.head };
  },
});
