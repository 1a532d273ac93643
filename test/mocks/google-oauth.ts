// Google's side of per-user OAuth, as MSW handlers on a loopback origin: the consent page
// (which sends the browser straight back with a code, as if the owner clicked Allow), the
// token endpoint (authorization_code and refresh_token grants) and Gmail users.getProfile.
import { randomBytes } from 'node:crypto';
import { http, HttpResponse } from 'msw';

export const GOOGLE = 'http://127.0.0.1:4599';
export const CLIENT_ID = 'client-123.apps.googleusercontent.com';
export const CLIENT_SECRET = 'client-secret-xyz';
export const REDIRECT_URL = 'http://127.0.0.1:8080/api/email/oauth/callback';

export const oauthEnv: Record<string, string> = {
  CRM_GMAIL_INTEGRATION_ENABLED: 'true',
  CRM_GMAIL_AUTH_METHOD: 'oauth',
  CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.example',
  CRM_GMAIL_OAUTH_CLIENT_ID: CLIENT_ID,
  CRM_GMAIL_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
  CRM_GMAIL_OAUTH_REDIRECT_URL: REDIRECT_URL,
  CRM_GOOGLE_AUTH_URL: `${GOOGLE}/o/oauth2/v2/auth`,
  CRM_GOOGLE_TOKEN_URL: `${GOOGLE}/token`,
  CRM_GMAIL_API_ROOT_URL: `${GOOGLE}/`,
};

interface Grant {
  mailbox: string;
  refreshToken?: string;
  scope: string;
}

/** What the fake consent page does for the next visit. */
export interface ConsentBehaviour {
  /** Sign in as this mailbox instead of the login_hint. */
  signInAs?: string;
  /** The owner clicks Cancel. */
  deny?: boolean;
  /** The app already had access and Google issues no new refresh token. */
  noRefreshToken?: boolean;
  /** Scopes the owner left ticked (granular consent). */
  scope?: string;
}

export class FakeGoogle {
  readonly codes = new Map<string, Grant>();
  readonly accessTokens = new Map<string, string>();
  /** Every refresh token handed out, so tests can look for them where they must not be. */
  readonly issuedRefreshTokens: string[] = [];
  readonly issuedAccessTokens: string[] = [];
  readonly issuedCodes: string[] = [];
  readonly revoked = new Set<string>();
  next: ConsentBehaviour = {};
  tokenCalls = 0;

  handlers() {
    return [
      http.get(`${GOOGLE}/o/oauth2/v2/auth`, ({ request }) => {
        const q = new URL(request.url).searchParams;
        const problems = [
          q.get('client_id') === CLIENT_ID ? null : 'client_id',
          q.get('redirect_uri') === REDIRECT_URL ? null : 'redirect_uri',
          q.get('response_type') === 'code' ? null : 'response_type',
          q.get('access_type') === 'offline' ? null : 'access_type',
          q.get('prompt') === 'consent' ? null : 'prompt',
          q.get('scope') ? null : 'scope',
        ].filter(Boolean);
        if (problems.length) return HttpResponse.text(`bad request: ${problems.join(', ')}`, { status: 400 });
        const back = new URL(q.get('redirect_uri')!);
        const b = this.next;
        this.next = {};
        if (b.deny) {
          back.searchParams.set('error', 'access_denied');
        } else {
          const code = `4/code-${randomBytes(8).toString('hex')}`;
          this.issuedCodes.push(code);
          this.codes.set(code, {
            mailbox: b.signInAs ?? q.get('login_hint') ?? 'nobody@example.com',
            refreshToken: b.noRefreshToken ? undefined : `1//rt-${randomBytes(12).toString('hex')}`,
            scope: b.scope ?? q.get('scope')!,
          });
          back.searchParams.set('code', code);
        }
        if (q.get('state') !== null) back.searchParams.set('state', q.get('state')!);
        return new HttpResponse(null, { status: 302, headers: { Location: back.toString() } });
      }),

      http.post(`${GOOGLE}/token`, async ({ request }) => {
        this.tokenCalls++;
        const form = new URLSearchParams(await request.text());
        if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
          return HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
        }
        if (form.get('grant_type') === 'authorization_code') {
          const grant = this.codes.get(form.get('code') ?? '');
          if (!grant || form.get('redirect_uri') !== REDIRECT_URL) {
            return HttpResponse.json({ error: 'invalid_grant', error_description: 'Bad Request' }, { status: 400 });
          }
          this.codes.delete(form.get('code')!);
          const access = this.mint(grant.mailbox);
          if (grant.refreshToken) {
            this.issuedRefreshTokens.push(grant.refreshToken);
            this.refreshOwners.set(grant.refreshToken, grant.mailbox);
          }
          return HttpResponse.json({
            access_token: access,
            expires_in: 3599,
            token_type: 'Bearer',
            scope: grant.scope,
            ...(grant.refreshToken ? { refresh_token: grant.refreshToken } : {}),
          });
        }
        if (form.get('grant_type') === 'refresh_token') {
          const rt = form.get('refresh_token') ?? '';
          const owner = this.refreshOwners.get(rt);
          if (!owner || this.revoked.has(rt)) {
            return HttpResponse.json({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }, { status: 400 });
          }
          return HttpResponse.json({ access_token: this.mint(owner), expires_in: 3599, token_type: 'Bearer' });
        }
        return HttpResponse.json({ error: 'unsupported_grant_type' }, { status: 400 });
      }),

      http.get(`${GOOGLE}/gmail/v1/users/:userId/profile`, ({ request }) => {
        const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
        const mailbox = bearer ? this.accessTokens.get(bearer) : undefined;
        if (!mailbox) return HttpResponse.json({ error: { code: 401, message: 'Invalid Credentials' } }, { status: 401 });
        return HttpResponse.json({ emailAddress: mailbox, messagesTotal: 12, threadsTotal: 9, historyId: '424242' });
      }),
    ];
  }

  private readonly refreshOwners = new Map<string, string>();

  private mint(mailbox: string): string {
    const access = `ya29.at-${randomBytes(12).toString('hex')}`;
    this.accessTokens.set(access, mailbox);
    this.issuedAccessTokens.push(access);
    return access;
  }
}

/** The browser's part: open the consent URL, let the fake consent page answer, and return where it sends the browser back to (path + query, for app.request). */
export async function visitConsent(url: string): Promise<string> {
  const res = await fetch(url, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`consent page answered ${res.status}: ${await res.text()}`);
  const back = new URL(res.headers.get('location')!);
  if (`${back.origin}${back.pathname}` !== REDIRECT_URL) throw new Error(`consent sent the browser to ${back.toString()}`);
  return `${back.pathname}${back.search}`;
}
