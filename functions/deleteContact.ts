// Removes a contact and queues its addresses for rematch. Runs on DELETE /api/contacts/:id
// (any user); a second run answers NOT_FOUND.
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import { contactById, RematchSet } from '../lib/directory/directory.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';

export const deleteContact = defineFunction({
  name: 'deleteContact',
  input: z.object({ id: z.coerce.number().int().positive() }),
  async run(deps, input, ctx) {
    await writeTx(deps.db, async (tx) => {
      const contact = await contactById(tx, input.id);
      const rq = new RematchSet();
      rq.add('address', contact.emails);
      await tx.execute({ sql: 'DELETE FROM contacts WHERE id = ?', args: [contact.id] });
      await rq.flush(tx, nowIso(deps.clock));
    });
    deps.log.info({ event: 'directory.contact_deleted', contact_id: input.id, by: ctx.actor?.id }, 'contact deleted');
    return null;
  },
});
