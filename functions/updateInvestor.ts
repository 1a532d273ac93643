// Renames an investor or replaces its domain or address list; what was added or removed is
// queued for rematch. Runs on PATCH /api/investors/:id (any user); running it twice changes
// nothing more.
import { z } from 'zod';
import { one, writeTx } from '../lib/db/client.js';
import {
  investorById,
  directoryPolicy,
  externalAddress,
  investorDomain,
  normaliseList,
  normaliseName,
  RematchSet,
  replaceValues,
  touch,
  type InvestorView,
} from '../lib/directory/directory.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { heldAnswer, isPendingReview, reviewable, settleChange } from '../lib/directory/review.js';
import { nowIso } from '../lib/core/time.js';
import { withdrawTouched } from '../lib/matching/rematch.js';

export const updateInvestor = defineFunction({
  name: 'updateInvestor',
  input: z.object({
    id: z.coerce.number().int().positive(),
    name: z.unknown().optional(),
    domains: z.array(z.unknown()).optional(),
    emails: z.array(z.unknown()).optional(),
  }),
  async run(deps, input, ctx) {
    const name = input.name === undefined ? undefined : normaliseName(input.name, 'name');
    const domains = input.domains && normaliseList(input.domains, 'domains', investorDomain(directoryPolicy(deps.config)));
    const emails = input.emails && normaliseList(input.emails, 'emails', externalAddress(directoryPolicy(deps.config)));
    const now = nowIso(deps.clock);
    let touched: { addresses: string[]; domains: string[] } = { addresses: [], domains: [] };
    const out = await reviewable(deps, ctx, { fn: 'updateInvestor', input, summary: `update investor ${input.id}` }, () =>
      writeTx(deps.db, async (tx) => {
      const before = await investorById(tx, input.id);
      const rq = new RematchSet();
      let changed = false;
      if (name !== undefined && name !== before.name) {
        const clash = await one<{ id: number }>(tx, 'SELECT id FROM investors WHERE name = ? AND id <> ?', [name, before.id]);
        if (clash) throw new AppError('CONFLICT', `name: another investor (id ${clash.id}) is named ${JSON.stringify(name)}`, { field: 'name' });
        await tx.execute({ sql: 'UPDATE investors SET name = ? WHERE id = ?', args: [name, before.id] });
        changed = true;
      }
      if (domains) changed = (await replaceValues(tx, 'investor_domains', before.id, domains, rq)) || changed;
      if (emails) changed = (await replaceValues(tx, 'investor_emails', before.id, emails, rq)) || changed;
      if (changed) await touch(tx, 'investors', before.id, now);
      const after = await investorById(tx, before.id);
      // What the change touched, for the withdrawal after it commits (settleChange empties rq).
      touched = { addresses: [...rq.addresses], domains: [...rq.domains] };
      await settleChange(deps, ctx, tx, rq, { action: 'investor.update', target: `investor:${before.id}`, before, after });
      return after;
      }),
    );
    if (isPendingReview(out)) return heldAnswer<InvestorView>(out);
    // Mail that matched only through what was removed stops matching now, not at the next drain.
    await withdrawTouched(deps, touched);
    const investor = out;
    deps.log.info({ event: 'directory.investor_updated', investor_id: investor.id, by: ctx.actor?.id }, 'investor updated');
    return investor;
  },
});
