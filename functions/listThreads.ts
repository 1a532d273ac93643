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
    const args: (string | number)[] = [ownerId];
    let page = '';
    if (after) {
      page = "AND (coalesce(t.last_message_at, '') < ? OR (coalesce(t.last_message_at, '') = ? AND t.id < ?))";
      args.push(after.at, after.at, after.id);
    }
    args.push(input.limit + 1);
    const rows = await all<ThreadSummary>(
      deps.db,
      `SELECT t.id, t.subject, t.first_message_at, t.last_message_at, t.message_count
         FROM email_threads t
        WHERE t.id IN (SELECT e.thread_id FROM email_investor_links l JOIN emails e ON e.id = l.email_id AND e.is_matched = 1
                        WHERE l.${byInvestor ? 'investor_id' : 'contact_id'} = ? AND e.thread_id IS NOT NULL)
          ${page}
        ORDER BY coalesce(t.last_message_at, '') DESC, t.id DESC
        LIMIT ?`,
      args,
    );
    const more = rows.length > input.limit;
    const threads = rows.slice(0, input.limit);
    return { threads, next_cursor: more ? encodeCursor(threads[threads.length - 1]!) : null };
  },
});
