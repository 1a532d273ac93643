// Mailboxes, syncs and status. Every route but status sits behind the integration gate.
import { deleteAccount } from '../../../functions/deleteAccount.js';
import { enroll } from '../../../functions/enroll.js';
import { enrollAll } from '../../../functions/enrollAll.js';
import { listAccounts } from '../../../functions/listAccounts.js';
import { listRuns } from '../../../functions/listRuns.js';
import { runNow } from '../../../functions/runNow.js';
import { status } from '../../../functions/status.js';
import { updateAccount } from '../../../functions/updateAccount.js';
import { verifyMailbox } from '../../../functions/verifyMailbox.js';
import type { Deps } from '../../core/deps.js';
import { idParam, type App } from '../access.js';
import { defaultInput, registerRoutes, type RouteSpec } from './table.js';

export const emailRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/api/email/status', access: 'user', fn: status },
  {
    method: 'POST',
    path: '/api/email/accounts/enroll',
    access: 'admin',
    gate: true,
    fn: enroll,
    respond: (c, out) => {
      const r = out as { account: unknown; created: boolean };
      return c.json(r.account as object, r.created ? 201 : 200);
    },
  },
  { method: 'POST', path: '/api/email/accounts/enroll-all', access: 'admin', gate: true, fn: enrollAll },
  { method: 'GET', path: '/api/email/accounts', access: 'admin', gate: true, fn: listAccounts },
  { method: 'PATCH', path: '/api/email/accounts/:id', access: 'admin', gate: true, fn: updateAccount },
  {
    method: 'DELETE',
    path: '/api/email/accounts/:id',
    access: 'admin',
    gate: true,
    fn: deleteAccount,
    input: (c) => ({ id: idParam(c), purge: ['true', '1', 'yes'].includes((c.req.query('purge') ?? '').toLowerCase()) }),
    status: 204,
  },
  {
    method: 'POST',
    path: '/api/email/accounts/:id/verify',
    access: 'admin',
    gate: true,
    fn: verifyMailbox,
    input: (c) => ({ id: idParam(c), background: true }),
    status: 202,
  },
  { method: 'POST', path: '/api/email/sync/run-now', access: 'admin', gate: true, fn: runNow, status: 202 },
  { method: 'GET', path: '/api/email/sync/runs', access: 'admin', gate: true, fn: listRuns, input: defaultInput },
];

export function registerEmailRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, emailRoutes);
}
