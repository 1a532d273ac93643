// Relationship insights, computed from mail metadata: any signed-in user. Not behind the Gmail
// gate: the activity is captured data, readable while the integration is off.
import { getContactInsights } from '../../../functions/getContactInsights.js';
import { getInvestorInsights } from '../../../functions/getInvestorInsights.js';
import { getPartnerInsights } from '../../../functions/getPartnerInsights.js';
import { listGoingCold } from '../../../functions/listGoingCold.js';
import type { Deps } from '../../core/deps.js';
import { idParam, type App } from '../access.js';
import { registerRoutes, type RouteSpec } from './table.js';

const insightRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/api/insights/investors/:id', access: 'user', fn: getInvestorInsights },
  { method: 'GET', path: '/api/insights/contacts/:id', access: 'user', fn: getContactInsights },
  { method: 'GET', path: '/api/insights/going-cold', access: 'user', fn: listGoingCold },
  {
    method: 'GET',
    path: '/api/insights/partners/:user_id',
    access: 'user',
    fn: getPartnerInsights,
    input: (c) => ({ ...Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== '')), user_id: idParam(c, 'user_id') }),
  },
];

export function registerInsightRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, insightRoutes);
}
