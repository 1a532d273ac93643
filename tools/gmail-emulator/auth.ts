// Google's token endpoint and consent screen, as far as a Gmail reader meets them: the JWT-bearer
// grant (service account + domain-wide delegation) with real RS256 verification, the
// authorization-code and refresh-token grants of per-user OAuth, and opaque access tokens bound
// to one mailbox. Error texts are Google's, because client code branches on them.
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { errors, TokenError } from './errors.js';
import type { Clock, ResolvedOptions } from './options.js';
import type { Store } from './store.js';

export const SCOPE_READONLY = 'https://www.googleapis.com/auth/gmail.readonly';
export const SCOPE_METADATA = 'https://www.googleapis.com/auth/gmail.metadata';
const FULL_READ_SCOPES = new Set([SCOPE_READONLY, 'https://www.googleapis.com/auth/gmail.modify', 'https://mail.google.com/']);

/** Audiences Google accepts in a JWT-bearer assertion; google-auth-library always signs the first. */
const GOOGLE_TOKEN_AUDIENCES = [
  'https://oauth2.googleapis.com/token',
  'https://accounts.google.com/o/oauth2/token',
  'https://www.googleapis.com/oauth2/v4/token',
];

export const UNAUTHORIZED_CLIENT_DESCRIPTION =
  'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.';

export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

export interface RegisterServiceAccountOptions {
  client_email?: string;
  /** Register this public key (PEM) instead of generating a key pair; the answer then has no private_key. */
  public_key?: string;
  /** Scopes the Admin console authorises this client for under DWD (default gmail.readonly). */
  scopes?: string[];
  /** Whether domain-wide delegation is set up for this client at all (default true). */
  dwd?: boolean;
  project_id?: string;
}

export interface RegisteredPublicKey {
  client_email: string;
  client_id: string;
  private_key_id: string;
}

export interface OAuthClientInfo {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface ConsentDecision {
  /** The mailbox that signs in and consents. */
  email: string;
  /** The user clicks Cancel: the redirect carries error=access_denied. */
  deny?: boolean;
}

export interface AccessGrant {
  token: string;
  /** The mailbox this token reads, or null for a service account's own token (no `sub`). */
  mailbox: string | null;
  scopes: string[];
  expiresAt: number;
  refreshToken?: string;
}

interface ServiceAccount {
  email: string;
  clientId: string;
  keys: Map<string, KeyObject>;
  dwd: boolean;
  scopes: Set<string>;
}

type OAuthClient = OAuthClientInfo;

interface RefreshGrant {
  token: string;
  clientId: string;
  mailbox: string;
  scopes: string[];
  issuedAt: number;
  revoked: boolean;
}

interface AuthCode {
  clientId: string;
  redirectUri: string;
  mailbox: string;
  scopes: string[];
  offline: boolean;
  forceConsent: boolean;
  expiresAt: number;
  used: boolean;
}

interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

interface ConsentAnswer {
  status: number;
  location?: string;
  html?: string;
}

const b64url = (n: number): string => randomBytes(n).toString('base64url');
const digits = (n: number): string => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

export class Auth {
  private readonly serviceAccounts = new Map<string, ServiceAccount>();
  private readonly clients = new Map<string, OAuthClient>();
  private readonly accessTokens = new Map<string, AccessGrant>();
  private readonly refreshTokens = new Map<string, RefreshGrant>();
  private readonly codes = new Map<string, AuthCode>();
  /** client|mailbox pairs that consented to offline access before: Google gives a refresh token only the first time unless prompt=consent. */
  private readonly offlineGrants = new Set<string>();
  private consentQueue: ConsentDecision[] = [];
  private issued = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly opts: ResolvedOptions,
    private readonly urls: { tokenUrl: string; authUrl: string },
  ) {}

  registerServiceAccount(o: RegisterServiceAccountOptions = {}): ServiceAccountKey | RegisteredPublicKey {
    const projectId = o.project_id ?? 'emulated-project';
    const email = (o.client_email ?? `crm-gmail@${projectId}.iam.gserviceaccount.com`).toLowerCase();
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new Error(`client_email is not an address: "${o.client_email}"`);
    let sa = this.serviceAccounts.get(email);
    if (!sa) {
      sa = { email, clientId: `1${digits(20)}`, keys: new Map(), dwd: true, scopes: new Set([SCOPE_READONLY]) };
      this.serviceAccounts.set(email, sa);
    }
    if (o.dwd !== undefined) sa.dwd = o.dwd;
    if (o.scopes) sa.scopes = new Set(o.scopes);
    const kid = randomBytes(20).toString('hex');
    if (o.public_key) {
      let key: KeyObject;
      try {
        key = createPublicKey(o.public_key);
      } catch (e) {
        throw new Error(`public_key is not a PEM public key: ${(e as Error).message}`);
      }
      if (key.asymmetricKeyType !== 'rsa') throw new Error('public_key must be an RSA key (RS256)');
      sa.keys.set(kid, key);
      return { client_email: email, client_id: sa.clientId, private_key_id: kid };
    }
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    sa.keys.set(kid, pair.publicKey);
    return {
      type: 'service_account',
      project_id: projectId,
      private_key_id: kid,
      private_key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: sa.clientId,
      auth_uri: this.urls.authUrl,
      token_uri: this.urls.tokenUrl,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: 'googleapis.com',
    };
  }

