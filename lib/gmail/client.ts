// One paced, retried Gmail client per mailbox, on the official client with its retry off.
// Everything a mailbox does (lists, messages, history, attachments) shares that mailbox's
// quota limiter, in-flight bound, adaptive pace and access token, however many clients
// the factory hands out for it; mailboxes never share any of these.
import { createHash } from 'node:crypto';
import { gmail, type gmail_v1 } from '@googleapis/gmail';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import type { Db } from '../db/client.js';
import { AppError, validation } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { createDwdTokenSource, createOAuthTokenSource, readServiceAccountKey, type ServiceAccountKey, type TokenSource } from './tokens.js';
import { AttachmentTooLarge, readAttachmentBody } from './attachmentBody.js';
import { costTable, type CostTable } from './costs.js';
import { classifyGmailError, classifyTokenError, type Failure, type FailureContext } from './errors.js';
import { AdaptivePace, QuotaLimiter, Semaphore, type PaceOptions } from './limiter.js';
import { backoffDelay, retryPolicy, type RetryPolicy } from './retry.js';
import {
  GmailStop,
  InvalidPageToken,
  type GmailAccountRef,
  type GmailApi,
  type GmailCallStats,
  type GmailMessage,
  type GmailMethod,
  type GmailThread,
  type ListHistoryResult,
  type ListMessagesResult,
} from './types.js';

/** Gmail answers "Too many concurrent requests for user" at about 10; the contract allows 8. */
const MAX_IN_FLIGHT_LIMIT = 8;
const DEFAULT_MAX_IN_FLIGHT = 4;

const HISTORY_TYPES = ['messageAdded', 'messageDeleted', 'labelAdded', 'labelRemoved'];
const HISTORY_PAGE_SIZE = 500;

export interface GmailFactoryOptions {
  config: Config;
  clock: Clock;
  log: Logger;
  /** Accepted for symmetry with the other services; the sync engine persists the learned pace. */
  db?: Db;
  /** Requests in flight per mailbox, everything included (1–8, default 4). */
  maxInFlight?: number;
  retry?: Partial<RetryPolicy>;
  pace?: Omit<PaceOptions, 'budget'>;
  /** Jitter source, [0, 1). */
  random?: () => number;
  /** Per-request timeout; a request that times out counts as a dropped connection. */
  requestTimeoutMs?: number;
}

/** A mailbox's Gmail client with the pacing state visible (for status pages and tests). */
export interface PacedGmailApi extends GmailApi {
  /** Requests of this mailbox awaiting an answer right now (Gmail or the token endpoint). */
  readonly inFlight: number;
  readonly maxInFlight: number;
}

export type PacedGmailFactory = (account: GmailAccountRef) => PacedGmailApi;

interface MailboxState {
  limiter: QuotaLimiter;
  slots: Semaphore;
  pace: AdaptivePace;
  inFlight: number;
  tokens?: TokenSource;
  tokensFor?: string;
}

interface Shared {
  config: Config;
  clock: Clock;
  log: Logger;
  api: gmail_v1.Gmail;
  costs: CostTable;
  policy: RetryPolicy;
  random: () => number;
  tokensFor(account: GmailAccountRef, state: MailboxState): TokenSource;
}

type Send<T> = (options: { headers: Record<string, string> }) => Promise<{ data: T; headers?: unknown }>;

type Outcome<T> = { ok: true; data: T } | { ok: false; failure: Failure; token?: string };

const GONE = Symbol('gone');

