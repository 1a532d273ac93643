// Passwords: scrypt with a per-user salt, compared in constant time.
// Tokens: 32 random bytes shown once; only their SHA-256 is stored.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from '../db/client.js';
import { one, run } from '../db/client.js';
import type { Actor } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import { findFeedToken } from '../feed/tokens.js';
import { isoAt } from '../core/time.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
/** log2 N for new hashes unless the configuration says otherwise (2^17: OWASP's scrypt floor). */
export const DEFAULT_LOG_N = 17;
const R = 8;
const P = 1;
const KEYLEN = 32;
/** Stored parameters outside these bounds are refused rather than run (a hostile row could ask for gigabytes). */
const MAX_LOG_N = 20;

export const TOKEN_TTL_MS = 12 * 3600_000;

// scrypt needs 128·N·r bytes: 128 MiB at N=2^17. A handful of parallel logins must not exhaust
// the box, so hashes run at most two at a time, process-wide; the rest queue.
const MAX_PARALLEL_HASHES = 2;
let hashing = 0;
const waiting: (() => void)[] = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (hashing >= MAX_PARALLEL_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  hashing++;
  try {
    return await fn();
  } finally {
    hashing--;
    waiting.shift()?.();
  }
}

function derive(password: string, salt: Buffer, len: number, n: number, r: number, p: number): Promise<Buffer> {
  return limited(() => scrypt(password, salt, len, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }));
}

/** How many password verifications this process has run (the login throttle's tests count them). */
export const passwordStats = { verifications: 0 };

export async function hashPassword(password: string, logN = DEFAULT_LOG_N): Promise<string> {
  const n = 2 ** logN;
  const salt = randomBytes(16);
  const key = await derive(password, salt, KEYLEN, n, R, P);
  return `scrypt$${n}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface StoredHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(stored: string): StoredHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const h = { n: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(saltB64, 'base64'), key: Buffer.from(keyB64, 'base64') };
  const powerOfTwo = Number.isInteger(h.n) && h.n > 1 && (h.n & (h.n - 1)) === 0;
  if (!powerOfTwo || h.n > 2 ** MAX_LOG_N || h.r !== R || h.p !== P || h.key.length < 16 || h.key.length > 64) return null;
  return h;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  passwordStats.verifications++;
  const h = parseHash(stored);
  if (!h) return false;
  const key = await derive(password, h.salt, h.key.length, h.n, h.r, h.p);
  return key.length === h.key.length && timingSafeEqual(key, h.key);
}

/** True when a stored hash is weaker than the cost new hashes get: upgrade it at the next login. */
export function needsRehash(stored: string, logN = DEFAULT_LOG_N): boolean {
  const h = parseHash(stored);
  return !h || h.n < 2 ** logN;
}

/** A hash of a password nobody knows, so unknown usernames cost as much as known ones. */
const dummyHashes = new Map<number, Promise<string>>();
export function dummyPasswordHash(logN = DEFAULT_LOG_N): Promise<string> {
  let h = dummyHashes.get(logN);
  if (!h) {
    h = hashPassword(randomBytes(16).toString('hex'), logN);
    dummyHashes.set(logN, h);
  }
  return h;
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

/** The user behind a bearer token (or a feed token, role `reader`), or UNAUTHENTICATED. */
export async function authenticate(db: Db, header: string | undefined, nowMs: number): Promise<Actor & { token_id?: number }> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) throw new AppError('UNAUTHENTICATED', 'missing bearer token (Authorization: Bearer <token>)');
  const feed = await findFeedToken(db, m[1]!, nowMs);
  // A feed token is nobody's session: no user id and no token_id, so logout and password changes never reach it.
  if (feed) return { id: 0, username: `feed:${feed.name}`, email: null, role: 'reader' };
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