  /** Turn domain-wide delegation on or off for a whole service account (every mailbox at once, as in real life). */
  setServiceAccountDwd(clientEmail: string, on: boolean): void {
    const sa = this.serviceAccounts.get(clientEmail.toLowerCase());
    if (!sa) throw new Error(`no service account ${clientEmail}`);
    sa.dwd = on;
  }

  registerOAuthClient(o: { client_id?: string; client_secret?: string; redirect_uris: string[] }): OAuthClientInfo {
    if (!Array.isArray(o.redirect_uris) || o.redirect_uris.length === 0) throw new Error('registerOAuthClient: redirect_uris must list at least one URI');
    for (const u of o.redirect_uris) {
      try {
        new URL(u);
      } catch {
        throw new Error(`registerOAuthClient: redirect URI "${u}" is not an absolute URL`);
      }
    }
    const client: OAuthClient = {
      client_id: o.client_id ?? `${digits(12)}-${b64url(24).toLowerCase().replace(/[^a-z0-9]/g, 'a')}.apps.googleusercontent.com`,
      client_secret: o.client_secret ?? `GOCSPX-${b64url(21)}`,
      redirect_uris: [...o.redirect_uris],
    };
    this.clients.set(client.client_id, client);
    return { ...client, redirect_uris: [...client.redirect_uris] };
  }

  /** Who signs in at the next consent (queued; each consent takes one). */
  setNextConsent(d: ConsentDecision): void {
    this.store.get(d.email);
    this.consentQueue.push({ email: d.email.toLowerCase(), deny: !!d.deny });
  }

  /** Revokes refresh tokens (and the access tokens made from them); returns how many. */
  revokeRefreshTokens(o: { email?: string; token?: string; client_id?: string }): number {
    if (!o.email && !o.token && !o.client_id) throw new Error('revokeRefreshTokens: give email, token or client_id');
    let n = 0;
    for (const rt of this.refreshTokens.values()) {
      if (rt.revoked) continue;
      if (o.token && rt.token !== o.token) continue;
      if (o.email && rt.mailbox !== o.email.toLowerCase()) continue;
      if (o.client_id && rt.clientId !== o.client_id) continue;
      rt.revoked = true;
      n++;
      for (const [k, at] of this.accessTokens) if (at.refreshToken === rt.token) this.accessTokens.delete(k);
    }
    return n;
  }

  revokeAccessTokens(o: { email?: string }): number {
    let n = 0;
    for (const [k, at] of this.accessTokens) {
      if (!o.email || at.mailbox === o.email.toLowerCase()) {
        this.accessTokens.delete(k);
        n++;
      }
    }
    return n;
  }

  /** POST /token. */
  token(form: URLSearchParams, authorization: string | undefined): TokenAnswer {
    const grant = form.get('grant_type') ?? '';
    try {
      let body: Record<string, unknown>;
      if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') body = this.jwtGrant(form);
      else if (grant === 'refresh_token') body = this.refreshGrant(form, authorization);
      else if (grant === 'authorization_code') body = this.codeGrant(form, authorization);
      else if (!grant) throw new TokenError(400, 'invalid_request', 'Missing required parameter: grant_type');
      else throw new TokenError(400, 'unsupported_grant_type', `Invalid grant_type: ${grant}`);
      return { status: 200, body };
    } catch (e) {
      if (e instanceof TokenError) return { status: e.status, body: e.toJSON() };
      throw e;
    }
  }

