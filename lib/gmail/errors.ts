// What an error from Gmail or from Google's token endpoint means for the mailbox: retry,
// refresh the token, skip, or stop the mailbox with a message that tells the admin what to fix.
// Token-endpoint errors carry `{error, error_description}`; Gmail's carry
// `{error: {code, message, errors: [{reason}], status}}`: the two are classified apart.
import { AppError } from '../core/errors.js';
import type { AuthMethod } from '../core/config.js';
import { GMAIL_READONLY_SCOPE } from './tokens.js';
import { GmailStop, type GmailMethod } from './types.js';

export type Failure =
  /** Worth another try after a pause. `rateLimited` also lowers the pace. */
  | { kind: 'retry'; rateLimited: boolean; status: number | string; reason: string; retryAfterMs?: number }
  /** Gmail refused the access token: refresh it once. */
  | { kind: 'unauthorized' }
  | { kind: 'not_found' }
  /** Retrying cannot help: a GmailStop (the mailbox stops) or another AppError. */
  | { kind: 'fail'; error: AppError };

export interface FailureContext {
  method: GmailMethod;
  mailbox: string;
  authMethod: AuthMethod;
  clientId?: string;
  now: number;
}

/** Transport failures with no HTTP answer: the connection dropped, was refused or timed out. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TimeoutError',
]);

interface HttpishError {
  name?: string;
  code?: string | number;
  message?: string;
  config?: unknown;
  cause?: unknown;
  response?: { status?: number; data?: unknown; headers?: unknown };
}

function asHttpish(err: unknown): HttpishError | undefined {
  return typeof err === 'object' && err !== null ? (err as HttpishError) : undefined;
}

/** A gaxios error (either installed copy) or a fetch error that never got an HTTP answer. */
function networkCode(err: HttpishError): string | undefined {
  if (err.response !== undefined) return undefined;
  for (let e: HttpishError | undefined = err, depth = 0; e && depth < 5; e = asHttpish(e.cause), depth++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return e.name;
    if (/socket hang up|network error|fetch failed|other side closed|premature close/i.test(e.message ?? '')) return 'connection dropped';
  }
  // A gaxios error without a response is a request that never got an answer.
  if (err.name === 'GaxiosError' || err.config !== undefined) return String(err.code ?? 'no response');
  return undefined;
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, unknown>;
  const v = rec[name] ?? rec[name.toLowerCase()];
  return typeof v === 'string' ? v : undefined;
}

/** Retry-After in milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined | null, now: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function retryAfterOf(err: HttpishError, now: number): number | undefined {
  return parseRetryAfter(header(err.response?.headers, 'retry-after'), now);
}

interface GmailErrorBody {
  code?: number;
  message?: string;
  status?: string;
  errors?: { reason?: string; message?: string }[];
  details?: { reason?: string }[];
}

/** Gmail's reason: the legacy `errors[0].reason`, else the ErrorInfo reason, else the gRPC status. */
function gmailReason(data: unknown): { reason: string; message: string } {
  const body = (typeof data === 'object' && data !== null ? (data as { error?: unknown }).error : undefined) as GmailErrorBody | undefined;
  if (!body || typeof body !== 'object') return { reason: '', message: typeof data === 'string' ? data.slice(0, 200) : '' };
  const reason = body.errors?.find((e) => e.reason)?.reason ?? body.details?.find((d) => d.reason)?.reason ?? body.status ?? '';
  return { reason, message: body.message ?? body.errors?.[0]?.message ?? '' };
}

/**
 * A short, secret-free summary to keep as an error's cause: gaxios errors hold the request
 * config, whose headers carry the bearer token and whose body may carry the signed assertion
 * or the refresh token.
 */
function safeCause(err: unknown): Error {
  const e = asHttpish(err);
  if (!e) return new Error(String(err));
  const status = e.response?.status;
  const summary = new Error(`${status !== undefined ? `HTTP ${status}: ` : ''}${(e.message ?? '').slice(0, 300)}`);
  summary.name = e.name ?? 'Error';
  return summary;
}

const rateReasons = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'RATE_LIMIT_EXCEEDED', 'RESOURCE_EXHAUSTED']);

