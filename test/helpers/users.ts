import { hashPassword, issueToken } from '../../lib/auth/credentials.js';
import { one, run } from '../../lib/db/client.js';
import type { Deps } from '../../lib/core/deps.js';

/** Create a user and a bearer token for them, straight in the database. */
export async function userWithToken(deps: Deps, opts: { username?: string; role?: 'admin' | 'member'; email?: string; password?: string } = {}) {
  const username = opts.username ?? `${opts.role ?? 'admin'}-${Math.random().toString(36).slice(2, 8)}`;
  const now = new Date(deps.clock.now()).toISOString();
  await run(deps.db, 'INSERT INTO users (username, email, role, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)', [
    username,
    opts.email ?? null,
    opts.role ?? 'admin',
    await hashPassword(opts.password ?? 'correct horse battery', deps.config.passwordHashLogN),
    now,
    now,
  ]);
  const user = (await one<{ id: number }>(deps.db, 'SELECT id FROM users WHERE username = ?', [username]))!;
  const { token } = await issueToken(deps.db, user.id, deps.clock.now());
  return { id: user.id, username, token, auth: { Authorization: `Bearer ${token}` } };
}
