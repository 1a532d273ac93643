// Login throttling (per username and client, and per client). Every attempt is reserved — written down — before the
// password is checked, in one statement that also enforces the limits, so parallel guesses
// cannot all slip in before the first failure lands. The limits are per (username, client)
// and per client: one client's guessing never locks the user out of another client. A
// username guessed from many clients slows down (a capped delay before each check), but the
// right password from a fresh client still gets in.
//
// Usernames are stored and compared only as a keyed hash: what people type into the username
// box is often their password.
import { createHash } from 'node:crypto';
import type { Db } from '../db/client.js';
import { all, one, run } from '../db/client.js';
import { AppError } from '../core/errors.js';

export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Failures for one username from one client within the window. */
export const LOGIN_MAX_FAILURES = 10;
/** Failures from one client, whatever the usernames, within the window. */
export const LOGIN_MAX_CLIENT_FAILURES = 30;
/** From this many failures for a username (all clients together), each attempt for it waits first. */
const USERNAME_BACKOFF_AFTER = 10;
export const USERNAME_BACKOFF_MAX_MS = 8_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** The stored form of a username: a hash of its case-folded text, never the text. */
function usernameKey(username: string): string {
  return createHash('sha256').update(`crm-login\0${username.trim().toLowerCase()}`).digest('hex');
}

interface Reservation {
  id: number;
  key: string;
  client: string;
  /** How long to wait before checking the password: the username is being guessed from elsewhere. */
  delayMs: number;
}

/**
 * Record the attempt, or refuse it (RATE_LIMITED with the wait) when this client has used up
 * its tries for this username or in all. The count and the insert are one statement, so two
 * parallel attempts can never both take the last free place.
 */
export async function reserveLoginAttempt(db: Db, username: string, client: string, nowMs: number): Promise<Reservation> {
  const key = usernameKey(username);
  const since = iso(nowMs - LOGIN_WINDOW_MS);
  await run(db, 'DELETE FROM login_attempts WHERE at <= ?', [since]);
  const row = await one<{ id: number }>(
    db,
    `INSERT INTO login_attempts (username_key, client, at)
     SELECT ?1, ?2, ?3
      WHERE (SELECT count(*) FROM login_attempts WHERE username_key = ?1 AND client = ?2 AND at > ?4) < ?5
        AND (SELECT count(*) FROM login_attempts WHERE client = ?2 AND at > ?4) < ?6
     RETURNING id`,
    [key, client, iso(nowMs), since, LOGIN_MAX_FAILURES, LOGIN_MAX_CLIENT_FAILURES],
  );
  if (!row) {
    const wait = Math.max(
      await waitSec(db, 'username_key = ? AND client = ?', [key, client], LOGIN_MAX_FAILURES, nowMs),
      await waitSec(db, 'client = ?', [client], LOGIN_MAX_CLIENT_FAILURES, nowMs),
    );
    throw new AppError('RATE_LIMITED', `too many failed logins from this address; try again in ${wait} seconds`, { retryAfterSec: wait });
  }
  const others = await one<{ n: number }>(db, 'SELECT count(*) AS n FROM login_attempts WHERE username_key = ? AND at > ? AND id <> ?', [
    key,
    since,
    row.id,
  ]);
  return { id: row.id, key, client, delayMs: backoffMs(others?.n ?? 0) };
}

/** 0 below the threshold, then doubling per further ten failures from 500 ms, capped. */
function backoffMs(failures: number): number {
  if (failures < USERNAME_BACKOFF_AFTER) return 0;
  const steps = Math.floor((failures - USERNAME_BACKOFF_AFTER) / 10);
  return Math.min(USERNAME_BACKOFF_MAX_MS, 500 * 2 ** Math.min(steps, 8));
}

/**
 * Seconds until fewer than `limit` attempts matching `where` lie inside the window. Only the
 * newest `limit` matter: the throttle lifts when the oldest of them leaves the window.
 */
async function waitSec(db: Db, where: string, args: string[], limit: number, nowMs: number): Promise<number> {
  const recent = await all<{ at: string }>(db, `SELECT at FROM login_attempts WHERE ${where} AND at > ? ORDER BY at DESC LIMIT ?`, [
    ...args,
    iso(nowMs - LOGIN_WINDOW_MS),
    limit,
  ]);
  if (recent.length < limit) return 0;
  const liftsAt = Date.parse(recent[recent.length - 1]!.at) + LOGIN_WINDOW_MS;
  return Math.max(1, Math.ceil((liftsAt - nowMs) / 1000));
}

/**
 * The attempt succeeded: it and this client's earlier failures for the username are cleared.
 * Other clients' failures stay (they may be the ones guessing).
 */
export async function clearLoginAttempts(db: Db, r: Reservation): Promise<void> {
  await run(db, 'DELETE FROM login_attempts WHERE username_key = ? AND client = ?', [r.key, r.client]);
}
