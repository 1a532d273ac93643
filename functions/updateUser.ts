// Changes a team member's username, address, password, role or disabled flag. Runs on
// PATCH /api/users/:id (admin). Disabling the user or setting a new password ends their
// sessions. Running it twice with the same input changes nothing more the second time.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { writeTx } from '../lib/db/client.js';
import { hashPassword, revokeUserTokens } from '../lib/auth/credentials.js';
import { defineFunction } from '../lib/core/fn.js';
import { isoAt, nowIso } from '../lib/core/time.js';
import { assertOtherEnabledAdmin, assertUserUnique, Password, UserEmail, userById, Username } from '../lib/directory/users.js';

export const updateUser = defineFunction({
  name: 'updateUser',
  input: z.object({
    id: z.coerce.number().int().positive(),
    username: Username.optional(),
    email: UserEmail.optional(),
    password: Password.optional(),
    role: z.enum(['admin', 'member'], { message: 'must be admin or member' }).optional(),
    disabled: z.boolean().optional(),
  }),
  async run(deps, input, ctx) {
    const hash = input.password === undefined ? undefined : await hashPassword(input.password, deps.config.passwordHashLogN);
    const now = deps.clock.now();
    const { user, revoke } = await writeTx(deps.db, async (tx) => {
      const before = await userById(tx, input.id);
      const stillEnabledAdmin = (input.role ?? before.role) === 'admin' && !(input.disabled ?? before.disabled);
      if (before.role === 'admin' && !before.disabled && !stillEnabledAdmin) {
        await assertOtherEnabledAdmin(tx, before.id, input.disabled ? 'disable' : 'demote');
      }
      await assertUserUnique(tx, { username: input.username, email: input.email }, before.id);
      const sets: string[] = [];
      const args: (string | number | null)[] = [];
      const set = (column: string, value: string | number | null) => {
        sets.push(`${column} = ?`);
        args.push(value);
      };
      if (input.username !== undefined && input.username !== before.username) set('username', input.username);
      if (input.email !== undefined && input.email !== before.email) set('email', input.email);
      if (input.role !== undefined && input.role !== before.role) set('role', input.role);
      if (input.disabled !== undefined && input.disabled !== before.disabled) set('disabled', input.disabled ? 1 : 0);
      if (hash !== undefined) set('password_hash', hash);
      if (sets.length) {
        set('updated_at', isoAt(now));
        await tx.execute({ sql: `UPDATE users SET ${sets.join(', ')} WHERE id = ?`, args: [...args, before.id] });
      }
      const after = await userById(tx, before.id);
      if (sets.length) {
        await recordAudit(tx, { at: isoAt(now), actor: ctx.actor, action: 'user.update', target: `user:${before.id}`, detail: { before, after, password_changed: hash !== undefined } });
      }
      return { user: after, revoke: hash !== undefined || (input.disabled === true && !before.disabled) };
    });
    // A new password set by an admin, like disabling, ends every session the user had. (A
    // disabled user's tokens are refused by authenticate() already, so this may follow the commit.)
    if (revoke) await revokeUserTokens(deps.db, user.id, now);
    deps.log.info({ event: 'users.updated', user_id: user.id, by: ctx.actor?.id, sessions_revoked: revoke }, 'user updated');
    return user;
  },
});