/** An error thrown by a Gmail API call (the access token was already in hand). */
export function classifyGmailError(err: unknown, ctx: FailureContext): Failure {
  const e = asHttpish(err);
  if (!e) return { kind: 'fail', error: new AppError('INTERNAL', `Gmail ${ctx.method} failed: ${String(err)}`) };
  const net = networkCode(e);
  if (net) return { kind: 'retry', rateLimited: false, status: net, reason: 'no answer' };
  const status = e.response?.status;
  if (status === undefined) {
    return { kind: 'fail', error: new AppError('INTERNAL', `Gmail ${ctx.method} for ${ctx.mailbox} failed: ${e.message ?? 'unknown error'}`, { cause: safeCause(err) }) };
  }
  const { reason, message } = gmailReason(e.response?.data);
  const retryAfterMs = retryAfterOf(e, ctx.now);
  const box = ctx.mailbox;

  if (status === 429) return { kind: 'retry', rateLimited: true, status, reason: reason || 'rateLimitExceeded', retryAfterMs };
  if (status === 401) return { kind: 'unauthorized' };
  if (status === 404) return { kind: 'not_found' };
  if (status === 408 || status >= 500) return { kind: 'retry', rateLimited: false, status, reason: reason || 'backendError', retryAfterMs };

  const stop = (state: 'auth_error' | 'needs_consent' | 'error', text: string) =>
    ({ kind: 'fail', error: new GmailStop(state, text, safeCause(err)) }) as const;

  if (status === 403) {
    if (rateReasons.has(reason)) return { kind: 'retry', rateLimited: true, status, reason, retryAfterMs };
    if (reason === 'dailyLimitExceeded' || reason === 'quotaExceeded') {
      return stop(
        'error',
        `Gmail's daily limit for this Google Cloud project is used up (${reason}): ${box} will sync again on a later run; if it recurs, ask for more Gmail API quota in the Google Cloud console (APIs & Services → Gmail API → Quotas)`,
      );
    }
    if (reason === 'domainPolicy') {
      return stop(
        'auth_error',
        `The Workspace's policy blocks this app from reading ${box} (domainPolicy): in the Google Admin console, Security → API controls → App access control, allow this app (client ${ctx.clientId ?? 'of this service'}) to use the Gmail API`,
      );
    }
    if (reason === 'insufficientPermissions' || reason === 'ACCESS_TOKEN_SCOPE_INSUFFICIENT') {
      if (ctx.authMethod === 'oauth') {
        return stop('needs_consent', `The access granted for ${box} does not include ${GMAIL_READONLY_SCOPE} (insufficientPermissions): the mailbox owner must consent again and allow reading Gmail`);
      }
      return stop('auth_error', `The token for ${box} lacks ${GMAIL_READONLY_SCOPE} (insufficientPermissions): ${dwdFix(ctx.clientId)}`);
    }
    return stop('auth_error', `Gmail refused access to ${box} (403 ${reason || 'forbidden'}${message ? `: ${message}` : ''}): check the app's access in the Google Admin console`);
  }
  if (status === 400 && (reason === 'failedPrecondition' || reason === 'FAILED_PRECONDITION')) {
    return stop(
      'auth_error',
      `${box} has no Gmail service (failedPrecondition): turn Gmail on for this user in the Google Admin console (Apps → Google Workspace → Gmail), or unenroll the address`,
    );
  }
  return {
    kind: 'fail',
    error: new AppError('UPSTREAM', `Gmail ${ctx.method} for ${box} answered ${status}${reason ? ` ${reason}` : ''}${message ? `: ${message}` : ''}`, { cause: safeCause(err) }),
  };
}

function dwdFix(clientId: string | undefined): string {
  return `in the Google Admin console, Security → API controls → Domain-wide delegation, add the client id ${clientId ?? '(the service account\'s client_id)'} with ${GMAIL_READONLY_SCOPE}`;
}

