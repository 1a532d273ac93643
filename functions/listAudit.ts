// GET /api/audit?limit=&cursor= (admin): the audit log, newest first — directory, exclusion
// and enrolment changes, reviews, and rematch purges. Read-only; safe to run any number of times.
import { z } from 'zod';
import { readAudit } from '../lib/audit/audit.js';
import { defineFunction } from '../lib/core/fn.js';

export const listAudit = defineFunction({
  name: 'listAudit',
  input: z.object({
    limit: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(500, 'must be at most 500').default(100),
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, 'must be the next_cursor of an earlier page')
      .transform(Number)
      .optional(),
  }),
  run: async (deps, input) => readAudit(deps.db, { limit: input.limit, before: input.cursor }),
});
