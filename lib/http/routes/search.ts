// Searching matched mail (any signed-in user).
import { searchMail } from '../../../functions/searchMail.js';
import type { Deps } from '../../core/deps.js';
import type { App } from '../access.js';
import { registerRoutes, type RouteSpec } from './table.js';

const searchRoutes: readonly RouteSpec[] = [{ method: 'GET', path: '/api/search', access: 'user', fn: searchMail, input: (c) => ({ q: c.req.query('q') ?? '', ...(c.req.query('limit') ? { limit: c.req.query('limit') } : {}) }) }];

export function registerSearchRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, searchRoutes);
}
