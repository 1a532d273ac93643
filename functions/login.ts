// Exchanges a username and password for a bearer token. Runs on POST /api/auth/login (no token).
// Every failure is recorded for throttling; running it twice issues two tokens.
import { z } from 'zod';
import { dummyPasswordHash, issueToken, verifyPassword } from '../lib/auth/credentials.js';
import { one } from '../lib/db/client.js';
import type { Role } from '../lib/core/deps.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { assertNotThrottled, clearLoginFailures, recordLoginFailure } from '../lib/auth/throttle.js';

const LoginInput = z.object({
  username: z.string().trim().min(1, 'is required').max(200),
  password: z.string().min(1, 'is required').max(1024),
});

export const login = defineFunction({
  name: 'login',
  input: LoginInput,
  async run(deps, input, ctx) {
    const now = deps.clock.now();
    const client = ctx.client ?? 'local';
    await assertNotThrottled(deps.db, input.username, client, now);
    const user = await one<{ id: number; username: string; email: string | null; role: Role; password_hash: string; disabled: number }>(
      deps.db,
      'SELECT id, username, email, role, password_hash, disabled FROM users WHERE username = ?',
      [input.username],
    );
    // An unknown username costs a scrypt too, so timing does not tell which usernames exist.
    const ok = await verifyPassword(input.password, user?.password_hash ?? (await dummyPasswordHash()));
    if (!user || !ok) {
      await recordLoginFailure(deps.db, input.username, client, now);
      deps.log.info({ event: 'auth.login_failed', username: input.username, client }, 'login failed');
      throw new AppError('UNAUTHENTICATED', 'wrong username or password');
    }
    if (user.disabled) throw new AppError('UNAUTHENTICATED', 'this user is disabled; ask an admin');
    await clearLoginFailures(deps.db, input.username);
    const { token, expires_at } = await issueToken(deps.db, user.id, now);
    deps.log.info({ event: 'auth.login', user_id: user.id, client }, 'logged in');
    return { token, expires_at, user: { id: user.id, username: user.username, email: user.email, role: user.role } };
  },
});
