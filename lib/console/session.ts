// Console sessions: the bearer token of a console sign-in, kept in an HttpOnly, SameSite=Strict
// cookie (Secure when served over https or CRM_PUBLIC_URL is https). The token is a normal row
// in `tokens`, so disabling a user or signing out revokes it like any API token. Every form
// post must come from the console's own origin and carry the session's CSRF token.
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { authenticate, TOKEN_TTL_MS } from '../auth/credentials.js';
import { signValue, verifySignature } from '../auth/secrets.js';
import type { Actor, Deps } from '../core/deps.js';
import { SESSION_COOKIE } from '../http/access.js';

export interface Session {
  actor: Actor & { token_id: number };
  token: string;
  csrf: string;
}

export function isSecure(deps: Deps, c: Context): boolean {
  if (deps.config.publicUrl) return deps.config.publicUrl.startsWith('https:');
  return new URL(c.req.url).protocol === 'https:';
}

export function startSession(deps: Deps, c: Context, token: string): void {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: isSecure(deps, c),
    path: '/',
    maxAge: Math.floor(TOKEN_TTL_MS / 1000),
  });
}

export function endSession(deps: Deps, c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isSecure(deps, c), httpOnly: true, sameSite: 'Strict' });
}

export async function currentSession(deps: Deps, c: Context): Promise<Session | null> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token || token.length > 200) return null;
  try {
    const actor = await authenticate(deps.db, `Bearer ${token}`, deps.clock.now());
    // A feed token is not a person's session: it never opens the console.
    if (actor.role === 'reader' || actor.token_id === undefined) return null;
    return { actor: { ...actor, token_id: actor.token_id }, token, csrf: csrfFor(deps, token) };
  } catch {
    return null;
  }
}

const csrfFor = (deps: Deps, token: string): string => signValue(deps.config, `console-csrf:${token}`);

export function csrfValid(deps: Deps, session: Session, given: unknown): boolean {
  return typeof given === 'string' && given.length < 200 && verifySignature(deps.config, `console-csrf:${session.token}`, given);
}

/** The one origin console forms may be posted from: CRM_PUBLIC_URL, else the address asked for. */
function expectedOrigin(deps: Deps, c: Context): string {
  if (deps.config.publicUrl) return deps.config.publicUrl;
  const u = new URL(c.req.url);
  const host = c.req.header('host');
  return host ? `${u.protocol}//${host}` : u.origin;
}

/**
 * A post must come from the console's own origin. Under `Referrer-Policy: no-referrer` browsers
 * send `Origin: null` with form posts, so their own `Sec-Fetch-Site` (which pages cannot set)
 * decides then; a client that sends neither is refused.
 */
export function originAllowed(deps: Deps, c: Context): boolean {
  const origin = c.req.header('origin');
  if (origin && origin !== 'null') return origin === expectedOrigin(deps, c);
  const site = c.req.header('sec-fetch-site');
  if (site) return site === 'same-origin';
  return false;
}

/**
 * Only a path of this console, never another site. Parsed the way a browser would, against a
 * placeholder origin: anything that resolves elsewhere (`//evil`, `/\evil`, a scheme) is refused,
 * and so is any control character or backslash, because browsers silently drop tabs and
 * newlines (`/<TAB>/evil` becomes `//evil`) and read `\` as `/`.
 */
export function safeNext(raw: string | undefined): string {
  if (!raw || raw.length > 1000) return '/';
  // eslint-disable-next-line no-control-regex
  if (!raw.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(raw)) return '/';
  let u: URL;
  try {
    u = new URL(raw, 'http://x');
  } catch {
    return '/';
  }
  if (u.origin !== 'http://x' || u.pathname.startsWith('//')) return '/';
  if (u.pathname.startsWith('/login') || u.pathname.startsWith('/logout')) return '/';
  return u.pathname + u.search + u.hash;
}
