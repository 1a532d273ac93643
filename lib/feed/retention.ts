// Retention: tombstones are kept at least CRM_FEED_TOMBSTONE_DAYS, then retired. Upserts are
// never retired (each is the current state of a live item, and superseded events are
// deleted as they are replaced). Retiring raises the horizon: readers positioned below it
// answer 410 and rebuild from the snapshot. Safe to run at any time and any number of times.
import type { Db } from '../db/client.js';
import { one, run, writeTx } from '../db/client.js';

interface CompactResult {
  retired: number;
  horizon: number;
}

const TOMBSTONES = "type IN ('email.tombstone', 'attachment.tombstone')";

export async function compactFeed(db: Db, nowMs: number, tombstoneDays: number): Promise<CompactResult> {
  const cutoff = new Date(nowMs - tombstoneDays * 86_400_000).toISOString();
  return writeTx(db, async (tx) => {
    // Retire in seq order only: a tombstone younger than the cutoff (a clock that stepped
    // back) stops the sweep, so everything at or below the horizon is retired and nothing
    // above it is.
    const young = await one<{ seq: number | null }>(tx, `SELECT min(seq) AS seq FROM email_feed WHERE ${TOMBSTONES} AND at >= ?`, [cutoff]);
    const upTo = await one<{ seq: number | null }>(tx, `SELECT max(seq) AS seq FROM email_feed WHERE ${TOMBSTONES} AND at < ? AND seq < ?`, [
      cutoff,
      young?.seq ?? Number.MAX_SAFE_INTEGER,
    ]);
    const current = (await one<{ seq: number }>(tx, 'SELECT seq FROM email_feed_horizon WHERE id = 1'))?.seq ?? 0;
    if (!upTo?.seq) {
      return { retired: 0, horizon: current };
    }
    const gone = await run(tx, `DELETE FROM email_feed WHERE ${TOMBSTONES} AND seq <= ?`, [upTo.seq]);
    await run(tx, "DELETE FROM email_feed_items WHERE state = 'gone' AND seq <= ?", [upTo.seq]);
    const horizon = Math.max(current, upTo.seq);
    await run(tx, 'UPDATE email_feed_horizon SET seq = ?, compacted_at = ? WHERE id = 1', [horizon, new Date(nowMs).toISOString()]);
    return { retired: gone.rowsAffected, horizon };
  });
}
