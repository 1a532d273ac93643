// GET /api/insights/partners/:user_id: the investors one team member knows, strongest
// connection first, scored on their own mail. Read-only.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { userById } from '../lib/directory/users.js';
import { normalizeAddress } from '../lib/mail/address.js';
import { partnerRelationships } from '../lib/insights/read.js';
import { ensureTeam } from '../lib/insights/team.js';

export const getPartnerInsights = defineFunction({
  name: 'getPartnerInsights',
  input: z.object({
    user_id: z.coerce.number().int().positive(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  }),
  async run(deps, input) {
    const user = await userById(deps.db, input.user_id);
    await ensureTeam(deps.db, deps.config.gmail.workspaceDomains);
    const address = normalizeAddress(user.email);
    return {
      user_id: user.id,
      email: address,
      investors: address ? await partnerRelationships(deps.db, address, deps.clock.now(), input.limit) : [],
    };
  },
});
