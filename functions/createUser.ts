// Adds a team member. Runs on POST /api/users (admin) or from the command line; running it
// twice with the same username answers CONFLICT the second time.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { writeTx } from '../lib/db/client.js';
import { hashPassword } from '../lib/auth/credentials.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';
import { assertUserUnique, Password, UserEmail, userById, Username } from '../lib/directory/users.js';

export const createUser = defineFunction({
  name: 'createUser',
  input: z.object({
    username: Username,
    email: UserEmail.optional(),
    password: Password,
    role: z.enum(['admin', 'member'], { message: 'must be admin or member' }).default('member'),
    disabled: z.boolean().default(false),
  }),
  async run(deps, input, ctx) {
    // Hashing is slow: do it before holding the write lock.
    const hash = await hashPassword(input.password, deps.config.passwordHashLogN);
    const email = input.email ?? null;
    const now = nowIso(deps.clock);
    const user = await writeTx(deps.db, async (tx) => {
      await assertUserUnique(tx, { username: input.username, email }, null);
      const rs = await tx.execute({
        sql: 'INSERT INTO users (username, email, role, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        args: [input.username, email, input.role, hash, input.disabled ? 1 : 0, now, now],
      });
      const created = await userById(tx, Number(rs.lastInsertRowid));
      // Who may read the firm's mail is part of the trail an admin checks (never the password).
      await recordAudit(tx, { at: now, actor: ctx.actor, action: 'user.create', target: `user:${created.id}`, detail: { after: created } });
      return created;
    });
    deps.log.info({ event: 'users.created', user_id: user.id, role: user.role, by: ctx.actor?.id }, 'user created');
    return user;
  },
});
