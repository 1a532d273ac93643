// GET /api/insights/investors/:id: when the team last talked with an investor, each way, who
// on the team knows them best, and a strength score with its parts. Read-only (it may first
// bring the activity in line with a changed team; safe to run twice).
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { AppError } from '../lib/core/errors.js';
import { entityInsights, entityName } from '../lib/insights/read.js';
import { ensureTeam } from '../lib/insights/team.js';

export const getInvestorInsights = defineFunction({
  name: 'getInvestorInsights',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input) {
    await ensureTeam(deps.db, deps.config.gmail.workspaceDomains);
    const name = await entityName(deps.db, 'investor', input.id);
    if (name === null) throw new AppError('NOT_FOUND', `no investor ${input.id}`);
    return { id: input.id, name, ...(await entityInsights(deps.db, 'investor', input.id, deps.clock.now())) };
  },
});