export function createGmailFactory(opts: GmailFactoryOptions): PacedGmailFactory {
  const { config, clock, log } = opts;
  const maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT_LIMIT) {
    throw new Error(`maxInFlight must be a whole number from 1 to ${MAX_IN_FLIGHT_LIMIT}, got ${maxInFlight}`);
  }
  const api = gmail({
    version: 'v1',
    rootUrl: config.gmail.apiRootUrl,
    // Our policy is the only retry: gaxios's would retry 5xx too fast and ignore 403 rate reasons.
    retry: false,
    timeout: opts.requestTimeoutMs ?? 120_000,
  });
  let saKey: ServiceAccountKey | undefined;
  const shared: Shared = {
    config,
    clock,
    log,
    api,
    costs: costTable(config.gmail.quotaCosts),
    policy: retryPolicy(opts.retry),
    random: opts.random ?? Math.random,
    tokensFor(account, state) {
      const fingerprint = createHash('sha256')
        .update(`${account.auth_method}\0${account.email}\0${account.refresh_token ?? ''}`)
        .digest('hex');
      if (state.tokens && state.tokensFor === fingerprint) return state.tokens;
      let tokens: TokenSource;
      if (account.auth_method === 'dwd') {
        saKey ??= readServiceAccountKey(config.gmail.saKeyPath);
        tokens = createDwdTokenSource(saKey, account.email, config.gmail.tokenUrl);
      } else {
        tokens = createOAuthTokenSource(config, account.refresh_token, account.email);
      }
      state.tokens = tokens;
      state.tokensFor = fingerprint;
      return tokens;
    },
  };
  const mailboxes = new Map<number, MailboxState>();

  return (account) => {
    if (!account || typeof account.email !== 'string' || !account.email.includes('@')) {
      throw new Error(`a Gmail client needs a mailbox address, got ${JSON.stringify(account?.email)}`);
    }
    let state = mailboxes.get(account.id);
    if (!state) {
      const pace = new AdaptivePace(clock, { ...opts.pace, budget: config.gmail.rateUnitsSec }, account.learned_units_sec);
      state = {
        pace,
        // Per minute: 60 × the configured budget (the 2026 model's 6,000 units/min at 100/s).
        limiter: new QuotaLimiter(clock, () => pace.current, { perMinute: () => 60 * config.gmail.rateUnitsSec }),
        slots: new Semaphore(maxInFlight),
        inFlight: 0,
      };
      mailboxes.set(account.id, state);
    }
    return new PacedGmail(shared, account, state);
  };
}

class PacedGmail implements PacedGmailApi {
  readonly stats: GmailCallStats = { quotaUnits: 0, calls: 0, retries: 0, rateLimited: 0, bytes: 0 };
  private readonly userId: string;
  /**
   * The first refusal that stops the mailbox (daily limit, auth): the client's other calls,
   * queued or later, end with it instead of asking Gmail again. A client lives for one run,
   * so the next run asks afresh.
   */
  private stopped?: GmailStop;

  constructor(
    private readonly s: Shared,
    private readonly account: GmailAccountRef,
    private readonly state: MailboxState,
  ) {
    this.userId = account.email;
  }

  get email(): string {
    return this.account.email;
  }

  get paceUnitsSec(): number {
    return this.state.pace.current;
  }

  get inFlight(): number {
    return this.state.inFlight;
  }

  get maxInFlight(): number {
    return this.state.slots.max;
  }

  async getProfile(): Promise<{ emailAddress: string; historyId: string; messagesTotal?: number }> {
    const data = await this.required('getProfile', (o) => this.s.api.users.getProfile({ userId: this.userId }, o));
    if (!data.emailAddress || !data.historyId) {
      throw new AppError('UPSTREAM', `Gmail getProfile for ${this.email} answered without emailAddress or historyId`, { retryable: true });
    }
    return {
      emailAddress: data.emailAddress,
      historyId: String(data.historyId),
      ...(data.messagesTotal !== undefined && data.messagesTotal !== null ? { messagesTotal: data.messagesTotal } : {}),
    };
  }

