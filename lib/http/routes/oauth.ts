// Per-user OAuth consent. `start` is an API call (bearer token); `callback` is where Google
// sends the mailbox owner's browser back, so it needs no token and answers a readable page.
import type { Context } from 'hono';
import { oauthCallback } from '../../../functions/oauthCallback.js';
import { oauthStart } from '../../../functions/oauthStart.js';
import type { Deps } from '../../core/deps.js';
import { toAppError } from '../../core/errors.js';
import { invoke } from '../../core/fn.js';
import { access, call, clientAddress, type App, type Env } from '../access.js';
import { CONSENT_PAGE_CSP, consentPage } from '../../auth/consent.js';

export function registerOauthRoutes(app: App, deps: Deps): void {
  // Role and the disabled gate are decided inside oauthStart: a member asking for someone
  // else's mailbox is refused (403) before the gate would say anything (503).
  app.get('/api/email/oauth/start', access(deps, 'user'), async (c) => {
    const result = await call(deps, c, oauthStart, { email: c.req.query('email') });
    c.header('Location', result.url);
    c.header('Cache-Control', 'no-store');
    return c.json(result, 302);
  });

  app.get('/api/email/oauth/callback', async (c) => {
    const q = { code: c.req.query('code'), state: c.req.query('state'), error: c.req.query('error') };
    try {
      const r = await invoke(deps, oauthCallback, q, { client: clientAddress(c, deps.config.trustedProxies) });
      return page(c, 200, true, 'Gmail connected', `Gmail capture for ${r.email} is connected; you can close this tab.`);
    } catch (err) {
      const e = toAppError(err);
      const message =
        e.code === 'INTERNAL'
          ? 'Something went wrong on the server, so nothing was connected. The administrator will find the reason in the service log (event oauth.refused).'
          : e.message;
      return page(c, e.code === 'DISABLED' ? 503 : 400, false, 'Gmail not connected', message);
    }
  });
}

function page(c: Context<Env>, status: 200 | 400 | 503, ok: boolean, heading: string, message: string) {
  c.header('Content-Security-Policy', CONSENT_PAGE_CSP);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('Cache-Control', 'no-store');
  return c.html(consentPage(ok, heading, message), status);
}
