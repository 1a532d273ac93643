// Removes a contact and queues its addresses for rematch. Runs on DELETE /api/contacts/:id
// (any user); a second run answers NOT_FOUND.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import { contactById, RematchSet } from '../lib/directory/directory.js';
import { emailsChanged } from '../lib/capture/changes.js';
import { all } from '../lib/db/client.js';
import { reviewable, settleChange } from '../lib/directory/review.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';
import { withdrawNow } from '../lib/matching/rematch.js';

export const deleteContact = defineFunction({
  name: 'deleteContact',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input, ctx) {
    let linkedIds: number[] = [];
    const out = await reviewable(deps, ctx, { fn: 'deleteContact', input, summary: `delete contact ${input.id}` }, () =>
      writeTx(deps.db, async (tx) => {
        const contact = await contactById(tx, input.id);
        const rq = new RematchSet();
        rq.add('address', contact.emails);
        // Its links go with it (ON DELETE CASCADE): mail that still matches otherwise shows fewer links now.
        const linked = await all<{ email_id: number }>(tx, 'SELECT DISTINCT email_id FROM email_investor_links WHERE contact_id = ?', [contact.id]);
        await tx.execute({ sql: 'DELETE FROM contacts WHERE id = ?', args: [contact.id] });
        await settleChange(deps, ctx, tx, rq, { action: 'contact.delete', target: `contact:${contact.id}`, before: contact });
        await emailsChanged(tx, linked.map((l) => l.email_id), { now: nowIso(deps.clock) });
        linkedIds = linked.map((l) => l.email_id);
        return null;
      }),
    );
    if (out) return out;
    // Mail that matched only through it stops matching now, not at the next drain.
    await withdrawNow(deps, linkedIds);
    deps.log.info({ event: 'directory.contact_deleted', contact_id: input.id, by: ctx.actor?.id }, 'contact deleted');
    return null;
  },
});
