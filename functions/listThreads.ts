// GET /api/email/threads?investor_id=|contact_id=&limit=&cursor= (any user): the conversations
// of one investor or contact, newest activity first. A thread is listed when at least one of
// its emails is matched and linked to them; internal-only and excluded mail never lists one.
// Read-only.
import { z } from 'zod';
import { all, one } from '../lib/db/client.js';
import { AppError, validation } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;

const Id = z.coerce.number({ message: 'must be a positive whole number' }).int('must be a positive whole number').positive('must be a positive whole number');

interface ThreadSummary {
  id: number;
  subject: string | null;
  first_message_at: string | null;
  last_message_at: string | null;
  message_count: number;
}

/** Opaque to callers: base64url of [last_message_at, id] of the last thread of a page. */
function encodeCursor(t: { last_message_at: string | null; id: number }): string {
  return Buffer.from(JSON.stringify([t.last_message_at ?? '', t.id]), 'utf8').toString('base64url');
}

function decodeCursor(raw: string): { at: string; id: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || !Number.isInteger(parsed[1])) {
    throw validation('cursor', 'cursor: is not a cursor this service handed out; pass next_cursor from the previous page unchanged');
  }
  return { at: parsed[0], id: parsed[1] };
}

export const listThreads = defineFunction({
  name: 'listThreads',
  input: z.object({
    investor_id: Id.optional(),
    contact_id: Id.optional(),
    limit: z.coerce
      .number({ message: `must be a whole number from 1 to ${MAX_LIMIT}` })
      .int(`must be a whole number from 1 to ${MAX_LIMIT}`)
      .min(1, `must be a whole number from 1 to ${MAX_LIMIT}`)
      .max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`)
      .default(DEFAULT_LIMIT),
    cursor: z.string().trim().min(1, 'must not be empty').optional(),
  }),
  run: async (deps, input) => {
    if ((input.investor_id === undefined) === (input.contact_id === undefined)) {
      throw validation('investor_id', 'give exactly one of investor_id or contact_id');
    }
    const byInvestor = input.investor_id !== undefined;
    const ownerId = (byInvestor ? input.investor_id : input.contact_id)!;
    const owner = await one(deps.db, `SELECT id FROM ${byInvestor ? 'investors' : 'contacts'} WHERE id = ?`, [ownerId]);
    if (!owner) throw new AppError('NOT_FOUND', `no ${byInvestor ? 'investor' : 'contact'} with id ${ownerId}`);

    const after = input.cursor ? decodeCursor(input.cursor) : null;
    const [table, column] = byInvestor ? ['email_investor_threads', 'investor_id'] : ['email_contact_threads', 'contact_id'];
    const args: (string | number)[] = [ownerId];
    let page = '';
    if (after) {
      page = 'AND (a.last_message_at < ? OR (a.last_message_at = ? AND a.thread_id < ?))';
      args.push(after.at, after.at, after.id);
    }
    args.push(ownerId, input.limit + 1);
    // The activity table orders; the EXISTS keeps the answer exact even if a row outlived its link.
    // Its unary pluses keep SQLite on the thread's own emails: by the owner's links or by
    // is_matched it would read a large relationship's every link for each row.
    const rows = await all<ThreadSummary & { sort_at: string }>(
      deps.db,
      `SELECT t.id, t.subject, t.first_message_at, t.last_message_at, t.message_count, a.last_message_at AS sort_at
         FROM ${table} a
         JOIN email_threads t ON t.id = a.thread_id
        WHERE a.${column} = ? ${page}
          AND EXISTS (SELECT 1 FROM emails e JOIN email_investor_links l ON l.email_id = e.id
                       WHERE e.thread_id = a.thread_id AND +e.is_matched = 1 AND +l.${column} = ?)
        ORDER BY a.last_message_at DESC, a.thread_id DESC
        LIMIT ?`,
      args,
    );
    const more = rows.length > input.limit;
    const page_ = rows.slice(0, input.limit);
    const last = page_[page_.length - 1];
    const threads: ThreadSummary[] = page_.map(({ sort_at: _s, ...t }) => t);
    return { threads, next_cursor: more && last ? encodeCursor({ last_message_at: last.sort_at, id: last.id }) : null };
  },
});
