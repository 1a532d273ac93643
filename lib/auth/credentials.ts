// Passwords: scrypt with a per-user salt, compared in constant time.
// Tokens: 32 random bytes shown once; only their SHA-256 is stored.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from '../db/client.js';
import { one, run } from '../db/client.js';
import type { Actor } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import { isoAt } from '../core/time.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

export const TOKEN_TTL_MS = 12 * 3600_000;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  const key = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a password nobody knows, so unknown usernames cost as much as known ones. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export async function issueToken(db: Db, userId: number, nowMs: number): Promise<{ token: string; expires_at: string }> {
  const token = randomBytes(32).toString('base64url');
  const expires_at = isoAt(nowMs + TOKEN_TTL_MS);
  await run(db, 'INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)', [
    userId,
    hashToken(token),
    isoAt(nowMs),
    expires_at,
  ]);
  return { token, expires_at };
}

/** The user behind a bearer token, or UNAUTHENTICATED. */
export async function authenticate(db: Db, header: string | undefined, nowMs: number): Promise<Actor & { token_id: number }> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) throw new AppError('UNAUTHENTICATED', 'missing bearer token (Authorization: Bearer <token>)');
  const row = await one<{ token_id: number; expires_at: string; revoked_at: string | null; id: number; username: string; email: string | null; role: 'admin' | 'member'; disabled: number }>(
    db,
    `SELECT t.id AS token_id, t.expires_at, t.revoked_at, u.id, u.username, u.email, u.role, u.disabled
       FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`,
    [hashToken(m[1]!)],
  );
  if (!row) throw new AppError('UNAUTHENTICATED', 'invalid token');
  if (row.revoked_at) throw new AppError('UNAUTHENTICATED', 'token revoked');
  if (Date.parse(row.expires_at) <= nowMs) throw new AppError('UNAUTHENTICATED', 'token expired');
  if (row.disabled) throw new AppError('UNAUTHENTICATED', 'user disabled');
  return { token_id: row.token_id, id: row.id, username: row.username, email: row.email, role: row.role };
}

export async function revokeUserTokens(db: Db, userId: number, nowMs: number): Promise<void> {
  await run(db, 'UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL', [isoAt(nowMs), userId]);
}
