// GET /api/insights/contacts/:id: the same insights as for an investor, for one contact's own
// addresses. Read-only (it may first bring the activity in line with a changed team).
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { AppError } from '../lib/core/errors.js';
import { entityInsights, entityName } from '../lib/insights/read.js';
import { ensureTeam } from '../lib/insights/team.js';

export const getContactInsights = defineFunction({
  name: 'getContactInsights',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input) {
    await ensureTeam(deps.db, deps.config.gmail.workspaceDomains);
    const name = await entityName(deps.db, 'contact', input.id);
    if (name === null) throw new AppError('NOT_FOUND', `no contact ${input.id}`);
    return { id: input.id, name, ...(await entityInsights(deps.db, 'contact', input.id, deps.clock.now())) };
  },
});
