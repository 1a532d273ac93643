// Lists contacts with their addresses, optionally of one investor and/or whose name contains
// `q`. Read-only; runs on GET /api/contacts (any user).
import { z } from 'zod';
import { readContacts } from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';

export const listContacts = defineFunction({
  name: 'listContacts',
  input: z.object({
    q: z.string().trim().max(200).optional(),
    investor_id: z.coerce.number().int().positive().optional(),
  }),
  async run(deps, input) {
    return { contacts: await readContacts(deps.db, input) };
  },
});
