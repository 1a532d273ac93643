// Lists the addresses and domains that never match. Read-only; runs on GET /api/exclusions (admin).
import { z } from 'zod';
import { all } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';

export const listExclusions = defineFunction({
  name: 'listExclusions',
  input: z.object({}),
  async run(deps) {
    const exclusions = await all<{ id: number; address: string | null; domain: string | null; created_at: string }>(
      deps.db,
      'SELECT id, address, domain, created_at FROM exclusions ORDER BY coalesce(domain, address), id',
    );
    return { exclusions };
  },
});
