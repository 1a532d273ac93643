// Adds an address or a domain that never matches, and queues it for rematch so mail already
// matched through it is withdrawn. Runs on POST /api/exclusions (admin); a second run with the
// same value answers CONFLICT.
import { z } from 'zod';
import { one, writeTx } from '../lib/db/client.js';
import {
  addressField,
  domainField,
  RematchSet,
} from '../lib/directory/directory.js';
import { AppError, validation } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { reviewable, settleChange } from '../lib/directory/review.js';
import { nowIso } from '../lib/core/time.js';
import { withdrawTouched } from '../lib/matching/rematch.js';

export const createExclusion = defineFunction({
  name: 'createExclusion',
  // A null side counts as absent, so the shape the list answers ({address, domain: null}) is accepted back.
  input: z.object({
    address: z.unknown().transform((v) => (v === null ? undefined : v)).optional(),
    domain: z.unknown().transform((v) => (v === null ? undefined : v)).optional(),
  }),
  async run(deps, input, ctx) {
    if ((input.address === undefined) === (input.domain === undefined)) {
      throw validation('address', 'give exactly one of address or domain');
    }
    const kind = input.address !== undefined ? 'address' : 'domain';
    const value = kind === 'address' ? addressField(input.address, 'address') : domainField(input.domain, 'domain');
    const now = nowIso(deps.clock);
    const exclusion = await writeTx(deps.db, async (tx) => {
      const clash = await one<{ id: number }>(tx, `SELECT id FROM exclusions WHERE ${kind} = ?`, [value]);
      if (clash) throw new AppError('CONFLICT', `${kind}: ${value} is already excluded (id ${clash.id})`, { field: kind });
      const rs = await tx.execute({ sql: `INSERT INTO exclusions (${kind}, created_at) VALUES (?, ?)`, args: [value, now] });
      const rq = new RematchSet();
      rq.add(kind, [value]);
      const view = { id: Number(rs.lastInsertRowid), address: kind === 'address' ? value : null, domain: kind === 'domain' ? value : null, created_at: now };
      // Excluding only withdraws mail, so it never needs review: the gate is for widening.
      await settleChange(deps, { ...ctx, review: undefined }, tx, new RematchSet(), { action: 'exclusion.create', target: `exclusion:${view.id}`, after: view });
      await rq.flush(tx, now);
      return view;
    });
    // An excluded address never matches: what matched through it is withdrawn now.
    await withdrawTouched(deps, kind === 'address' ? { addresses: [value], domains: [] } : { addresses: [], domains: [value] });
    deps.log.info({ event: 'directory.exclusion_created', exclusion_id: exclusion.id, by: ctx.actor?.id }, 'exclusion created');
    return exclusion;
  },
});
