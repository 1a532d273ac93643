// Every knob of the emulator in one place, with Gmail's own figures as defaults.

export type GmailMethod =
  | 'getProfile'
  | 'labels.list'
  | 'labels.get'
  | 'history.list'
  | 'messages.list'
  | 'threads.list'
  | 'messages.get'
  | 'messages.attachments.get'
  | 'threads.get';

export const GMAIL_METHODS: readonly GmailMethod[] = [
  'getProfile',
  'labels.list',
  'labels.get',
  'history.list',
  'messages.list',
  'threads.list',
  'messages.get',
  'messages.attachments.get',
  'threads.get',
];

export type QuotaModel = 'legacy' | '2026';

export interface QuotaOptions {
  /** Which cost table and default budget: `legacy` (250 units/s, 15,000/min) or `2026` (100/s, 6,000/min). */
  model?: QuotaModel;
  /** Per-method cost overrides on top of the model's table. */
  costs?: Partial<Record<GmailMethod, number>>;
  /** Budget per mailbox over any 1-second window. Set it below what the client believes to emulate a hidden lower limit. */
  unitsPerSecond?: number;
  /** Budget per mailbox over any 1-minute window. */
  unitsPerMinute?: number;
  /** Requests in flight per mailbox before "Too many concurrent requests for user" (default 10). */
  concurrency?: number;
  /** Bytes of response bodies per mailbox per UTC day; null = unlimited (default). */
  dailyBandwidthBytes?: number | null;
  /** Which answer a rate-limit violation gets: random between 429 and 403 (seeded), or always one. */
  rateLimitAnswer?: 'random' | '429' | '403';
  /** Probability that a rate-limit answer carries Retry-After (default 0.5). */
  retryAfterChance?: number;
  /** Budget overrides for single mailboxes (by address). */
  perMailbox?: Record<string, { unitsPerSecond?: number; unitsPerMinute?: number; concurrency?: number }>;
}

export interface FaultSpec {
  /** Extra answer time, uniform in [min, max] ms; real sleeping, so keep 0 in tests. */
  latencyMs?: { min: number; max: number };
  /** Probability of 500 backendError. */
  errorRate?: number;
  /** Probability of 503 (service unavailable). */
  unavailableRate?: number;
  /** Probability that the connection is destroyed without an answer. */
  dropRate?: number;
}

export interface FaultOptions extends FaultSpec {
  /** Per-method settings replacing the global ones field by field; `token` is the token endpoint, which the global settings leave alone. */
  perMethod?: Partial<Record<GmailMethod | 'token', FaultSpec>>;
}

export interface Clock {
  now(): number;
}

export interface EmulatorOptions {
  /** Listen port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  host?: string;
  /** Time for token expiry, quota windows, attachment ids and history retention; real time by default. */
  clock?: Clock;
  /** Seed for every random choice (faults, rate-limit answers, history id steps). */
  seed?: string | number;
  quota?: QuotaOptions;
  faults?: FaultOptions;
  /** Access token lifetime (default 3600 s; `expires_in` says one second less, as Google does). */
  accessTokenTtlSec?: number;
  /** How long an attachment id stays valid after the messages.get that minted it (default 10 min). */
  attachmentIdTtlMs?: number;
  /** Status for an expired or unknown attachment id: 400 "Invalid attachment token" (default) or 404 notFound. */
  expiredAttachmentStatus?: 400 | 404;
  /** History older than this is forgotten; a startHistoryId before it answers 404 (default 7 days). */
  historyRetentionMs?: number;
  /** First historyId of a mailbox (decimal; each mailbox adds a random offset); `huge` starts near 2^60, where Number loses digits. */
  historyIdStart?: string | bigint | 'huge';
  /** Allowed clock difference for a JWT's iat (default 300 s). */
  jwtMaxSkewSec?: number;
  /** Lifetime of an authorization code (default 10 min). */
  authCodeTtlMs?: number;
  /** Refresh tokens die after this long (an External app in Testing: 7 days); null = never (default). */
  refreshTokenTtlMs?: number | null;
  /** text/plain and text/html parts bigger than this come as an attachmentId instead of data (Gmail's small print); off by default. */
  bodyAsAttachmentOver?: number;
  /** Zone in which q's YYYY/MM/DD dates are read (Gmail reads them as midnight Pacific time). */
  queryTimeZone?: string;
  /** Join a reply to its parent's thread only when the normalised subjects agree, as Gmail does (default true). */
  threadBySubject?: boolean;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  seed: string;
  accessTokenTtlSec: number;
  attachmentIdTtlMs: number;
  expiredAttachmentStatus: 400 | 404;
  historyRetentionMs: number;
  historyIdStart: bigint;
  jwtMaxSkewSec: number;
  authCodeTtlMs: number;
  refreshTokenTtlMs: number | null;
  bodyAsAttachmentOver: number | undefined;
  queryTimeZone: string;
  threadBySubject: boolean;
}

const DAY_MS = 86_400_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`gmail emulator: ${name} must be a positive number, got ${value}`);
  return value;
}

function historyStart(value: EmulatorOptions['historyIdStart']): bigint {
  if (value === undefined) return 1_000_000n;
  if (value === 'huge') return 2n ** 60n + 1n;
  const s = String(value);
  if (!/^\d{1,30}$/.test(s)) throw new Error(`gmail emulator: historyIdStart must be a decimal string, got "${s}"`);
  return BigInt(s);
}

export function resolveOptions(opts: EmulatorOptions): ResolvedOptions {
  const status = opts.expiredAttachmentStatus ?? 400;
  if (status !== 400 && status !== 404) throw new Error(`gmail emulator: expiredAttachmentStatus must be 400 or 404, got ${status}`);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: opts.queryTimeZone ?? 'America/Los_Angeles' });
  } catch {
    throw new Error(`gmail emulator: queryTimeZone "${opts.queryTimeZone}" is not a time zone`);
  }
  return {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    seed: String(opts.seed ?? 'gmail-emulator'),
    accessTokenTtlSec: positive('accessTokenTtlSec', opts.accessTokenTtlSec, 3600),
    attachmentIdTtlMs: positive('attachmentIdTtlMs', opts.attachmentIdTtlMs, 10 * 60_000),
    expiredAttachmentStatus: status,
    historyRetentionMs: positive('historyRetentionMs', opts.historyRetentionMs, 7 * DAY_MS),
    historyIdStart: historyStart(opts.historyIdStart),
    jwtMaxSkewSec: positive('jwtMaxSkewSec', opts.jwtMaxSkewSec, 300),
    authCodeTtlMs: positive('authCodeTtlMs', opts.authCodeTtlMs, 10 * 60_000),
    refreshTokenTtlMs: opts.refreshTokenTtlMs == null ? null : positive('refreshTokenTtlMs', opts.refreshTokenTtlMs, 0),
    bodyAsAttachmentOver: opts.bodyAsAttachmentOver,
    queryTimeZone: opts.queryTimeZone ?? 'America/Los_Angeles',
    threadBySubject: opts.threadBySubject ?? true,
  };
}

/** The emulator's time: the given clock (or real time) plus whatever `advanceTime` added. */
export class EmulatorClock implements Clock {
  private offset = 0;
  constructor(private readonly base: Clock = { now: () => Date.now() }) {}
  now(): number {
    return this.base.now() + this.offset;
  }
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`advanceTime: ms must be a non-negative number, got ${ms}`);
    this.offset += ms;
  }
}
