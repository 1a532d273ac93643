// Renames a contact, moves it to another investor (or none), or replaces its addresses; the
// addresses whose matches change are queued for rematch. Runs on PATCH /api/contacts/:id
// (any user); running it twice changes nothing more.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import {
  assertContactEmailsFree,
  assertInvestorExists,
  contactById,
  directoryPolicy,
  externalAddress,
  normaliseList,
  normaliseName,
  RematchSet,
  replaceValues,
  touch,
  type ContactView,
} from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';
import { heldAnswer, isPendingReview, reviewable, settleChange } from '../lib/directory/review.js';
import { nowIso } from '../lib/core/time.js';
import { withdrawTouched } from '../lib/matching/rematch.js';

export const updateContact = defineFunction({
  name: 'updateContact',
  input: z.object({
    id: z.coerce.number().int().positive(),
    name: z.unknown().optional(),
    emails: z.array(z.unknown()).optional(),
    investor_id: z.number().int().positive().nullable().optional(),
  }),
  async run(deps, input, ctx) {
    const name = input.name === undefined ? undefined : normaliseName(input.name, 'name');
    const emails = input.emails && normaliseList(input.emails, 'emails', externalAddress(directoryPolicy(deps.config)));
    const now = nowIso(deps.clock);
    let touched: { addresses: string[]; domains: string[] } = { addresses: [], domains: [] };
    const out = await reviewable(deps, ctx, { fn: 'updateContact', input, summary: `update contact ${input.id}` }, () =>
      writeTx(deps.db, async (tx) => {
      const before = await contactById(tx, input.id);
      const rq = new RematchSet();
      const sets: string[] = [];
      const args: (string | number | null)[] = [];
      if (name !== undefined && name !== before.name) {
        sets.push('name = ?');
        args.push(name);
      }
      if (input.investor_id !== undefined && input.investor_id !== before.investor_id) {
        await assertInvestorExists(tx, input.investor_id);
        sets.push('investor_id = ?');
        args.push(input.investor_id);
        // Every address of the contact now leads to another investor.
        rq.add('address', before.emails);
      }
      if (sets.length) await tx.execute({ sql: `UPDATE contacts SET ${sets.join(', ')} WHERE id = ?`, args: [...args, before.id] });
      let changed = sets.length > 0;
      if (emails) {
        await assertContactEmailsFree(tx, emails, before.id, 'emails');
        changed = (await replaceValues(tx, 'contact_emails', before.id, emails, rq)) || changed;
      }
      if (changed) await touch(tx, 'contacts', before.id, now);
      const after = await contactById(tx, before.id);
      // What the change touched, for the withdrawal after it commits (settleChange empties rq).
      touched = { addresses: [...rq.addresses], domains: [...rq.domains] };
      await settleChange(deps, ctx, tx, rq, { action: 'contact.update', target: `contact:${before.id}`, before, after });
      return after;
      }),
    );
    if (isPendingReview(out)) return heldAnswer<ContactView>(out);
    // Mail that matched only through what was removed stops matching now, not at the next drain.
    await withdrawTouched(deps, touched);
    const contact = out;
    deps.log.info({ event: 'directory.contact_updated', contact_id: contact.id, by: ctx.actor?.id }, 'contact updated');
    return contact;
  },
});
