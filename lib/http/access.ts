// Small pieces every route uses: who is calling, the email gate, and calling a function.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { authenticate } from '../auth/credentials.js';
import type { Actor, Deps } from '../core/deps.js';
import { AppError, gmailDisabled } from '../core/errors.js';
import { invoke, type FnDef } from '../core/fn.js';
import type { z } from 'zod';

export type Env = { Variables: { actor?: Actor; requestId: string } };
export type App = Hono<Env>;

export type Access = 'public' | 'user' | 'admin';

export function access(deps: Deps, level: Access, opts: { gate?: boolean } = {}): MiddlewareHandler<Env> {
  return async (c, next) => {
    if (level !== 'public') {
      const actor = await authenticate(deps.db, c.req.header('authorization'), deps.clock.now());
      if (level === 'admin' && actor.role !== 'admin') throw new AppError('FORBIDDEN', 'admin role required');
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

export async function jsonBody(c: Context): Promise<unknown> {
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
