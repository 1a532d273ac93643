// Adds an investor with its domains and addresses, and queues them for rematch. Runs on
// POST /api/investors (any user) or from the command line; a second run with the same name
// answers CONFLICT.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import {
  addValues,
  insertInvestor,
  investorById,
  normaliseAddress,
  normaliseDomain,
  normaliseList,
  normaliseName,
  RematchSet,
} from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';

export const createInvestor = defineFunction({
  name: 'createInvestor',
  input: z.object({
    name: z.unknown(),
    domains: z.array(z.unknown()).optional(),
    emails: z.array(z.unknown()).optional(),
  }),
  async run(deps, input, ctx) {
    const name = normaliseName(input.name, 'name');
    const domains = normaliseList(input.domains, 'domains', normaliseDomain);
    const emails = normaliseList(input.emails, 'emails', normaliseAddress);
    const now = nowIso(deps.clock);
    const investor = await writeTx(deps.db, async (tx) => {
      const rq = new RematchSet();
      const id = await insertInvestor(tx, name, now);
      await addValues(tx, 'investor_domains', id, domains, rq);
      await addValues(tx, 'investor_emails', id, emails, rq);
      await rq.flush(tx, now);
      return investorById(tx, id);
    });
    deps.log.info({ event: 'directory.investor_created', investor_id: investor.id, by: ctx.actor?.id }, 'investor created');
    return investor;
  },
});
