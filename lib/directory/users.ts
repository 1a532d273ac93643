// Team members as the API shows them (never their password hash), and the rules every user
// change obeys: unique usernames and addresses, and always one enabled admin left.
import { z } from 'zod';
import type { CallContext, Role } from '../core/deps.js';
import { all, one, type Executor } from '../db/client.js';
import { addressField } from './directory.js';
import { AppError } from '../core/errors.js';

interface UserView {
  id: number;
  username: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

const USER_COLUMNS = 'id, username, email, role, disabled, created_at, updated_at';

export async function readUsers(sql: Executor, id?: number): Promise<UserView[]> {
  const found = await all<Omit<UserView, 'disabled'> & { disabled: number }>(
    sql,
    `SELECT ${USER_COLUMNS} FROM users${id === undefined ? '' : ' WHERE id = ?'} ORDER BY username COLLATE NOCASE`,
    id === undefined ? [] : [id],
  );
  return found.map((u) => ({ ...u, disabled: u.disabled === 1 }));
}

export async function userById(sql: Executor, id: number): Promise<UserView> {
  const [u] = await readUsers(sql, id);
  if (!u) throw new AppError('NOT_FOUND', `no user with id ${id}`);
  return u;
}

export const Username = z
  .string()
  .trim()
  .min(1, 'is required')
  .max(64, 'must be at most 64 characters')
  .regex(/^[\w.@+-]+$/, 'may hold only letters, digits and . _ @ + -');

export const Password = z.string().min(8, 'must be at least 8 characters').max(1024, 'must be at most 1024 characters');

export const UserEmail = z
  .string()
  .nullable()
  .transform((v, ctx) => {
    if (v === null || !v.trim()) return null;
    try {
      return addressField(v, 'email');
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an email address such as name@fund.com' });
      return z.NEVER;
    }
  });

/** Refuse a username or address another user already has (CONFLICT, naming the field). */
export async function assertUserUnique(sql: Executor, u: { username?: string; email?: string | null }, selfId: number | null): Promise<void> {
  if (u.username !== undefined) {
    const clash = await one<{ id: number }>(sql, 'SELECT id FROM users WHERE username = ? AND id IS NOT ?', [u.username, selfId]);
    if (clash) throw new AppError('CONFLICT', `username: ${u.username} is taken`, { field: 'username' });
  }
  if (u.email) {
    const clash = await one<{ id: number }>(sql, 'SELECT id FROM users WHERE email = ? AND id IS NOT ?', [u.email, selfId]);
    if (clash) throw new AppError('CONFLICT', `email: ${u.email} belongs to another user`, { field: 'email' });
  }
}

/** Refuse to leave the service without an enabled admin: nobody could manage it afterwards. */
export async function assertOtherEnabledAdmin(sql: Executor, userId: number, doing: string): Promise<void> {
  const other = await one(sql, "SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ? LIMIT 1", [userId]);
  if (!other) throw new AppError('CONFLICT', `cannot ${doing} the last enabled admin; make another admin first`);
}

/**
 * The token a request was made with. The access middleware puts authenticate()'s result in
 * the context, which carries the token's row id next to the actor's fields.
 */
export function presentedTokenId(ctx: CallContext): number | undefined {
  const id = (ctx.actor as { token_id?: unknown } | undefined)?.token_id;
  return typeof id === 'number' ? id : undefined;
}
