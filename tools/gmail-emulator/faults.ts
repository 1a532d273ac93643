// Injected trouble: latency with jitter, random 500/503 answers and dropped connections (all from
// the seeded generator), plus one-shot "the next N calls to X fail like this" for tests.
import { errors, googleError, type GmailError } from './errors.js';
import type { Rng } from './rng.js';
import type { FaultOptions, FaultSpec, GmailMethod } from './options.js';

export type FaultTarget = GmailMethod | 'token' | '*';

export type FaultKind =
  | 'backendError'
  | 'unavailable'
  | 'drop'
  | 'rateLimit'
  | 'userRateLimit'
  | 'dailyLimit'
  | 'unauthenticated'
  | 'notFound'
  | { status: number; reason: string; message: string; domain?: string; retryAfterSec?: number };

export interface FailNextSpec {
  method: FaultTarget;
  /** How many matching calls fail (default 1). */
  count?: number;
  fault: FaultKind;
  /** Only calls for this mailbox (default any). */
  email?: string;
}

/** What to do with one request: answer with an error, drop the connection, or carry on. */
type FaultDecision = { kind: 'none' } | { kind: 'drop' } | { kind: 'error'; error: GmailError };

interface Pending extends Required<Omit<FailNextSpec, 'email'>> {
  email?: string;
}

export class Faults {
  private opts: FaultOptions;
  private pending: Pending[] = [];

  constructor(
    opts: FaultOptions,
    private readonly rng: Rng,
  ) {
    this.opts = validate(opts);
  }

  configure(opts: FaultOptions): void {
    this.opts = validate({ ...this.opts, ...opts, perMethod: { ...this.opts.perMethod, ...opts.perMethod } });
  }

  failNext(spec: FailNextSpec): void {
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error('failNext: count must be a positive integer');
    toError(spec.fault, 0);
    this.pending.push({ method: spec.method, count, fault: spec.fault, email: spec.email?.toLowerCase() });
  }

  clearPending(): void {
    this.pending = [];
  }

  /** The token endpoint only gets faults named for it: google-auth-library retries token posts with real sleeps. */
  private spec(method: GmailMethod | 'token'): FaultSpec {
    if (method === 'token') return { ...this.opts.perMethod?.token };
    return { ...this.opts, ...this.opts.perMethod?.[method] };
  }

  latencyMs(method: GmailMethod | 'token'): number {
    const l = this.spec(method).latencyMs;
    if (!l || l.max <= 0) return 0;
    return l.min + this.rng.next() * (l.max - l.min);
  }

  decide(method: GmailMethod | 'token', email: string | null, now: number): FaultDecision {
    const i = this.pending.findIndex(
      (p) => ((p.method === '*' && method !== 'token') || p.method === method) && (!p.email || p.email === email),
    );
    if (i >= 0) {
      const p = this.pending[i]!;
      if (--p.count === 0) this.pending.splice(i, 1);
      if (p.fault === 'drop') return { kind: 'drop' };
      return { kind: 'error', error: toError(p.fault, now) };
    }
    const s = this.spec(method);
    if (s.dropRate && this.rng.chance(s.dropRate)) return { kind: 'drop' };
    if (s.errorRate && this.rng.chance(s.errorRate)) return { kind: 'error', error: errors.backendError() };
    if (s.unavailableRate && this.rng.chance(s.unavailableRate)) return { kind: 'error', error: errors.unavailable() };
    return { kind: 'none' };
  }
}

function toError(kind: FaultKind, now: number): GmailError {
  switch (kind) {
    case 'backendError':
      return errors.backendError();
    case 'unavailable':
      return errors.unavailable();
    case 'rateLimit':
      return errors.rateLimited429({ 'Retry-After': '1' });
    case 'userRateLimit':
      return errors.userRateLimited403(new Date(now + 1000).toISOString());
    case 'dailyLimit':
      return errors.dailyLimit();
    case 'unauthenticated':
      return errors.unauthenticated();
    case 'notFound':
      return errors.notFound();
    case 'drop':
      return errors.backendError();
    default: {
      if (typeof kind !== 'object' || !Number.isInteger(kind.status) || kind.status < 400 || kind.status > 599 || !kind.reason || !kind.message) {
        throw new Error(`fault must be a known kind or {status 400-599, reason, message}, got ${JSON.stringify(kind)}`);
      }
      const headers = kind.retryAfterSec !== undefined ? { 'Retry-After': String(kind.retryAfterSec) } : undefined;
      return googleError(kind.status, kind.reason, kind.message, { domain: kind.domain, headers });
    }
  }
}

function validateSpec(where: string, s: FaultSpec): void {
  for (const key of ['errorRate', 'unavailableRate', 'dropRate'] as const) {
    const v = s[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new Error(`faults${where}.${key} must be within [0, 1], got ${v}`);
  }
  if (s.latencyMs && !(s.latencyMs.min >= 0 && s.latencyMs.max >= s.latencyMs.min)) {
    throw new Error(`faults${where}.latencyMs needs 0 <= min <= max`);
  }
}

function validate(opts: FaultOptions): FaultOptions {
  validateSpec('', opts);
  for (const [m, s] of Object.entries(opts.perMethod ?? {})) validateSpec(`.perMethod.${m}`, s ?? {});
  return opts;
}

