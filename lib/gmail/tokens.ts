// Access tokens for one mailbox: domain-wide delegation (a service-account JWT with the
// mailbox as subject) or the owner's OAuth refresh token. Both talk to CRM_GOOGLE_TOKEN_URL.
import { readFileSync } from 'node:fs';
import { JWT, OAuth2Client } from 'google-auth-library';
import { AppError } from '../core/errors.js';
import type { Config } from '../core/config.js';
import { GmailStop } from './types.js';

export const GMAIL_READONLY_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';

/** The URL gtoken (inside google-auth-library's JWT) posts to; it offers no option to change it. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** A token request that hangs longer than this counts as a dropped connection. */
const TOKEN_TIMEOUT_MS = 60_000;

export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  client_id?: string;
}

/** The subset of a gaxios instance the token routing needs (google-auth-library's transporter). */
interface Transporter {
  interceptors: {
    request: { add(interceptor: { resolved?: (config: never) => unknown }): unknown };
  };
}

interface RequestConfig {
  url?: string | URL;
  retry?: boolean;
  retryConfig?: { retry?: number; noResponseRetries?: number };
}

/**
 * Sends google-auth-library's token requests to `tokenUrl` and turns off gaxios's own retry
 * on everything this client sends: gtoken asks for retries of its token POST with a fast
 * fixed schedule and real timers, and the mailbox's retry policy must be the only one.
 */
function routeTokenRequests(transporter: Transporter, tokenUrl: string): void {
  const target = new URL(tokenUrl);
  const fixed = new URL(GOOGLE_TOKEN_URL).href;
  transporter.interceptors.request.add({
    resolved: ((config: RequestConfig) => {
      if (config.url !== undefined && new URL(String(config.url)).href === fixed) config.url = new URL(target.href);
      config.retry = false;
      config.retryConfig = { retry: 0, noResponseRetries: 0 };
      return config;
    }) as (config: never) => unknown,
  });
}

/** Reads and checks a service-account JSON key. Its content is never logged or echoed. */
export function readServiceAccountKey(file: string | undefined): ServiceAccountKey {
  if (!file) {
    throw new GmailStop('auth_error', 'No service-account key is configured: set CRM_GMAIL_SA_KEY_PATH to the JSON key of the service account used for domain-wide delegation');
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new GmailStop('auth_error', `The service-account key at ${file} cannot be read (${code}): check CRM_GMAIL_SA_KEY_PATH and the file's owner`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GmailStop('auth_error', `The service-account key at ${file} is not JSON: download a new JSON key for the service account in the Google Cloud console (IAM → Service accounts → Keys)`);
  }
  const k = parsed as Partial<Record<string, unknown>>;
  if (typeof k !== 'object' || k === null || typeof k.client_email !== 'string' || typeof k.private_key !== 'string' || !k.private_key.includes('PRIVATE KEY')) {
    throw new GmailStop('auth_error', `The service-account key at ${file} lacks client_email or private_key: download a new JSON key for the service account in the Google Cloud console (IAM → Service accounts → Keys)`);
  }
  return {
    client_email: k.client_email,
    private_key: k.private_key,
    client_id: typeof k.client_id === 'string' ? k.client_id : undefined,
  };
}

/** A mailbox's access token: cached by the auth client, fetched once for concurrent callers. */
export interface TokenSource {
  readonly method: 'dwd' | 'oauth';
  /** The OAuth client id Google knows this app by (service account's client_id for DWD). */
  readonly clientId: string | undefined;
  get(): Promise<string>;
  /**
   * Forget `rejected` so the next get() asks the token endpoint again; a no-op when another
   * call already replaced it (several requests in flight can meet the same expired token).
   */
  invalidate(rejected: string): void;
}

type TokenClient = Pick<OAuth2Client, 'getAccessToken' | 'credentials'>;

function tokenSource(method: 'dwd' | 'oauth', clientId: string | undefined, client: TokenClient): TokenSource {
  let pending: Promise<string> | undefined;
  return {
    method,
    clientId,
    get() {
      pending ??= client
        .getAccessToken()
        .then((r) => {
          if (!r.token) throw new AppError('UPSTREAM', 'the token endpoint answered without an access_token', { retryable: true });
          return r.token;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
    invalidate(rejected) {
      if (client.credentials.access_token !== rejected) return;
      // expiry_date 1 makes both OAuth2Client and JWT (and gtoken's cache, via forceRefresh) fetch anew.
      client.credentials = { refresh_token: client.credentials.refresh_token, expiry_date: 1 };
    },
  };
}

export function createDwdTokenSource(key: ServiceAccountKey, subject: string, tokenUrl: string): TokenSource {
  const jwt = new JWT({
    email: key.client_email,
    key: key.private_key,
    scopes: [GMAIL_READONLY_SCOPE],
    subject,
    transporterOptions: { timeout: TOKEN_TIMEOUT_MS },
  });
  routeTokenRequests(jwt.transporter as unknown as Transporter, tokenUrl);
  return tokenSource('dwd', key.client_id, jwt);
}

/** The OAuth client for per-user consent (auth URL, code exchange) and for refreshing tokens. */
export function createOAuthClient(config: Config): OAuth2Client {
  const oauth = config.gmail.oauth;
  if (!oauth) {
    throw new AppError(
      'DISABLED',
      'per-user OAuth is not configured: set CRM_GMAIL_OAUTH_CLIENT_ID, CRM_GMAIL_OAUTH_CLIENT_SECRET and CRM_GMAIL_OAUTH_REDIRECT_URL',
    );
  }
  const client = new OAuth2Client({
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    redirectUri: oauth.redirectUrl,
    endpoints: { oauth2TokenUrl: config.gmail.tokenUrl, oauth2AuthBaseUrl: config.gmail.authUrl },
    transporterOptions: { timeout: TOKEN_TIMEOUT_MS },
  });
  routeTokenRequests(client.transporter as unknown as Transporter, config.gmail.tokenUrl);
  return client;
}

export function createOAuthTokenSource(config: Config, refreshToken: string | null | undefined, mailbox: string): TokenSource {
  if (!refreshToken) {
    throw new GmailStop('needs_consent', `No OAuth refresh token is stored for ${mailbox}: the mailbox owner must consent (connect Gmail) first`);
  }
  const client = createOAuthClient(config);
  client.setCredentials({ refresh_token: refreshToken });
  return tokenSource('oauth', config.gmail.oauth?.clientId, client);
}