  async listMessages(opts: { pageToken?: string; maxResults: number; q?: string; includeSpamTrash?: boolean }): Promise<ListMessagesResult> {
    if (!Number.isInteger(opts.maxResults) || opts.maxResults < 1 || opts.maxResults > 500) {
      throw validation('maxResults', `maxResults must be a whole number from 1 to 500, got ${opts.maxResults}`);
    }
    let data;
    try {
      data = await this.required('messages.list', (o) =>
        this.s.api.users.messages.list(
          {
            userId: this.userId,
            maxResults: opts.maxResults,
            includeSpamTrash: opts.includeSpamTrash ?? false,
            ...(opts.pageToken ? { pageToken: opts.pageToken } : {}),
            ...(opts.q ? { q: opts.q } : {}),
          },
          o,
        ),
      );
    } catch (err) {
      // A 400 to a call whose only opaque argument is the page token means Gmail refused that token.
      if (opts.pageToken && err instanceof AppError && !(err instanceof GmailStop) && / answered 400\b/.test(err.message)) {
        throw new InvalidPageToken(`Gmail refused a stored page token for ${this.email}: ${err.message}`, err);
      }
      throw err;
    }
    const messages = (data.messages ?? [])
      .filter((m): m is { id: string; threadId: string } => typeof m.id === 'string' && typeof m.threadId === 'string')
      .map((m) => ({ id: m.id, threadId: m.threadId }));
    return data.nextPageToken ? { messages, nextPageToken: data.nextPageToken } : { messages };
  }

  async getMessage(id: string, format: 'full' | 'metadata' | 'minimal' | 'raw' = 'full'): Promise<GmailMessage | null> {
    if (!id) throw validation('id', 'a Gmail message id is required');
    const data = await this.request('messages.get', (o) => this.s.api.users.messages.get({ userId: this.userId, id, format }, o));
    return data === GONE ? null : data;
  }

  async getThread(id: string): Promise<GmailThread | null> {
    if (!id) throw validation('id', 'a Gmail thread id is required');
    const data = await this.request('threads.get', (o) => this.s.api.users.threads.get({ userId: this.userId, id, format: 'full' }, o));
    if (data === GONE) return null;
    return { id: data.id ?? id, messages: data.messages ?? [] };
  }

  async getAttachment(messageId: string, attachmentId: string, opts: { expectedBytes?: number; maxBytes?: number } = {}): Promise<Buffer | null> {
    if (!messageId || !attachmentId) throw validation(messageId ? 'attachmentId' : 'messageId', 'a Gmail message id and attachment id are required');
    // A file of known small size is parsed whole (the quickest way, and a few copies of a
    // small file cost little); a large or unknown one is read as a stream and decoded as it
    // arrives: parsed whole, the answer of a file near the cap was held about four times over
    // (bytes received, text, parsed string, decoded bytes), which three mailboxes downloading
    // at once could not afford.
    const whole = opts.expectedBytes !== undefined && opts.expectedBytes > 0 && opts.expectedBytes < STREAM_ATTACHMENTS_FROM;
    type Got = { bytes: Buffer | null; tooLarge?: number };
    const data = await this.request('messages.attachments.get', async (o): Promise<{ data: Got; headers?: unknown }> => {
      if (whole) {
        const res = await this.s.api.users.messages.attachments.get({ userId: this.userId, messageId, id: attachmentId }, o);
        const text = res.data.data;
        const bytes: Buffer | null = typeof text === 'string' ? Buffer.from(text, 'base64url') : null;
        // The answer's size as sent is about its base64 text (the bytes counted on the run).
        return { data: { bytes }, headers: { 'content-length': String(typeof text === 'string' ? text.length : 0) } };
      }
      try {
        const res = await this.s.api.users.messages.attachments.get({ userId: this.userId, messageId, id: attachmentId }, { ...o, responseType: 'stream' });
        const body = await readAttachmentBody(res.data as unknown as AsyncIterable<Uint8Array>, opts.expectedBytes, opts.maxBytes);
        return { data: body, headers: { 'content-length': String(body.wireBytes) } };
      } catch (err) {
        // Not a failure of the request: the answer is dropped and the caller told below.
        if (err instanceof AttachmentTooLarge) return { data: { bytes: null, tooLarge: err.atLeast }, headers: { 'content-length': String(err.atLeast) } };
        throw withParsedErrorBody(err);
      }
    });
    if (data === GONE) return null;
    // Read whole, a file is measured once it is in; streamed, reading stopped at the limit.
    const over = data.tooLarge ?? (opts.maxBytes !== undefined && data.bytes && data.bytes.length > opts.maxBytes ? data.bytes.length : undefined);
    if (over !== undefined) {
      throw new AppError('PAYLOAD_TOO_LARGE', `attachment ${attachmentId} of message ${messageId} is over the ${opts.maxBytes} bytes allowed (at least ${over})`);
    }
    if (!data.bytes) {
      throw new AppError('UPSTREAM', `Gmail messages.attachments.get for ${this.email} answered without data`, { retryable: true });
    }
    return data.bytes;
  }

