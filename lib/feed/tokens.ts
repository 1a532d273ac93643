// Feed tokens: long-lived, read-only credentials (role `reader`) for programs on the box.
// The token is shown once at creation; only its SHA-256 is stored; deleting the row revokes it.
import { createHash, randomBytes } from 'node:crypto';
import type { Executor } from '../db/client.js';
import { all, one, run } from '../db/client.js';

/** A recognisable prefix, so a leaked feed token is easy to spot in a file or a paste. */
const FEED_TOKEN_PREFIX = 'crmfeed_';
/** last_used_at is refreshed at most this often: a busy consumer does not write per request. */
const TOUCH_EVERY_MS = 3600_000;

const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

interface FeedTokenInfo {
  id: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export async function createFeedToken(db: Executor, name: string, createdBy: number | null, nowMs: number): Promise<FeedTokenInfo & { token: string }> {
  const token = FEED_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const created_at = new Date(nowMs).toISOString();
  const row = await one<{ id: number }>(db, 'INSERT INTO feed_tokens (name, token_hash, created_by, created_at) VALUES (?, ?, ?, ?) RETURNING id', [
    name,
    hash(token),
    createdBy,
    created_at,
  ]);
  return { id: row!.id, name, token, created_at, last_used_at: null };
}

export async function listFeedTokens(db: Executor): Promise<FeedTokenInfo[]> {
  return all<FeedTokenInfo>(db, 'SELECT id, name, created_at, last_used_at FROM feed_tokens ORDER BY id');
}

/** True when a token was deleted. */
export async function deleteFeedToken(db: Executor, id: number): Promise<boolean> {
  return (await run(db, 'DELETE FROM feed_tokens WHERE id = ?', [id])).rowsAffected > 0;
}

/** The feed token behind a bearer value, if it is one. */
export async function findFeedToken(db: Executor, token: string, nowMs: number): Promise<{ id: number; name: string } | undefined> {
  if (!token.startsWith(FEED_TOKEN_PREFIX)) return undefined;
  const row = await one<{ id: number; name: string; last_used_at: string | null }>(db, 'SELECT id, name, last_used_at FROM feed_tokens WHERE token_hash = ?', [hash(token)]);
  if (!row) return undefined;
  if (!row.last_used_at || Date.parse(row.last_used_at) + TOUCH_EVERY_MS <= nowMs) {
    await run(db, 'UPDATE feed_tokens SET last_used_at = ? WHERE id = ?', [new Date(nowMs).toISOString(), row.id]);
  }
  return { id: row.id, name: row.name };
}
