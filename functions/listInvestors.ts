// Lists investors with their domains and addresses, optionally those whose name contains `q`.
// Read-only; runs on GET /api/investors (any user).
import { z } from 'zod';
import { readInvestors } from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';

export const listInvestors = defineFunction({
  name: 'listInvestors',
  input: z.object({ q: z.string().trim().max(200).optional() }),
  async run(deps, input) {
    return { investors: await readInvestors(deps.db, { q: input.q }) };
  },
});
