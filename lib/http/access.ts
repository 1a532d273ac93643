// Small pieces every route uses: who is calling, the email gate, and calling a function.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { getCookie } from 'hono/cookie';
import { authenticate } from '../auth/credentials.js';
import type { Actor, Deps } from '../core/deps.js';
import { AppError, gmailDisabled } from '../core/errors.js';
import { invoke, type FnDef } from '../core/fn.js';
import type { z } from 'zod';

export type Env = { Variables: { actor?: Actor; requestId: string } };
export type App = Hono<Env>;

/** `feed`: admins and feed tokens; `download`: any user and feed tokens (the handler limits what). */
export type Access = 'public' | 'user' | 'admin' | 'feed' | 'download';

/** The console's session cookie; it holds a bearer token (lib/console/session.ts). */
export const SESSION_COOKIE = 'crm_session';

export function access(deps: Deps, level: Access, opts: { gate?: boolean; cookie?: boolean } = {}): MiddlewareHandler<Env> {
  return async (c, next) => {
    if (level !== 'public') {
      let header = c.req.header('authorization');
      // GET-only routes the console links to (files) also take its SameSite=Strict session cookie.
      if (header === undefined && opts.cookie) {
        const token = getCookie(c, SESSION_COOKIE);
        if (token) header = `Bearer ${token}`;
      }
      const actor = await authenticate(deps.db, header, deps.clock.now());
      if (actor.role === 'reader' && level !== 'feed' && level !== 'download') {
        throw new AppError('FORBIDDEN', 'a feed token may read only the feed and attachments');
      }
      if (level === 'admin' && actor.role !== 'admin') throw new AppError('FORBIDDEN', 'admin role required');
      if (level === 'feed' && actor.role === 'member') throw new AppError('FORBIDDEN', 'admin role or a feed token required');
      c.set('actor', actor);
    }
    // Auth and role first, then the gate: a stranger learns nothing about the integration.
    if (opts.gate && !deps.config.gmail.enabled) {
      throw gmailDisabled();
    }
    await next();
  };
}

/** The client address: the socket peer, or the last X-Forwarded-For hop when the peer is a trusted proxy. */
export function clientAddress(c: Context, trustedProxies: string[]): string {
  let peer = 'unknown';
  try {
    peer = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // Not running under @hono/node-server (app.request in tests): no socket peer.
    peer = c.req.header('x-test-peer') ?? 'local';
  }
  const bare = peer.replace(/^::ffff:/, '');
  if (trustedProxies.includes(peer) || trustedProxies.includes(bare)) {
    const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (hops.length) return hops[hops.length - 1]!;
  }
  return bare;
}

/**
 * JSON routes take only JSON: a `text/plain` or form POST needs no CORS preflight, so
 * accepting one would let any web page an admin visits call the API (log them out of their
 * throttle budget, for one). A request with no body and no type is an empty object.
 */
function assertJsonType(c: Context): void {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type)) return;
  const length = c.req.header('content-length');
  if (!type && (length === undefined || length === '0') && !c.req.header('transfer-encoding')) return;
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', `request body must be JSON (Content-Type: application/json), not ${type || 'untyped'}`, {
    field: 'content-type',
  });
}

export async function jsonBody(c: Context): Promise<unknown> {
  assertJsonType(c);
  const text = await c.req.text();
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('VALIDATION', 'request body is not valid JSON', { field: 'body' });
  }
}

export async function call<I extends z.ZodType, O>(deps: Deps, c: Context<Env>, fn: FnDef<I, O>, raw: unknown): Promise<O> {
  return invoke(deps, fn, raw, { actor: c.get('actor'), client: clientAddress(c, deps.config.trustedProxies) });
}

export function idParam(c: Context, name = 'id'): number {
  const v = c.req.param(name) ?? '';
  if (!/^\d+$/.test(v)) throw new AppError('NOT_FOUND', `no such ${name}: ${v}`);
  return Number(v);
}