  async listHistory(opts: { startHistoryId: string; pageToken?: string }): Promise<ListHistoryResult | null> {
    if (!/^\d+$/.test(opts.startHistoryId ?? '')) {
      throw validation('startHistoryId', `startHistoryId must be a decimal historyId, got ${JSON.stringify(opts.startHistoryId)}`);
    }
    const data = await this.request('history.list', (o) =>
      this.s.api.users.history.list(
        {
          userId: this.userId,
          startHistoryId: opts.startHistoryId,
          historyTypes: HISTORY_TYPES,
          maxResults: HISTORY_PAGE_SIZE,
          ...(opts.pageToken ? { pageToken: opts.pageToken } : {}),
        },
        o,
      ),
    );
    if (data === GONE) return null;
    if (!data.historyId) throw new AppError('UPSTREAM', `Gmail history.list for ${this.email} answered without historyId`, { retryable: true });
    return {
      history: data.history ?? [],
      historyId: String(data.historyId),
      ...(data.nextPageToken ? { nextPageToken: data.nextPageToken } : {}),
    };
  }

  private async required<T>(method: GmailMethod, send: Send<T>): Promise<T> {
    const data = await this.request(method, send);
    if (data === GONE) throw new AppError('UPSTREAM', `Gmail ${method} for ${this.email} answered 404`, { retryable: false });
    return data;
  }

  private failureContext(method: GmailMethod): FailureContext {
    return {
      method,
      mailbox: this.email,
      authMethod: this.account.auth_method,
      clientId: this.state.tokens?.clientId,
      now: this.s.clock.now(),
    };
  }

