// GET /api/insights/going-cold?days=60: investors whose last two-way exchange is older than
// `days` after an active year (at least three exchanges in the year up to it), newest-lost
// first, each with the partner best placed to reach out. Read-only.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { goingCold } from '../lib/insights/read.js';
import { ensureTeam } from '../lib/insights/team.js';

export const listGoingCold = defineFunction({
  name: 'listGoingCold',
  input: z.object({ days: z.coerce.number().int().min(1).max(3650).default(60) }),
  async run(deps, input) {
    await ensureTeam(deps.db, deps.config.gmail.workspaceDomains);
    return { days: input.days, investors: await goingCold(deps.db, input.days, deps.clock.now()) };
  },
});
