// GET /api/reviews?status= (admin): directory changes held because they would newly expose
// more withheld mail than CRM_REMATCH_REVIEW_THRESHOLD, pending ones by default. Read-only.
import { z } from 'zod';
import { all } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';

export const listReviews = defineFunction({
  name: 'listReviews',
  input: z.object({ status: z.enum(['pending', 'approved', 'rejected', 'all']).default('pending') }),
  run: async (deps, input) => {
    const rows = await all<{ id: number; fn: string; summary: string; newly_exposed: number; requested_by: string | null; requested_at: string; status: string; decided_by: number | null; decided_at: string | null }>(
      deps.db,
      `SELECT id, fn, summary, newly_exposed, requested_by, requested_at, status, decided_by, decided_at FROM rematch_reviews
        ${input.status === 'all' ? '' : 'WHERE status = ?'} ORDER BY id DESC LIMIT 500`,
      input.status === 'all' ? [] : [input.status],
    );
    return {
      reviews: rows.map((r) => {
        const by = r.requested_by ? (JSON.parse(r.requested_by) as { id: number; username: string }) : null;
        return {
          id: r.id,
          action: r.fn,
          summary: r.summary,
          newly_exposed: r.newly_exposed,
          requested_by: by ? { id: by.id, username: by.username } : null,
          requested_at: r.requested_at,
          status: r.status,
          decided_by: r.decided_by,
          decided_at: r.decided_at,
        };
      }),
    };
  },
});
