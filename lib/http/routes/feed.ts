// The change feed for programs on the box, and the admin's feed tokens. The feed is not
// behind the Gmail gate: what was captured stays readable while the integration is off.
import { createFeedToken } from '../../../functions/createFeedToken.js';
import { deleteFeedToken } from '../../../functions/deleteFeedToken.js';
import { listFeedTokens } from '../../../functions/listFeedTokens.js';
import { readFeed } from '../../../functions/readFeed.js';
import type { Deps } from '../../core/deps.js';
import type { App } from '../access.js';
import { registerRoutes, type RouteSpec } from './table.js';

const feedRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/api/feed', access: 'feed', fn: readFeed },
  { method: 'POST', path: '/api/feed/tokens', access: 'admin', fn: createFeedToken, status: 201 },
  { method: 'GET', path: '/api/feed/tokens', access: 'admin', fn: listFeedTokens },
  { method: 'DELETE', path: '/api/feed/tokens/:id', access: 'admin', fn: deleteFeedToken, status: 204 },
];

export function registerFeedRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, feedRoutes);
}
