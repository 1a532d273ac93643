// Recompute all relationship activity from the mail tables (CLI only; no route). For an
// operator who wants the figures rebuilt from scratch; the service never needs it in normal
// operation. Safe to run twice and beside a running sync.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { ensureTeam, recomputeAll } from '../lib/insights/team.js';

export const rebuildInsights = defineFunction({
  name: 'rebuildInsights',
  input: z.object({}).strict(),
  async run(deps) {
    const team = await ensureTeam(deps.db, deps.config.gmail.workspaceDomains);
    // A changed domain list has just rebuilt everything; do not do it twice.
    const emails = team === 'rebuilt' ? null : await recomputeAll(deps.db, { clear: true });
    deps.log.info({ event: 'insights.rebuilt', emails }, 'relationship activity recomputed');
    return { rebuilt: true, emails };
  },
});
