// Adds an investor with its domains and addresses, and queues them for rematch. Runs on
// POST /api/investors (any user) or from the command line; a second run with the same name
// answers CONFLICT.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import {
  addValues,
  insertInvestor,
  investorById,
  directoryPolicy,
  externalAddress,
  investorDomain,
  normaliseList,
  normaliseName,
  RematchSet,
  type InvestorView,
} from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';
import { heldAnswer, isPendingReview, reviewable, settleChange } from '../lib/directory/review.js';
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
    const domains = normaliseList(input.domains, 'domains', investorDomain(directoryPolicy(deps.config)));
    const emails = normaliseList(input.emails, 'emails', externalAddress(directoryPolicy(deps.config)));
    const now = nowIso(deps.clock);
    const out = await reviewable(deps, ctx, { fn: 'createInvestor', input, summary: `create investor ${name}` }, () =>
      writeTx(deps.db, async (tx) => {
        const rq = new RematchSet();
        const id = await insertInvestor(tx, name, now);
        await addValues(tx, 'investor_domains', id, domains, rq);
        await addValues(tx, 'investor_emails', id, emails, rq);
        const view = await investorById(tx, id);
        await settleChange(deps, ctx, tx, rq, { action: 'investor.create', target: `investor:${id}`, after: view });
        return view;
      }),
    );
    if (isPendingReview(out)) return heldAnswer<InvestorView>(out);
    const investor = out;
    deps.log.info({ event: 'directory.investor_created', investor_id: investor.id, by: ctx.actor?.id }, 'investor created');
    return investor;
  },
});
