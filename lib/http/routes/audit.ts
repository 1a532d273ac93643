// The audit log and the review of held directory changes (admin).
import { approveReview } from '../../../functions/approveReview.js';
import { listAudit } from '../../../functions/listAudit.js';
import { listReviews } from '../../../functions/listReviews.js';
import { rejectReview } from '../../../functions/rejectReview.js';
import type { Deps } from '../../core/deps.js';
import type { App } from '../access.js';
import { registerRoutes, type RouteSpec } from './table.js';

// Approve and reject read the body like every JSON route (none needed; a non-JSON one is 415).
const auditRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/api/audit', access: 'admin', fn: listAudit },
  { method: 'GET', path: '/api/reviews', access: 'admin', fn: listReviews },
  { method: 'POST', path: '/api/reviews/:id/approve', access: 'admin', fn: approveReview },
  { method: 'POST', path: '/api/reviews/:id/reject', access: 'admin', fn: rejectReview },
];

export function registerAuditRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, auditRoutes);
}
