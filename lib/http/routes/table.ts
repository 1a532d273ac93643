// Routes as a table: method, path, who may call it, which function, how the input is
// gathered and what status a success answers. The table is the one place access is decided.
import type { Context } from 'hono';
import type { Deps } from '../../core/deps.js';
import { AppError } from '../../core/errors.js';
import type { AnyFn } from '../../core/fn.js';
import { access, call, idParam, jsonBody, type Access, type App, type Env } from '../access.js';
import { isPendingReview } from '../../directory/review.js';

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  access: Access;
  fn: AnyFn;
  /** Defaults to the query (GET, DELETE) or the JSON object body (POST, PATCH), plus `:id`. */
  input?: (c: Context<Env>) => unknown;
  status?: 200 | 201 | 202 | 204;
  /** Behind the Gmail integration gate (503 DISABLED when off), checked after access. */
  gate?: boolean;
  /** GET only: the console's session cookie is accepted in place of a bearer token. */
  cookie?: boolean;
  /** Build the response from the function's result when a fixed status does not fit. */
  respond?: (c: Context<Env>, out: unknown) => Response;
}

export async function defaultInput(c: Context<Env>): Promise<Record<string, unknown>> {
  const base = c.req.method === 'GET' || c.req.method === 'DELETE' ? presentQuery(c) : await objectBody(c);
  return c.req.param('id') === undefined ? base : { ...base, id: idParam(c) };
}

/** The query without empty parameters: `?cursor=` on a first page means no cursor, not a bad one. */
function presentQuery(c: Context<Env>): Record<string, string> {
  return Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== ''));
}

async function objectBody(c: Context<Env>): Promise<Record<string, unknown>> {
  const body = await jsonBody(c);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('VALIDATION', 'request body must be a JSON object', { field: 'body' });
  }
  return body as Record<string, unknown>;
}

export function registerRoutes(app: App, deps: Deps, routes: readonly RouteSpec[]): void {
  for (const r of routes) {
    app.on(r.method, r.path, access(deps, r.access, { gate: r.gate, cookie: r.cookie && r.method === 'GET' }), async (c) => {
      const out = await call(deps, c, r.fn, await (r.input ?? defaultInput)(c));
      // A directory change held for an admin's review was not applied: 202 with what waits.
      if (isPendingReview(out)) return c.json(out, 202);
      if (r.respond) return r.respond(c, out);
      const status = r.status ?? 200;
      return status === 204 ? c.body(null, 204) : c.json(out as object, status);
    });
  }
}
