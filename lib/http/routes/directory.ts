// Investors and contacts (any signed-in team member reads and edits them: partners keep the
// directory current), the bulk import and the exclusions (admin).
import { createContact } from '../../../functions/createContact.js';
import { createExclusion } from '../../../functions/createExclusion.js';
import { createInvestor } from '../../../functions/createInvestor.js';
import { deleteContact } from '../../../functions/deleteContact.js';
import { deleteExclusion } from '../../../functions/deleteExclusion.js';
import { deleteInvestor } from '../../../functions/deleteInvestor.js';
import { getContact } from '../../../functions/getContact.js';
import { getInvestor } from '../../../functions/getInvestor.js';
import { importInvestors } from '../../../functions/importInvestors.js';
import { listContacts } from '../../../functions/listContacts.js';
import { listExclusions } from '../../../functions/listExclusions.js';
import { listInvestors } from '../../../functions/listInvestors.js';
import { updateContact } from '../../../functions/updateContact.js';
import { updateInvestor } from '../../../functions/updateInvestor.js';
import type { Deps } from '../../core/deps.js';
import { jsonBody, type App } from '../access.js';
import { registerRoutes, type RouteSpec } from './table.js';

export const directoryRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/api/investors', access: 'user', fn: listInvestors },
  { method: 'POST', path: '/api/investors', access: 'user', fn: createInvestor, status: 201 },
  {
    method: 'POST',
    path: '/api/investors/import',
    access: 'admin',
    fn: importInvestors,
    input: async (c) => (/^(text|application)\/csv\b/i.test(c.req.header('content-type') ?? '') ? { csv: await c.req.text() } : jsonBody(c)),
  },
  { method: 'GET', path: '/api/investors/:id', access: 'user', fn: getInvestor },
  { method: 'PATCH', path: '/api/investors/:id', access: 'user', fn: updateInvestor },
  { method: 'DELETE', path: '/api/investors/:id', access: 'user', fn: deleteInvestor, status: 204 },
  { method: 'GET', path: '/api/contacts', access: 'user', fn: listContacts },
  { method: 'POST', path: '/api/contacts', access: 'user', fn: createContact, status: 201 },
  { method: 'GET', path: '/api/contacts/:id', access: 'user', fn: getContact },
  { method: 'PATCH', path: '/api/contacts/:id', access: 'user', fn: updateContact },
  { method: 'DELETE', path: '/api/contacts/:id', access: 'user', fn: deleteContact, status: 204 },
  { method: 'GET', path: '/api/exclusions', access: 'admin', fn: listExclusions },
  { method: 'POST', path: '/api/exclusions', access: 'admin', fn: createExclusion, status: 201 },
  { method: 'DELETE', path: '/api/exclusions/:id', access: 'admin', fn: deleteExclusion, status: 204 },
];

export function registerDirectoryRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, directoryRoutes);
}
