// How a console route is guarded and answered: who may see it, the CSRF and origin checks
// on posts, errors shown as pages, the banners a redirect may ask for, and the headers.
import type { Context } from 'hono';
import { isPendingReview } from '../directory/review.js';
import type { Child } from 'hono/jsx';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { Deps } from '../core/deps.js';
import { AppError, toAppError } from '../core/errors.js';
import { invoke, type FnDef } from '../core/fn.js';
import { clientAddress, type App, type Env } from '../http/access.js';
import { Csrf, Layout } from './layout.js';
import { csrfValid, currentSession, isSecure, originAllowed, type Session } from './session.js';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { signValue, verifySignature } from '../auth/secrets.js';
import { SESSION_COOKIE } from '../http/access.js';
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

/**
 * The banners a redirect may ask for, by code. Only these fixed texts can be shown, never
 * words supplied from outside, so nobody can make the console tell a partner something it did
 * not say (an unknown code shows nothing).
 */
const MESSAGES = {
  saved: ['ok', 'Saved.'],
  'contact-added': ['ok', 'Contact added.'],
  'contact-saved': ['ok', 'Contact saved.'],
  'contact-deleted': ['ok', 'Contact deleted; mail that only it matched is withheld again.'],
  'investor-deleted': ['ok', 'Investor deleted; mail that only it matched is withheld again.'],
  held: ['ok', 'Not applied yet: this change is waiting for an admin’s approval, because it would make more withheld emails readable than the review threshold allows. An admin approves or rejects it under Directory → Held changes.'],
  'investor-created': ['ok', 'Investor created; its mail is being matched.'],
  'investor-held': ['ok', 'Not created yet: this investor is waiting for an admin’s approval, because it would make more withheld emails readable than the review threshold allows. It appears here once an admin approves it under Directory → Held changes.'],
  enrolled: ['ok', 'Mailbox enrolled.'],
  'already-enrolled': ['ok', 'That mailbox was already enrolled.'],
  'enrolled-all': ['ok', 'Every team member’s mailbox is enrolled.'],
  'syncs-started': ['ok', 'Syncs started.'],
  'sync-started': ['ok', 'Sync started.'],
  'already-syncing': ['ok', 'That mailbox is already syncing.'],
  'verify-started': ['ok', 'Verification started: what is missing is fetched, what Gmail no longer has is marked deleted. The Last verify column shows what it found.'],
  paused: ['ok', 'Mailbox paused.'],
  resumed: ['ok', 'Mailbox resumed.'],
  'unenrolled-kept': ['ok', 'Unenrolled; its captured mail stays.'],
  'unenrolled-purged': ['ok', 'Unenrolled and purged: the mail only this mailbox held and its files are deleted.'],
  excluded: ['ok', 'Exclusion added; matching is being brought up to date.'],
  'exclusion-removed': ['ok', 'Exclusion removed; its mail matches again once it is fetched from Gmail.'],
  approved: ['ok', 'Approved: the change is applied and its mail is being matched.'],
  rejected: ['ok', 'Rejected: the change is not applied and its mail stays withheld.'],
  'user-created': ['ok', 'User created.'],
  'user-saved': ['ok', 'User saved.'],
  'password-reset': ['ok', 'Password reset; the user’s sessions were signed out.'],
  'password-changed': ['ok', 'Your password is changed; your other sessions were signed out.'],
  'feed-token-revoked': ['ok', 'Feed token revoked.'],
} as const satisfies Record<string, readonly ['ok' | 'err', string]>;

export type MessageCode = keyof typeof MESSAGES;

/** What to tell the user, on a page rendered in answer to a post, after a directory change: done, or held for an admin's approval. */
export function outcomeNote(out: unknown, done: string): string {
  if (!isPendingReview(out)) return done;
  const r = out.pending_review;
  return `Not applied yet: this change would newly expose ${r.newly_exposed} withheld emails (more than ${r.threshold}), so it waits for an admin's approval (review ${r.id}).`;
}

/** The code for a directory change's outcome: done, or held for an admin's approval. */
export function outcomeCode(out: unknown, done: MessageCode): MessageCode {
  return isPendingReview(out) ? 'held' : done;
}