/** An error thrown while getting an access token from the token endpoint (or signing for it). */
export function classifyTokenError(err: unknown, ctx: FailureContext): Failure {
  if (err instanceof AppError) return err.retryable ? { kind: 'retry', rateLimited: false, status: err.code, reason: err.message } : { kind: 'fail', error: err };
  const e = asHttpish(err);
  const box = ctx.mailbox;
  const net = e ? networkCode(e) : undefined;
  if (net) return { kind: 'retry', rateLimited: false, status: net, reason: 'token endpoint unreachable' };
  const status = e?.response?.status;
  if (status === undefined) {
    // No HTTP answer and no network failure: the key could not sign, or the client is misconfigured.
    return {
      kind: 'fail',
      error: new GmailStop('auth_error', `No access token could be made for ${box}: ${(e?.message ?? String(err)).slice(0, 200)}; check the ${ctx.authMethod === 'dwd' ? 'service-account key' : 'OAuth client settings'}`, safeCause(err)),
    };
  }
  if (status === 429 || status === 408 || status >= 500) {
    return { kind: 'retry', rateLimited: false, status, reason: 'token endpoint', retryAfterMs: retryAfterOf(e!, ctx.now) };
  }
  const data = (typeof e?.response?.data === 'object' && e.response.data !== null ? e.response.data : {}) as { error?: unknown; error_description?: unknown };
  const code = typeof data.error === 'string' ? data.error : '';
  const desc = typeof data.error_description === 'string' ? data.error_description : '';
  const stop = (state: 'auth_error' | 'needs_consent', text: string) => ({ kind: 'fail', error: new GmailStop(state, text, safeCause(err)) }) as const;

  if (ctx.authMethod === 'dwd') {
    if (code === 'invalid_client') {
      return stop(
        'auth_error',
        `Google does not know the service account or its key (invalid_client${desc ? `: ${desc}` : ''}): create a new JSON key for the service account in the Google Cloud console (IAM → Service accounts → Keys) and replace the key file`,
      );
    }
    if (code === 'unauthorized_client' || status === 401) {
      return stop(
        'auth_error',
        `Domain-wide delegation is not authorised for client ${ctx.clientId ?? '(the service account\'s client_id)'} with scope gmail.readonly: in the Google Admin console, Security → API controls → Domain-wide delegation, add the client id with ${GMAIL_READONLY_SCOPE}`,
      );
    }
    if (code === 'invalid_grant') return stop('auth_error', `Google refused a token for ${box} (invalid_grant: ${desc || 'no reason given'}): ${invalidGrantHint(desc, ctx.clientId)}`);
    return stop('auth_error', `Google refused a token for ${box} (${status} ${code || 'error'}${desc ? `: ${desc}` : ''}): ${dwdFix(ctx.clientId)}`);
  }
  if (code === 'invalid_grant') {
    return stop('needs_consent', `Google no longer accepts the refresh token for ${box} (invalid_grant${desc ? `: ${desc}` : ''}): the mailbox owner must consent again`);
  }
  if (code === 'invalid_client' || code === 'unauthorized_client' || status === 401) {
    return stop(
      'auth_error',
      `Google refused the OAuth client ${ctx.clientId ?? ''} (${code || status}${desc ? `: ${desc}` : ''}): check CRM_GMAIL_OAUTH_CLIENT_ID and CRM_GMAIL_OAUTH_CLIENT_SECRET against the Google Cloud console (APIs & Services → Credentials)`,
    );
  }
  return stop('auth_error', `Google refused a token for ${box} (${status} ${code || 'error'}${desc ? `: ${desc}` : ''})`);
}

function invalidGrantHint(desc: string, clientId: string | undefined): string {
  if (/invalid email or user id/i.test(desc)) {
    return 'the mailbox does not exist or is suspended: check the address in the Google Admin console (Directory → Users), or unenroll it';
  }
  if (/signature/i.test(desc)) {
    return 'the service-account key was deleted or revoked: create a new JSON key in the Google Cloud console and replace the key file';
  }
  if (/invalid jwt|iat|exp/i.test(desc)) {
    return "this server's clock is off (Google checks the token's time): synchronise the system clock (NTP)";
  }
  return `check that the mailbox exists, and ${dwdFix(clientId)}`;
}
