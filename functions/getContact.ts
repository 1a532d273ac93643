// One contact with its addresses. Read-only; runs on GET /api/contacts/:id (any user).
import { z } from 'zod';
import { contactById } from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';

export const getContact = defineFunction({
  name: 'getContact',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input) {
    return contactById(deps.db, input.id);
  },
});
