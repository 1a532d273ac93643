// Signing in and out, one's own password, and the team members (admin).
import { changePassword } from '../../../functions/changePassword.js';
import { createUser } from '../../../functions/createUser.js';
import { deleteUser } from '../../../functions/deleteUser.js';
import { listUsers } from '../../../functions/listUsers.js';
import { login } from '../../../functions/login.js';
import { logout } from '../../../functions/logout.js';
import { updateUser } from '../../../functions/updateUser.js';
import type { Deps } from '../../core/deps.js';
import type { App } from '../access.js';
import { registerRoutes, type RouteSpec } from './table.js';

export const authRoutes: readonly RouteSpec[] = [
  { method: 'POST', path: '/api/auth/login', access: 'public', fn: login },
  { method: 'POST', path: '/api/auth/logout', access: 'user', fn: logout, input: () => ({}), status: 204 },
  { method: 'POST', path: '/api/auth/password', access: 'user', fn: changePassword },
  { method: 'GET', path: '/api/users', access: 'admin', fn: listUsers },
  { method: 'POST', path: '/api/users', access: 'admin', fn: createUser, status: 201 },
  { method: 'PATCH', path: '/api/users/:id', access: 'admin', fn: updateUser },
  { method: 'DELETE', path: '/api/users/:id', access: 'admin', fn: deleteUser, status: 204 },
];

export function registerAuthRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, authRoutes);
}