  /** One call: paced, retried by our policy; 404 comes back as GONE for the caller to decide. */
  private async request<T>(method: GmailMethod, send: Send<T>): Promise<T | typeof GONE> {
    const { policy, clock, log } = this.s;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) throw this.stopped;
      const out = await this.attempt(method, attempt, send);
      if (out.ok) {
        const raised = this.state.pace.onSuccess();
        if (raised) log.debug({ event: 'gmail.pace_raised', account: this.email, from: round(raised.from), to: round(raised.to) }, 'Gmail pace raised');
        return out.data;
      }
      const f = out.failure;
      if (f.kind === 'not_found') return GONE;
      if (f.kind === 'fail') {
        if (f.error instanceof GmailStop && f.error !== this.stopped) {
          this.stopped ??= f.error;
          log.warn({ event: 'gmail.stopped', account: this.email, method, state: f.error.state, reason: f.error.message }, 'Gmail refused this mailbox');
        }
        throw f.error;
      }
      if (f.kind === 'unauthorized') {
        if (refreshed) {
          const stop = new GmailStop(
            'auth_error',
            `Gmail refused a freshly issued access token for ${this.email} (401): check that the ${this.account.auth_method === 'dwd' ? 'service account and its key still exist' : "owner's consent is still granted"} and that the Gmail API is enabled for the Google Cloud project`,
          );
          this.stopped ??= stop;
          log.warn({ event: 'gmail.stopped', account: this.email, method, state: stop.state, reason: stop.message }, 'Gmail refused this mailbox');
          throw stop;
        }
        refreshed = true;
        if (out.token) this.state.tokens?.invalidate(out.token);
        log.info({ event: 'gmail.token_refresh', account: this.email, method }, 'Gmail answered 401; refreshing the access token once');
        continue;
      }
      if (f.rateLimited) {
        this.stats.rateLimited++;
        log.warn({ event: 'gmail.rate_limited', account: this.email, method, status: f.status, reason: f.reason }, 'Gmail answered a rate limit');
        const lowered = this.state.pace.onRateLimited();
        if (lowered) {
          log.warn({ event: 'gmail.pace_lowered', account: this.email, method, from: round(lowered.from), to: round(lowered.to) }, 'Gmail pace lowered');
        }
      }
      if (attempt >= policy.maxAttempts) {
        throw new AppError('UPSTREAM', `Gmail ${method} for ${this.email} still failing after ${attempt} attempts (last answer: ${f.status} ${f.reason})`, {
          retryable: true,
          ...(f.retryAfterMs !== undefined ? { retryAfterSec: Math.ceil(f.retryAfterMs / 1000) } : {}),
        });
      }
      if (f.retryAfterMs !== undefined && f.retryAfterMs > policy.maxRetryAfterMs) {
        const sec = Math.ceil(f.retryAfterMs / 1000);
        log.warn({ event: 'gmail.retry_later', account: this.email, method, status: f.status, retry_after_sec: sec }, 'Gmail asked to come back much later');
        throw new AppError('UPSTREAM', `Gmail ${method} for ${this.email} asked to wait ${sec} s (${f.status} ${f.reason}); the mailbox will be tried again on a later run`, {
          retryable: true,
          retryAfterSec: sec,
        });
      }
      const delay = backoffDelay(attempt, policy, this.s.random, f.retryAfterMs);
      log.info({ event: 'gmail.retry', account: this.email, method, attempt, status: f.status, reason: f.reason, delay_ms: delay }, 'Gmail call will be retried');
      await clock.sleep(delay);
    }
  }

  /** One request: a slot first, then the token, then the quota units, then the wire. */
  private async attempt<T>(method: GmailMethod, attempt: number, send: Send<T>): Promise<Outcome<T>> {
    const release = await this.state.slots.acquire();
    try {
      // Queued behind the call that was refused: end here, without a request.
      if (this.stopped) return { ok: false, failure: { kind: 'fail', error: this.stopped } };
      let token: string;
      this.state.inFlight++;
      try {
        token = await this.s.tokensFor(this.account, this.state).get();
      } catch (err) {
        return { ok: false, failure: classifyTokenError(err, this.failureContext(method)) };
      } finally {
        this.state.inFlight--;
      }
      const cost = this.s.costs[method];
      const answered = await this.state.limiter.acquire(cost);
      this.stats.calls++;
      this.stats.quotaUnits += cost;
      if (attempt > 1) this.stats.retries++;
      this.state.inFlight++;
      try {
        const res = await send({ headers: { Authorization: `Bearer ${token}` } });
        this.stats.bytes += bodyBytes(res.headers, res.data);
        return { ok: true, data: res.data };
      } catch (err) {
        const response = (err as { response?: { headers?: unknown; data?: unknown } } | null)?.response;
        if (response) this.stats.bytes += bodyBytes(response.headers, response.data);
        return { ok: false, failure: classifyGmailError(err, this.failureContext(method)), token };
      } finally {
        // The request reached Gmail no later than now: its units stay held until a second after.
        answered();
        this.state.inFlight--;
      }
    } finally {
      release();
    }
  }
}

function bodyBytes(headers: unknown, data: unknown): number {
  const h = headers as { get?: (n: string) => string | null } | Record<string, unknown> | undefined;
  const raw = typeof h?.get === 'function' ? h.get('content-length') : (h as Record<string, unknown> | undefined)?.['content-length'];
  const n = Number(raw);
  if (raw !== null && raw !== undefined && Number.isFinite(n) && n >= 0) return n;
  if (data === undefined || data === null || data === '') return 0;
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (Buffer.isBuffer(data)) return data.length;
  try {
    return Buffer.byteLength(JSON.stringify(data));
  } catch {
    return 0;
  }
}

/**
 * A streamed request's error answer arrives as text (gaxios reads it whole, error bodies are
 * small): parsed back into the JSON the error classifier reads reasons from.
 */
function withParsedErrorBody(err: unknown): unknown {
  const response = (err as { response?: { data?: unknown } } | null)?.response;
  if (response && typeof response.data === 'string') {
    try {
      response.data = JSON.parse(response.data);
    } catch {
      // Not JSON: the classifier reads the text as it is.
    }
  }
  return err;
}

/** Attachments expected this large or larger (or of unknown size) are read as a stream. */
export const STREAM_ATTACHMENTS_FROM = 1024 * 1024;

const round = (n: number) => Math.round(n * 100) / 100;
