// How a console route is guarded and answered: who may see it, the CSRF and origin checks
// on posts, errors shown as pages (or carried back to the form's page), and the headers.
import type { Context } from 'hono';
import { isPendingReview } from '../directory/review.js';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { Deps } from '../core/deps.js';
import { AppError, toAppError } from '../core/errors.js';
import { invoke, type FnDef } from '../core/fn.js';
import { clientAddress, type App, type Env } from '../http/access.js';
import { Layout } from './layout.js';
import { csrfValid, currentSession, originAllowed, type Session } from './session.js';
import type { z } from 'zod';

export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; frame-src 'self'";

type Level = 'user' | 'admin';
export type Form = Record<string, string | File | (string | File)[]>;

export interface Ctx {
  c: Context<Env>;
  deps: Deps;
  session: Session;
  /** Parsed form of a post (empty for GET). */
  form: Form;
  call<I extends z.ZodType, O>(fn: FnDef<I, O>, raw: unknown): Promise<O>;
}

export async function render(c: Context, el: JSX.Element, status = 200, headers: Record<string, string> = {}): Promise<Response> {
  const html = '<!doctype html>' + (await el.toString());
  return c.html(html, status as 200, headers);
}

export function field(form: Form, name: string): string {
  const v = form[name];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : '';
  return typeof v === 'string' ? v : '';
}

/** One address or domain per line (or comma-separated), blanks dropped. */
export function lines(s: string): string[] {
  return s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
}

/** What to tell the user after a directory change: done, or held for an admin's approval. */
export function outcomeNote(out: unknown, done: string): string {
  if (!isPendingReview(out)) return done;
  const r = out.pending_review;
  return `Not applied yet: this change would newly expose ${r.newly_exposed} withheld emails (more than ${r.threshold}), so it waits for an admin's approval (review ${r.id}).`;
}

export function withFlash(path: string, kind: 'ok' | 'err', message: string): string {
  const u = new URL(path, 'http://x');
  u.searchParams.set(kind, message.slice(0, 500));
  return u.pathname + u.search;
}

export function flashOf(c: Context): { ok?: string; err?: string } {
  return { ok: c.req.query('ok')?.slice(0, 500), err: c.req.query('err')?.slice(0, 500) };
}

async function errorPage(c: Context, session: Session | null, status: number, message: string): Promise<Response> {
  return render(
    c,
    <Layout title={status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : 'Error'} session={session}>
      <h1>{status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : 'Something went wrong'}</h1>
      <p role="alert">{message}</p>
      <p>
        <a href="/">Back to investors</a>
      </p>
    </Layout>,
    status,
  );
}

function makeCtx(deps: Deps, c: Context<Env>, session: Session, form: Form): Ctx {
  return {
    c,
    deps,
    session,
    form,
    call: (fn, raw) => invoke(deps, fn, raw, { actor: session.actor, client: clientAddress(c, deps.config.trustedProxies) }),
  };
}

function loginRedirect(c: Context): Response {
  const u = new URL(c.req.url);
  const next = c.req.method === 'GET' ? u.pathname + u.search : '/';
  return c.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
}

/** A console page (GET). */
export function getPage(app: App, deps: Deps, path: string, level: Level, h: (x: Ctx) => Promise<Response>): void {
  app.get(path, async (c) => {
    const session = await currentSession(deps, c);
    if (!session) return loginRedirect(c);
    if (level === 'admin' && session.actor.role !== 'admin') return errorPage(c, session, 403, 'This page is for admins.');
    try {
      return await h(makeCtx(deps, c, session, {}));
    } catch (err) {
      const e = toAppError(err);
      if (e.code === 'INTERNAL') deps.log.error({ event: 'console.error', path: c.req.path, err: String(err instanceof Error ? err.stack : err) }, 'console page failed');
      return errorPage(c, session, e.status, e.code === 'INTERNAL' ? 'The server could not show this page; the log says why.' : e.message);
    }
  });
}

/**
 * A console form post. Refused (403) unless it comes from the console's own origin and carries
 * the session's CSRF token; admin posts are refused to members. On success the handler answers
 * (usually a redirect); a refusal by the handler goes back to `back` with the message.
 */
export function postForm(app: App, deps: Deps, path: string, level: Level, back: (c: Context<Env>) => string, h: (x: Ctx) => Promise<Response>): void {
  app.post(path, async (c) => {
    if (!originAllowed(deps, c)) return errorPage(c, null, 403, 'This form was not sent from the console itself (its Origin does not match), so it was refused.');
    const session = await currentSession(deps, c);
    if (!session) return loginRedirect(c);
    let form: Form;
    try {
      form = (await c.req.parseBody({ all: true })) as Form;
    } catch {
      return errorPage(c, session, 400, 'The form could not be read.');
    }
    if (!csrfValid(deps, session, field(form, '_csrf'))) {
      return errorPage(c, session, 403, 'The form’s security token is missing or stale; reload the page and try again.');
    }
    if (level === 'admin' && session.actor.role !== 'admin') return errorPage(c, session, 403, 'Only admins may do this.');
    try {
      return await h(makeCtx(deps, c, session, form));
    } catch (err) {
      const e = toAppError(err);
      if (e.code === 'INTERNAL') {
        deps.log.error({ event: 'console.error', path: c.req.path, err: String(err instanceof Error ? err.stack : err) }, 'console post failed');
        return errorPage(c, session, 500, 'The server could not do this; the log says why.');
      }
      if (e.code === 'FORBIDDEN' || e.code === 'UNAUTHENTICATED') return errorPage(c, session, e.status, e.message);
      return c.redirect(withFlash(back(c), 'err', e.message), 303);
    }
  });
}

function notFound(what: string): never {
  throw new AppError('NOT_FOUND', `no such ${what}`);
}

export function idOf(c: Context, name = 'id'): number {
  const v = c.req.param(name) ?? '';
  if (!/^\d{1,15}$/.test(v)) notFound(name);
  return Number(v);
}
