// Reading the feed. Events come oldest first. The log keeps one event per item, so reading
// from the start is a compacted snapshot of what is current, followed by the live tail.
//
// Cursors: `after` is the seq of the last event a reader applied. Tombstones older than the
// retention are retired; a reader positioned below the newest retired one may have missed a
// removal and is refused (410) — it must rebuild from after=0. A reader that started from 0
// missed nothing, but its position can lie below that horizon while it pages through old,
// still-current items; those pages hand out `next_after` as a negative number, which means
// "continue the snapshot" and carries two seqs: where the page ended, and the head when the
// snapshot began. A reader paused mid-snapshot holds items that may since have been removed;
// their tombstones are newer than the snapshot's start, so once a tombstone newer than that
// start is retired the reader is refused (410) like any other. Tombstones the snapshot's
// first page left out (older than its start) concern items it never held. Once past the
// horizon the cursor is an ordinary positive seq again.
import type { Executor } from '../db/client.js';
import { all, one } from '../db/client.js';
import { AppError } from '../core/errors.js';
import type { FeedEventType } from './outbox.js';

export const MAX_LIMIT = 1000;
/** A page stops growing past this many payload bytes (at least one event is always sent). */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;

interface FeedEvent {
  seq: number;
  type: FeedEventType;
  at: string;
  id: number;
  [field: string]: unknown;
}

interface FeedPage {
  events: FeedEvent[];
  next_after: number;
  head: number;
  /** The seq of the newest retired tombstone: positive cursors below it answer 410. */
  horizon: number;
}

async function feedHead(db: Executor): Promise<{ head: number; horizon: number }> {
  const head = await one<{ seq: number | null }>(db, "SELECT seq FROM sqlite_sequence WHERE name = 'email_feed'");
  const horizon = await one<{ seq: number }>(db, 'SELECT seq FROM email_feed_horizon WHERE id = 1');
  return { head: head?.seq ?? 0, horizon: horizon?.seq ?? 0 };
}

// A snapshot cursor is -(2^52 + start · 2^26 + position): with start and position below 2^26
// (67 million events) it is an exact JavaScript integer of at least 2^52, which no seq
// reaches, so it is told apart from a plain -position. A plain -position (handed out only
// if the feed ever outgrows that range, or by an older version) still continues its snapshot,
// without the check on removals retired since it began, which it cannot carry.
const SNAPSHOT_SPAN = 2 ** 26;
const SNAPSHOT_MARK = 2 ** 52;

/** Where a snapshot cursor stands, and the head its snapshot began at when it says. */
function snapshotCursor(after: number): { from: number; start: number | null } {
  const a = -after;
  if (a < SNAPSHOT_MARK) return { from: a, start: null };
  const rest = a - SNAPSHOT_MARK;
  return { from: rest % SNAPSHOT_SPAN, start: Math.floor(rest / SNAPSHOT_SPAN) };
}

const encodeSnapshot = (start: number | null, position: number): number =>
  start !== null && start < SNAPSHOT_SPAN && position < SNAPSHOT_SPAN ? -(SNAPSHOT_MARK + start * SNAPSHOT_SPAN + position) : -position;

export async function readFeedPage(db: Executor, after: number, limit: number): Promise<FeedPage> {
  const { head, horizon } = await feedHead(db);
  if (after > 0 && after < horizon) {
    throw new AppError('GONE', `after=${after} is older than the retained history (seq ${horizon}); read again from after=0, the snapshot of what is current`, {
      field: 'after',
    });
  }
  const snapshot = after <= 0;
  const cur: { from: number; start: number | null } = after === 0 ? { from: 0, start: head } : after < 0 ? snapshotCursor(after) : { from: after, start: after };
  const from = cur.from;
  if (after < 0 && cur.start !== null && horizon > cur.start) {
    throw new AppError(
      'GONE',
      `after=${after} continues a snapshot begun at seq ${cur.start}, and removals after it have been retired (up to seq ${horizon}); read again from after=0`,
      { field: 'after' },
    );
  }
  // A cursor beyond the newest event comes from another database (a restored backup, say):
  // what it has seen cannot be told apart from what it has not, so it must rebuild.
  if (from > head || (cur.start ?? 0) > head) {
    throw new AppError('GONE', `after=${after} is beyond the newest event (seq ${head}); this feed is not the one read before: read again from after=0`, {
      field: 'after',
    });
  }
  // The very first page is read at one instant by a reader that holds nothing yet: the
  // tombstones in it concern items it never saw, so it gets upserts only.
  const upsertsOnly = after === 0 ? "AND type IN ('email.upsert', 'attachment.upsert')" : '';
  const rows = await all<{ seq: number; type: FeedEventType; at: string; payload: string }>(
    db,
    `SELECT seq, type, at, payload FROM email_feed WHERE seq > ? AND seq <= ? ${upsertsOnly} ORDER BY seq LIMIT ?`,
    [from, head, limit],
  );
  const events: FeedEvent[] = [];
  let bytes = 0;
  for (const r of rows) {
    if (events.length && bytes + r.payload.length > MAX_PAGE_BYTES) break;
    bytes += r.payload.length;
    events.push({ seq: r.seq, type: r.type, at: r.at, ...(JSON.parse(r.payload) as { id: number }) });
  }
  // A page that is not full reached the head: every event up to it has been delivered.
  const complete = events.length === rows.length && rows.length < limit;
  let next = complete ? Math.max(head, from) : events[events.length - 1]?.seq ?? from;
  if (snapshot && next < horizon) next = encodeSnapshot(cur.start, next);
  return { events, next_after: next, head, horizon };
}
