// Adds a contact, optionally at an investor, and queues its addresses for rematch. Runs on
// POST /api/contacts (any user) or from the command line. An address may belong to one contact
// only, so a second run with the same addresses answers CONFLICT.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import {
  addValues,
  assertContactEmailsFree,
  assertInvestorExists,
  contactById,
  insertContact,
  directoryPolicy,
  externalAddress,
  normaliseList,
  normaliseName,
  RematchSet,
  type ContactView,
} from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';
import { heldAnswer, isPendingReview, reviewable, settleChange } from '../lib/directory/review.js';
import { nowIso } from '../lib/core/time.js';

export const createContact = defineFunction({
  name: 'createContact',
  input: z.object({
    name: z.unknown(),
    emails: z.array(z.unknown()).optional(),
    investor_id: z.number().int().positive().nullable().optional(),
  }),
  async run(deps, input, ctx) {
    const name = normaliseName(input.name, 'name');
    const emails = normaliseList(input.emails, 'emails', externalAddress(directoryPolicy(deps.config)));
    const investorId = input.investor_id ?? null;
    const now = nowIso(deps.clock);
    const out = await reviewable(deps, ctx, { fn: 'createContact', input, summary: `create contact ${name}` }, () =>
      writeTx(deps.db, async (tx) => {
        await assertInvestorExists(tx, investorId);
        await assertContactEmailsFree(tx, emails, null, 'emails');
        const rq = new RematchSet();
        const id = await insertContact(tx, { name, investor_id: investorId }, now);
        await addValues(tx, 'contact_emails', id, emails, rq);
        const view = await contactById(tx, id);
        await settleChange(deps, ctx, tx, rq, { action: 'contact.create', target: `contact:${id}`, after: view });
        return view;
      }),
    );
    if (isPendingReview(out)) return heldAnswer<ContactView>(out);
    const contact = out;
    deps.log.info({ event: 'directory.contact_created', contact_id: contact.id, by: ctx.actor?.id }, 'contact created');
    return contact;
  },
});
