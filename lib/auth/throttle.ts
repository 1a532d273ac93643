// Login throttling: 10 failures within 15 minutes for one username, or from one client
// address, and further attempts answer RATE_LIMITED until the window has passed — even with
// the right password, so guessing on does not tell a guesser when it hit.
import type { Db } from '../db/client.js';
import { all, run } from '../db/client.js';
import { AppError } from '../core/errors.js';

export const LOGIN_WINDOW_MS = 15 * 60_000;
export const LOGIN_MAX_FAILURES = 10;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Seconds until fewer than LOGIN_MAX_FAILURES of these failures lie inside the window, or 0
 * when that is already so. Only the newest LOGIN_MAX_FAILURES matter: the throttle lifts
 * when the oldest of them leaves the window.
 */
async function waitSec(db: Db, column: 'username' | 'client', key: string, nowMs: number): Promise<number> {
  const recent = await all<{ at: string }>(
    db,
    `SELECT at FROM login_failures WHERE ${column} = ? AND at > ? ORDER BY at DESC LIMIT ?`,
    [key, iso(nowMs - LOGIN_WINDOW_MS), LOGIN_MAX_FAILURES],
  );
  if (recent.length < LOGIN_MAX_FAILURES) return 0;
  const liftsAt = Date.parse(recent[recent.length - 1]!.at) + LOGIN_WINDOW_MS;
  return Math.max(1, Math.ceil((liftsAt - nowMs) / 1000));
}

/** Throws RATE_LIMITED (with the wait in seconds) when this username or this client is throttled. */
export async function assertNotThrottled(db: Db, username: string, client: string, nowMs: number): Promise<void> {
  const wait = Math.max(await waitSec(db, 'username', username, nowMs), await waitSec(db, 'client', client, nowMs));
  if (wait > 0) {
    throw new AppError('RATE_LIMITED', `too many failed logins; try again in ${wait} seconds`, { retryAfterSec: wait });
  }
}

export async function recordLoginFailure(db: Db, username: string, client: string, nowMs: number): Promise<void> {
  await db.batch(
    [
      // Rows older than the window can never count again.
      { sql: 'DELETE FROM login_failures WHERE at <= ?', args: [iso(nowMs - LOGIN_WINDOW_MS)] },
      { sql: 'INSERT INTO login_failures (username, client, at) VALUES (?, ?, ?)', args: [username, client, iso(nowMs)] },
    ],
    'write',
  );
}

/** A successful login clears that username's failures (the client's stay: it may be guessing others). */
export async function clearLoginFailures(db: Db, username: string): Promise<void> {
  await run(db, 'DELETE FROM login_failures WHERE username = ?', [username]);
}
