// Retires feed tombstones older than CRM_FEED_TOMBSTONE_DAYS and raises the feed's horizon
// (readers below it answer 410 and rebuild from after=0). Runs hourly from the scheduler;
// running it twice is safe.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { compactFeed as compact } from '../lib/feed/retention.js';

export const compactFeed = defineFunction({
  name: 'compactFeed',
  input: z.object({ trigger: z.string().max(32).optional() }),
  run: async (deps) => {
    const r = await compact(deps.db, deps.clock.now(), deps.config.feed.tombstoneDays);
    if (r.retired) deps.log.info({ event: 'feed.compacted', retired: r.retired, horizon: r.horizon }, 'feed tombstones past retention retired');
    return r;
  },
});
