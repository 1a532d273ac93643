// Every directory write ends here: its rematch queue rows, its audit entry, and the review
// gate. A member's change that would newly expose more withheld emails than the review
// threshold is rolled back and kept as a pending review instead; it is applied, as asked, when an admin
// approves it. Holding the change itself (not just the body fetch) means no sync, rematch or
// thread read can expose that mail before the admin has said yes.
import type { Transaction } from '@libsql/client';
import { recordAudit } from '../audit/audit.js';
import type { CallContext, Deps } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import { all, one, run, type Executor } from '../db/client.js';
import { loadDirectory, Matcher, storedParticipants } from '../matching/matcher.js';
import { affectedEmailIds } from '../matching/rematch.js';
import type { Config } from '../core/config.js';
import type { RematchSet } from './directory.js';


/** Thrown inside a directory transaction to roll it back and keep the change for review. */
class HeldForReview extends Error {
  constructor(readonly newlyExposed: number) {
    super(`held for review: ${newlyExposed} withheld emails would become readable`);
    this.name = 'HeldForReview';
  }
}

/**
 * How many emails now withheld (unmatched) the directory as `tx` sees it would match, among
 * the mail of the queued addresses and domains.
 */
async function newlyExposed(tx: Executor, config: Config, rq: RematchSet): Promise<number> {
  const ids = await affectedEmailIds(tx, { addresses: rq.addresses, domains: rq.domains });
  if (!ids.length) return 0;
  const matcher = new Matcher(await loadDirectory(tx, config.gmail.workspaceDomains));
  let n = 0;
  for await (const byEmail of storedParticipants(tx, ids, 0)) for (const list of byEmail.values()) if (matcher.match(list).length) n++;
  return n;
}

interface ChangeRecord {
  action: string;
  target: string | null;
  before?: unknown;
  after?: unknown;
}

/**
 * Close a directory write: apply the review gate, queue the rematch, write the audit entry.
 * Call last inside the change's transaction.
 */
export async function settleChange(deps: Deps, ctx: CallContext, tx: Transaction, rq: RematchSet, change: ChangeRecord): Promise<void> {
  const now = new Date(deps.clock.now()).toISOString();
  if (ctx.review) {
    const r = await run(tx, "UPDATE rematch_reviews SET status = 'approved', decided_by = ?, decided_at = ? WHERE id = ? AND status = 'pending'", [
      ctx.review.by?.id ?? null,
      now,
      ctx.review.id,
    ]);
    if (r.rowsAffected !== 1) throw new AppError('CONFLICT', `review ${ctx.review.id} is no longer pending`);
  } else if ((rq.addresses.size || rq.domains.size) && ctx.actor && ctx.actor.role !== 'admin') {
    // Only a member's change waits: an admin is who would approve it, and the operator's
    // command line (no actor) is trusted the same way; both are applied and audited at once.
    const n = await newlyExposed(tx, deps.config, rq);
    if (n > deps.config.rematchReviewThreshold) throw new HeldForReview(n);
  }
  await rq.flush(tx, now);
  await recordAudit(tx, {
    at: now,
    actor: ctx.actor,
    action: change.action,
    target: change.target,
    detail: {
      ...(change.before !== undefined ? { before: change.before } : {}),
      ...(change.after !== undefined ? { after: change.after } : {}),
      ...(ctx.review ? { review_id: ctx.review.id, approved_by: ctx.review.by ? { id: ctx.review.by.id, username: ctx.review.by.username } : null } : {}),
    },
  });
}

interface PendingReview {
  pending_review: {
    id: number;
    action: string;
    summary: string;
    newly_exposed: number;
    threshold: number;
    requested_at: string;
    status: 'pending';
  };
}

/**
 * A held change answers its PendingReview where the function's usual result would go (the
 * route turns it into 202). Typed as the usual result so the many callers that never meet a
 * held change (tests, the import's own rows) keep their types; those that may check isPendingReview.
 */
export function heldAnswer<T>(p: PendingReview): T {
  return p as unknown as T;
}

export const isPendingReview = (v: unknown): v is PendingReview => typeof v === 'object' && v !== null && 'pending_review' in v;

/**
 * Run a directory change; when it is held for review, record the review (the function name
 * and its input, to apply later exactly as asked) and answer what is pending.
 */
export async function reviewable<T>(
  deps: Deps,
  ctx: CallContext,
  held: { fn: string; input: unknown; summary: string },
  change: () => Promise<T>,
): Promise<T | PendingReview> {
  try {
    return await change();
  } catch (err) {
    if (!(err instanceof HeldForReview)) throw err;
    const now = new Date(deps.clock.now()).toISOString();
    const requestedBy = ctx.actor ? JSON.stringify({ id: ctx.actor.id, username: ctx.actor.username, email: ctx.actor.email, role: ctx.actor.role }) : null;
    const row = (await one<{ id: number }>(
      deps.db,
      'INSERT INTO rematch_reviews (fn, input, requested_by, requested_at, summary, newly_exposed) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
      [held.fn, JSON.stringify(held.input ?? {}), requestedBy, now, held.summary, err.newlyExposed],
    ))!;
    await recordAudit(deps.db, {
      at: now,
      actor: ctx.actor,
      action: 'review.requested',
      target: `review:${row.id}`,
      detail: { fn: held.fn, summary: held.summary, newly_exposed: err.newlyExposed, threshold: deps.config.rematchReviewThreshold },
    });
    deps.log.info({ event: 'directory.held_for_review', review_id: row.id, fn: held.fn, newly_exposed: err.newlyExposed, by: ctx.actor?.id }, 'directory change held for review');
    return {
      pending_review: {
        id: row.id,
        action: held.fn,
        summary: held.summary,
        newly_exposed: err.newlyExposed,
        threshold: deps.config.rematchReviewThreshold,
        requested_at: now,
        status: 'pending',
      },
    };
  }
}
