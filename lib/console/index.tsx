// The web console: server-rendered pages for partners and the admin, in the same process and
// on the same port as the API, with the same users and roles. Mounted at `/`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { login } from '../../functions/login.js';
import { logout } from '../../functions/logout.js';
import type { Deps } from '../core/deps.js';
import { toAppError } from '../core/errors.js';
import { invoke } from '../core/fn.js';
import { clientAddress, type App } from '../http/access.js';
import { field, notFoundPage, PAGE_CSP, postForm, render, type Form } from './kit.js';
export { notFoundPage };
import { Layout } from './layout.js';
import { registerAccountPages } from './pages/account.js';
import { registerAdminPages } from './pages/admin.js';
import { registerMailPages } from './pages/mail.js';
import { registerInsightPages } from './pages/insights.js';
import { currentSession, endSession, originAllowed, safeNext, startSession } from './session.js';

const STATIC_DIR = path.join(import.meta.dirname, 'static');
const STATIC: Record<string, { type: string; body: string }> = {
  'console.css': { type: 'text/css; charset=utf-8', body: readFileSync(path.join(STATIC_DIR, 'console.css'), 'utf8') },
  'console.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(path.join(STATIC_DIR, 'console.js'), 'utf8') },
  'favicon.svg': { type: 'image/svg+xml', body: readFileSync(path.join(STATIC_DIR, 'favicon.svg'), 'utf8') },
};

export const isConsolePath = (p: string) => !p.startsWith('/api/') && p !== '/api' && p !== '/healthz';

export function registerConsole(app: App, deps: Deps): void {
  app.use('*', async (c, next) => {
    await next();
    if (!isConsolePath(c.req.path)) return;
    const h = c.res.headers;
    if (!h.has('Content-Security-Policy')) h.set('Content-Security-Policy', PAGE_CSP);
    h.set('X-Frame-Options', 'DENY');
    h.set('Referrer-Policy', 'no-referrer');
    h.set('X-Content-Type-Options', 'nosniff');
    if (!h.has('Cache-Control')) h.set('Cache-Control', 'no-store');
  });

  // Browsers ask for /favicon.ico on every page; the console's icon answers it.
  app.get('/favicon.ico', (c) => c.body(STATIC['favicon.svg']!.body, 200, { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'public, max-age=86400' }));

  app.get('/static/:file', async (c) => {
    const f = STATIC[c.req.param('file')];
    if (!f) return notFoundPage(deps, c);
    return c.body(f.body, 200, { 'Content-Type': f.type, 'Cache-Control': 'public, max-age=300' });
  });

  app.get('/login', async (c) => {
    const session = await currentSession(deps, c);
    const next = safeNext(c.req.query('next'));
    if (session) return c.redirect(next, 303);
    // No banner from the query string: a link must not make the sign-in page say anything.
    return loginPage(c, next);
  });

  app.post('/login', async (c) => {
    let form: Form = {};
    try {
      form = (await c.req.parseBody()) as Form;
    } catch {
      // An unreadable form is a failed sign-in like any other.
    }
    const next = safeNext(field(form, 'next'));
    // Before a session exists there is no CSRF token to check; the Origin check stands in
    // (SameSite=Strict keeps the cookie off cross-site requests anyway).
    if (!originAllowed(deps, c)) return loginPage(c, next, 'This form was not sent from the console itself, so it was refused.', 403);
    try {
      const out = await invoke(deps, login, { username: field(form, 'username'), password: field(form, 'password') }, { client: clientAddress(c, deps.config.trustedProxies) });
      startSession(deps, c, out.token);
      return c.redirect(next, 303);
    } catch (err) {
      const e = toAppError(err);
      if (e.code === 'RATE_LIMITED') c.header('Retry-After', String(Math.max(1, Math.ceil(e.retryAfterSec ?? 1))));
      const message = e.code === 'VALIDATION' ? 'Give a username and a password.' : e.code === 'INTERNAL' ? 'Sign-in failed on the server.' : e.message;
      return loginPage(c, next, message, e.code === 'RATE_LIMITED' ? 429 : 401, field(form, 'username'));
    }
  });

  postForm(app, deps, '/logout', 'user', () => '/', async ({ c, session }) => {
    await invoke(deps, logout, {}, { actor: { ...session.actor } });
    endSession(deps, c);
    return c.redirect('/login', 303);
  });

  // The console's front door: without a session, `/` is the sign-in page itself (200), as the
  // contract says, not a redirect; other pages still send strangers to /login?next=….
  app.get('/', async (c, next) => {
    if (await currentSession(deps, c)) return next();
    const u = new URL(c.req.url);
    return loginPage(c, safeNext(u.pathname + u.search));
  });

  registerMailPages(app, deps);
  registerInsightPages(app, deps);
  registerAdminPages(app, deps);
  registerAccountPages(app, deps);
}

function loginPage(c: Parameters<typeof render>[0], next: string, err?: string, status = 200, username = ''): Promise<Response> {
  return render(
    c,
    <Layout title="Sign in" session={null} flash={{ err }}>
      <h1>Sign in to crm-gmail</h1>
      <form method="post" action="/login" class="col">
        <input type="hidden" name="next" value={next} />
        <label>
          Username
          <input name="username" autocomplete="username" required value={username} autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </Layout>,
    status,
  );
}