/**
 * A banner for the page a post redirects to, carried once: a short-lived cookie (HttpOnly,
 * SameSite=Strict) naming the message code and the page it is for, signed for this session.
 * The page that shows it clears it, so a reload, a bookmark or a shared link shows nothing;
 * and the address bar never holds a code a link could replay.
 */
export const FLASH_COOKIE = 'crm_flash';
const FLASH_TTL_SEC = 60;

const flashData = (c: Context, code: string, path: string) => `console-flash:${getCookie(c, SESSION_COOKIE) ?? ''}:${code}:${path}`;

export function flashRedirect(deps: Deps, c: Context, path: string, code: MessageCode): Response {
  const target = new URL(path, 'http://x').pathname;
  setCookie(c, FLASH_COOKIE, `${code}.${Buffer.from(target, 'utf8').toString('base64url')}.${signValue(deps.config, flashData(c, code, target))}`, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: isSecure(deps, c),
    path: '/',
    maxAge: FLASH_TTL_SEC,
  });
  return c.redirect(path, 303);
}

/**
 * The banner a redirect asked for, shown on the page it was meant for and then forgotten: any
 * page that reads it clears the cookie. An unknown code, another page's or another session's
 * cookie, or one not signed here shows nothing.
 */
export function flashOf(deps: Deps, c: Context): { ok?: string; err?: string } {
  const raw = getCookie(c, FLASH_COOKIE);
  if (raw === undefined) return {};
  deleteCookie(c, FLASH_COOKIE, { path: '/', secure: isSecure(deps, c), httpOnly: true, sameSite: 'Strict' });
  const [code = '', target64 = '', sig = '', ...rest] = raw.length < 400 ? raw.split('.') : [];
  if (rest.length || !Object.hasOwn(MESSAGES, code)) return {};
  const target = Buffer.from(target64, 'base64url').toString('utf8');
  if (target !== c.req.path || !verifySignature(deps.config, flashData(c, code, target), sig)) return {};
  const m = MESSAGES[code as MessageCode];
  return { [m[0]]: m[1] };
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

async function refusedPage(c: Context, session: Session, status: number, message: string, back: string): Promise<Response> {
  return render(
    c,
    <Layout title="Not done" session={session}>
      <h1>Not done</h1>
      <p class="banner err" role="alert">
        {message}
      </p>
      <p>
        <a href={back}>Back</a>
      </p>
    </Layout>,
    status,
  );
}

/** The console's own 404 for a path no route answers: a page, not the API's JSON. */
export async function notFoundPage(deps: Deps, c: Context): Promise<Response> {
  return errorPage(c, await currentSession(deps, c), 404, 'There is no page at this address.');
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
 * (usually a redirect); a refusal by the handler is shown with a link back to `back`.
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
      // The refusal is shown here, at the post, rather than carried in a link's query string.
      return refusedPage(c, session, e.status, e.message, back(c));
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

/** The field a destructive post must carry; without it the post answers its confirmation page. */
export const CONFIRM_FIELD = 'confirm';
export const confirmed = (form: Form): boolean => field(form, CONFIRM_FIELD) === 'yes';

/**
 * A destructive action's confirmation: what will happen, in numbers, and one form that posts
 * the action with the session's CSRF token and the confirm field. Plain HTML, no script.
 */
export function confirmPage(
  x: { c: Context; session: Session },
  o: { title: string; consequence: Child; action: string; fields?: Record<string, string>; button: string; cancel: string },
): Promise<Response> {
  return render(
    x.c,
    <Layout title={o.title} session={x.session}>
      <h1>{o.title}</h1>
      <div class="confirm" role="alert">
        {o.consequence}
      </div>
      <form method="post" action={o.action} class="row">
        <Csrf session={x.session} />
        {Object.entries(o.fields ?? {}).map(([k, v]) => (
          <input type="hidden" name={k} value={v} />
        ))}
        <input type="hidden" name={CONFIRM_FIELD} value="yes" />
        <button type="submit" class="danger">
          {o.button}
        </button>
        <a href={o.cancel}>Cancel</a>
      </form>
    </Layout>,
  );
}
