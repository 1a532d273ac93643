// Changes the signed-in user's own password and ends their other sessions; the token the
// request came with stays valid. Runs on POST /api/auth/password (any user). The caller is
// already signed in, so this is not a login attempt: it neither counts towards nor is refused
// by the login throttle (which would let a session lock its own user out of signing in).
import { z } from 'zod';
import { hashPassword, verifyPassword } from '../lib/auth/credentials.js';
import { one } from '../lib/db/client.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';
import { Password, presentedTokenId } from '../lib/directory/users.js';

export const changePassword = defineFunction({
  name: 'changePassword',
  // The contract names no fields; `old_password` and `password` are the other common spellings.
  input: z.preprocess(
    (raw) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
      const r = raw as Record<string, unknown>;
      return { ...r, current_password: r.current_password ?? r.old_password, new_password: r.new_password ?? r.password };
    },
    z.object({
      current_password: z.string({ message: 'is required' }).min(1, 'is required').max(1024),
      new_password: Password,
    }),
  ),
  async run(deps, input, ctx) {
    const actor = ctx.actor;
    if (!actor) throw new AppError('UNAUTHENTICATED', 'changePassword changes the signed-in user\'s password; use updateUser from the command line');
    const user = await one<{ password_hash: string }>(deps.db, 'SELECT password_hash FROM users WHERE id = ?', [actor.id]);
    if (!user) throw new AppError('UNAUTHENTICATED', 'user no longer exists');
    if (!(await verifyPassword(input.current_password, user.password_hash))) {
      throw new AppError('VALIDATION', 'current_password: is not your current password', { field: 'current_password' });
    }
    const hash = await hashPassword(input.new_password, deps.config.passwordHashLogN);
    const at = nowIso(deps.clock);
    await deps.db.batch(
      [
        { sql: 'UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?', args: [hash, at, actor.id] },
        {
          sql: 'UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?',
          args: [at, actor.id, presentedTokenId(ctx) ?? null],
        },
      ],
      'write',
    );
    deps.log.info({ event: 'auth.password_changed', user_id: actor.id }, 'password changed');
    return { ok: true };
  },
});