  private jwtGrant(form: URLSearchParams): Record<string, unknown> {
    const assertion = form.get('assertion');
    if (!assertion) throw new TokenError(400, 'invalid_request', 'Missing required parameter: assertion');
    const badSignature = new TokenError(400, 'invalid_grant', 'Invalid JWT Signature.');
    const parts = assertion.split('.');
    if (parts.length !== 3) throw badSignature;
    let header: { alg?: string; kid?: string };
    let claims: { iss?: string; sub?: string; aud?: string; scope?: string; iat?: number; exp?: number };
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      throw badSignature;
    }
    if (header.alg !== 'RS256') throw badSignature;
    const sa = this.serviceAccounts.get(String(claims.iss ?? '').toLowerCase());
    if (!sa) throw new TokenError(400, 'invalid_grant', 'Invalid grant: account not found');
    const keys = header.kid ? [sa.keys.get(header.kid)].filter((k): k is KeyObject => !!k) : [...sa.keys.values()];
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2]!, 'base64url');
    if (!keys.some((k) => verify('sha256', signed, k, signature))) throw badSignature;
    if (!GOOGLE_TOKEN_AUDIENCES.includes(String(claims.aud)) && claims.aud !== this.urls.tokenUrl) {
      throw new TokenError(400, 'invalid_grant', 'Invalid JWT: Failed audience check. The expected audience is the token endpoint.');
    }
    const now = this.clock.now() / 1000;
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (!Number.isFinite(iat) || !Number.isFinite(exp) || exp - iat > 3600 || exp <= now || iat > now + this.opts.jwtMaxSkewSec) {
      throw new TokenError(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    const scopes = String(claims.scope ?? '').split(/\s+/).filter(Boolean);
    if (scopes.length === 0) throw new TokenError(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const sub = claims.sub ? String(claims.sub).toLowerCase() : null;
    if (sub === null || sub === sa.email) return this.issue(null, scopes);
    const unauthorized = new TokenError(401, 'unauthorized_client', UNAUTHORIZED_CLIENT_DESCRIPTION);
    if (!sa.dwd) throw unauthorized;
    const mb = this.store.find(sub);
    if (!mb || mb.flags.suspended) throw new TokenError(400, 'invalid_grant', 'Invalid email or User ID');
    if (!mb.flags.authorisedForDwd || scopes.some((s) => !sa.scopes.has(s))) throw unauthorized;
    return this.issue(mb.email, scopes);
  }

  private client(form: URLSearchParams, authorization: string | undefined): OAuthClient {
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (basic) {
      const [u, p] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u ?? '');
      secret = decodeURIComponent(p ?? '');
    }
    const client = id ? this.clients.get(id) : undefined;
    if (!client) throw new TokenError(401, 'invalid_client', 'The OAuth client was not found.');
    if (secret !== client.client_secret) throw new TokenError(401, 'invalid_client', 'Unauthorized');
    return client;
  }

  private refreshGrant(form: URLSearchParams, authorization: string | undefined): Record<string, unknown> {
    const client = this.client(form, authorization);
    const token = form.get('refresh_token');
    if (!token) throw new TokenError(400, 'invalid_request', 'Missing required parameter: refresh_token');
    const rt = this.refreshTokens.get(token);
    const expired = rt && this.opts.refreshTokenTtlMs !== null && this.clock.now() >= rt.issuedAt + this.opts.refreshTokenTtlMs;
    const mb = rt ? this.store.find(rt.mailbox) : undefined;
    if (!rt || rt.revoked || expired || rt.clientId !== client.client_id || !mb || mb.flags.suspended) {
      throw new TokenError(400, 'invalid_grant', 'Token has been expired or revoked.');
    }
    const body = this.issue(rt.mailbox, rt.scopes, rt.token);
    return { ...body, scope: rt.scopes.join(' ') };
  }

  private codeGrant(form: URLSearchParams, authorization: string | undefined): Record<string, unknown> {
    const client = this.client(form, authorization);
    const code = form.get('code');
    if (!code) throw new TokenError(400, 'invalid_request', 'Missing required parameter: code');
    const ac = this.codes.get(code);
    if (!ac || ac.clientId !== client.client_id) throw new TokenError(400, 'invalid_grant', 'Malformed auth code.');
    if (ac.used || this.clock.now() >= ac.expiresAt) throw new TokenError(400, 'invalid_grant', 'Bad Request');
    if (form.get('redirect_uri') !== ac.redirectUri) throw new TokenError(400, 'redirect_uri_mismatch', 'Bad Request');
    ac.used = true;
    const grantKey = `${ac.clientId}|${ac.mailbox}`;
    let refresh: string | undefined;
    if (ac.offline && (ac.forceConsent || !this.offlineGrants.has(grantKey))) {
      refresh = `1//0${b64url(72)}`;
      this.refreshTokens.set(refresh, {
        token: refresh,
        clientId: ac.clientId,
        mailbox: ac.mailbox,
        scopes: ac.scopes,
        issuedAt: this.clock.now(),
        revoked: false,
      });
      this.offlineGrants.add(grantKey);
    }
    const body = this.issue(ac.mailbox, ac.scopes, refresh);
    return { ...body, ...(refresh ? { refresh_token: refresh } : {}), scope: ac.scopes.join(' ') };
  }

  private issue(mailbox: string | null, scopes: string[], refreshToken?: string): Record<string, unknown> {
    if (++this.issued % 1000 === 0) this.prune();
    const token = `ya29.${b64url(120)}`;
    const ttl = this.opts.accessTokenTtlSec;
    this.accessTokens.set(token, { token, mailbox, scopes, expiresAt: this.clock.now() + ttl * 1000, refreshToken });
    return { access_token: token, expires_in: ttl - 1, token_type: 'Bearer' };
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [k, at] of this.accessTokens) if (at.expiresAt <= now) this.accessTokens.delete(k);
    for (const [k, c] of this.codes) if (c.used || c.expiresAt <= now) this.codes.delete(k);
  }

  /** POST /revoke: a refresh token takes its access tokens with it. */
  revoke(form: URLSearchParams): TokenAnswer {
    const token = form.get('token') ?? '';
    if (this.refreshTokens.has(token) && !this.refreshTokens.get(token)!.revoked) {
      this.revokeRefreshTokens({ token });
      return { status: 200, body: {} };
    }
    if (this.accessTokens.delete(token)) return { status: 200, body: {} };
    return { status: 400, body: { error: 'invalid_token', error_description: 'Token expired or revoked' } };
  }

  /** GET /o/oauth2/v2/auth: checks the request like Google's consent screen, then signs in whoever setNextConsent chose. */
  consent(q: URLSearchParams): ConsentAnswer {
    const page = (status: number, title: string, detail: string): ConsentAnswer => ({
      status,
      html: `<!doctype html><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>`,
    });
    const client = this.clients.get(q.get('client_id') ?? '');
    if (!client) return page(401, 'Error 401: invalid_client', 'The OAuth client was not found.');
    const redirect = q.get('redirect_uri') ?? '';
    if (!client.redirect_uris.includes(redirect)) {
      return page(400, 'Error 400: redirect_uri_mismatch', `redirect_uri=${redirect} is not registered for this client.`);
    }
    if (q.get('response_type') !== 'code') return page(400, 'Error 400: invalid_request', `Invalid response_type: ${q.get('response_type') ?? ''}`);
    const scopes = (q.get('scope') ?? '').split(/\s+/).filter(Boolean);
    if (scopes.length === 0) return page(400, 'Error 400: invalid_request', 'Missing required parameter: scope');
    const accessType = q.get('access_type') ?? 'online';
    if (accessType !== 'online' && accessType !== 'offline') return page(400, 'Error 400: invalid_request', `Invalid access_type: ${accessType}`);
    const hint = q.get('login_hint');
    const decision = this.consentQueue.shift() ?? (hint && this.store.find(hint) ? { email: hint.toLowerCase(), deny: false } : null);
    if (!decision) {
      return page(400, 'Error 400: no account signed in', 'The emulator has no mailbox to sign in: call setNextConsent first or pass login_hint.');
    }
    const target = new URL(redirect);
    const state = q.get('state');
    if (decision.deny) {
      target.searchParams.set('error', 'access_denied');
      if (state !== null) target.searchParams.set('state', state);
      return { status: 302, location: target.toString() };
    }
    const mb = this.store.find(decision.email);
    if (!mb || mb.flags.suspended) return page(400, 'Error 400: account unavailable', `${decision.email} cannot sign in.`);
    const code = `4/0${b64url(60)}`;
    const prompt = (q.get('prompt') ?? '').split(/\s+/);
    this.codes.set(code, {
      clientId: client.client_id,
      redirectUri: redirect,
      mailbox: mb.email,
      scopes,
      offline: accessType === 'offline',
      forceConsent: prompt.includes('consent'),
      expiresAt: this.clock.now() + this.opts.authCodeTtlMs,
      used: false,
    });
    if (state !== null) target.searchParams.set('state', state);
    target.searchParams.set('code', code);
    target.searchParams.set('scope', scopes.join(' '));
    return { status: 302, location: target.toString() };
  }

  /** The grant behind a Gmail request's bearer token, or the 401 Gmail gives. */
  authenticate(authorization: string | undefined): AccessGrant {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const grant = m ? this.accessTokens.get(m[1]!) : undefined;
    if (!grant || grant.expiresAt <= this.clock.now()) throw errors.unauthenticated();
    if (grant.mailbox) {
      const mb = this.store.find(grant.mailbox);
      if (!mb || mb.flags.suspended) throw errors.unauthenticated();
    }
    return grant;
  }

  /** Whether the grant's scopes allow reading message content (`metadata`-only scope does not). */
  static canReadContent(grant: AccessGrant): boolean {
    return grant.scopes.some((s) => FULL_READ_SCOPES.has(s));
  }

  static canRead(grant: AccessGrant): boolean {
    return Auth.canReadContent(grant) || grant.scopes.includes(SCOPE_METADATA);
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
