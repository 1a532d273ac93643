// One investor with its domains, addresses and contacts. Read-only; runs on GET /api/investors/:id
// (any user).
import { z } from 'zod';
import { investorById, readContacts } from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';

export const getInvestor = defineFunction({
  name: 'getInvestor',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input) {
    const investor = await investorById(deps.db, input.id);
    return { ...investor, contacts: await readContacts(deps.db, { investor_id: investor.id }) };
  },
});
