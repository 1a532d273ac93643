// Exchanges a username and password for a bearer token. Runs on POST /api/auth/login (no token).
// The attempt is reserved for throttling before the password is checked; running it twice
// issues two tokens.
import { z } from 'zod';
import { dummyPasswordHash, hashPassword, issueToken, needsRehash, verifyPassword } from '../lib/auth/credentials.js';
import { one, run } from '../lib/db/client.js';
import type { Role } from '../lib/core/deps.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';
import { clearLoginAttempts, reserveLoginAttempt } from '../lib/auth/throttle.js';

const LoginInput = z.object({
  username: z.string().trim().min(1, 'is required').max(200),
  password: z.string().min(1, 'is required').max(1024),
});

/** One answer for every refusal, so it never tells which usernames exist or are disabled. */
const refused = () => new AppError('UNAUTHENTICATED', 'wrong username or password');

export const login = defineFunction({
  name: 'login',
  input: LoginInput,
  async run(deps, input, ctx) {
    const now = deps.clock.now();
    const client = ctx.client ?? 'local';
    const reservation = await reserveLoginAttempt(deps.db, input.username, client, now);
    if (reservation.delayMs > 0) await deps.clock.sleep(reservation.delayMs);
    const user = await one<{ id: number; username: string; email: string | null; role: Role; password_hash: string; disabled: number }>(
      deps.db,
      'SELECT id, username, email, role, password_hash, disabled FROM users WHERE username = ?',
      [input.username],
    );
    const logN = deps.config.passwordHashLogN;
    // An unknown username costs a scrypt too, so timing does not tell which usernames exist.
    const ok = await verifyPassword(input.password, user?.password_hash ?? (await dummyPasswordHash(logN)));
    if (!user || !ok || user.disabled) {
      // Only names of real accounts reach the log: a mistyped username is often a password.
      deps.log.info(
        { event: 'auth.login_failed', ...(user ? { user_id: user.id, username: user.username } : { username_hash: reservation.key.slice(0, 16) }), client },
        'login failed',
      );
      throw refused();
    }
    await clearLoginAttempts(deps.db, reservation);
    if (needsRehash(user.password_hash, logN)) {
      // The password is known right now: the only moment an old, cheaper hash can be replaced.
      await run(deps.db, 'UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?', [
        await hashPassword(input.password, logN),
        nowIso(deps.clock),
        user.id,
        user.password_hash,
      ]);
      deps.log.info({ event: 'auth.password_rehashed', user_id: user.id }, 'password hash upgraded');
    }
    const { token, expires_at } = await issueToken(deps.db, user.id, now);
    deps.log.info({ event: 'auth.login', user_id: user.id, client }, 'logged in');
    return { token, expires_at, user: { id: user.id, username: user.username, email: user.email, role: user.role } };
  },
});
