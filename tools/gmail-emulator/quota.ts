// Per-mailbox quota as Gmail enforces it: a unit cost per method, budgets over any 1-second and
// any 1-minute window, a cap on concurrent requests, and an optional daily bandwidth cap. It also
// keeps the books tests read: calls, units, peaks and violations per mailbox and method.
import { errors, type GmailError } from './errors.js';
import type { Rng } from './rng.js';
import { GMAIL_METHODS, type Clock, type GmailMethod, type QuotaModel, type QuotaOptions } from './options.js';

export const COST_TABLES: Readonly<Record<QuotaModel, Readonly<Record<GmailMethod, number>>>> = {
  legacy: {
    getProfile: 1,
    'labels.list': 1,
    'labels.get': 1,
    'history.list': 2,
    'messages.list': 5,
    'threads.list': 10,
    'messages.get': 5,
    'messages.attachments.get': 5,
    'threads.get': 10,
  },
  '2026': {
    getProfile: 1,
    'labels.list': 1,
    'labels.get': 1,
    'history.list': 2,
    'messages.list': 5,
    'threads.list': 10,
    'messages.get': 20,
    'messages.attachments.get': 20,
    'threads.get': 40,
  },
};

const BUDGETS: Readonly<Record<QuotaModel, { perSecond: number; perMinute: number }>> = {
  legacy: { perSecond: 250, perMinute: 15_000 },
  '2026': { perSecond: 100, perMinute: 6_000 },
};

export interface MailboxStats {
  /** Requests that reached this mailbox (authenticated), by method, whatever the answer. */
  calls: Partial<Record<GmailMethod, number>>;
  /** Units charged (admitted requests only), by method. */
  units: Partial<Record<GmailMethod, number>>;
  unitsTotal: number;
  /** Most units admitted within any 1-second window. */
  peakUnitsPerSecond: number;
  /** Most units admitted within any 1-minute window. */
  peakUnitsPerMinute: number;
  violations: { rate: number; concurrency: number; bandwidth: number; total: number };
  /** Response body bytes sent for this mailbox, in all and by method. */
  bytesSent: number;
  bytesByMethod: Partial<Record<GmailMethod, number>>;
  /** Most requests in flight at once. */
  concurrencyPeak: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
}

export interface Stats {
  mailboxes: Record<string, MailboxStats>;
  methods: Partial<Record<GmailMethod, { calls: number; units: number; bytes: number }>>;
  totals: { calls: number; units: number; violations: number; bytesSent: number };
  /** Gmail requests refused before a mailbox was known (bad or expired token). */
  unauthenticated: number;
  /** Token endpoint answers by grant type and outcome (`jwt-bearer:ok`, `refresh_token:invalid_grant` …). */
  token: Record<string, number>;
}

interface Window {
  times: number[];
  units: number[];
  head: number;
  minuteSum: number;
}

interface MailboxState {
  stats: MailboxStats;
  window: Window;
  inFlight: number;
  bandwidthDay: number;
  bandwidthBytes: number;
}

function emptyStats(): MailboxStats {
  return {
    calls: {},
    units: {},
    unitsTotal: 0,
    peakUnitsPerSecond: 0,
    peakUnitsPerMinute: 0,
    violations: { rate: 0, concurrency: 0, bandwidth: 0, total: 0 },
    bytesSent: 0,
    bytesByMethod: {},
    concurrencyPeak: 0,
    statuses: {},
  };
}

const inc = <K extends string>(rec: Partial<Record<K, number>>, key: K, by = 1): void => {
  rec[key] = (rec[key] ?? 0) + by;
};

export class Quota {
  private settings: Required<Omit<QuotaOptions, 'costs' | 'perMailbox' | 'dailyBandwidthBytes'>> & {
    costs: Record<GmailMethod, number>;
    perMailbox: NonNullable<QuotaOptions['perMailbox']>;
    dailyBandwidthBytes: number | null;
  };
  private readonly state = new Map<string, MailboxState>();
  private unauthenticated = 0;
  private token: Record<string, number> = {};

  constructor(
    opts: QuotaOptions,
    private readonly clock: Clock,
    private readonly rng: Rng,
  ) {
    this.settings = this.resolve(opts, undefined);
  }

  private resolve(opts: QuotaOptions, prev: Quota['settings'] | undefined): Quota['settings'] {
    const model = opts.model ?? prev?.model ?? 'legacy';
    if (model !== 'legacy' && model !== '2026') throw new Error(`quota.model must be legacy or 2026, got "${String(model)}"`);
    const modelChanged = prev !== undefined && model !== prev.model;
    const costs = { ...COST_TABLES[model], ...(modelChanged ? {} : prev?.costs), ...opts.costs };
    for (const [m, c] of Object.entries(costs)) {
      if (!GMAIL_METHODS.includes(m as GmailMethod)) throw new Error(`quota.costs: unknown method ${m}`);
      if (!Number.isFinite(c) || c < 0) throw new Error(`quota.costs.${m} must be a non-negative number`);
    }
    const pick = (name: string, v: number | undefined, fallback: number): number => {
      const x = v ?? fallback;
      if (!Number.isFinite(x) || x <= 0) throw new Error(`quota.${name} must be a positive number, got ${x}`);
      return x;
    };
    const answer = opts.rateLimitAnswer ?? prev?.rateLimitAnswer ?? 'random';
    if (!['random', '429', '403'].includes(answer)) throw new Error(`quota.rateLimitAnswer must be random, 429 or 403`);
    const chance = opts.retryAfterChance ?? prev?.retryAfterChance ?? 0.5;
    if (!(chance >= 0 && chance <= 1)) throw new Error('quota.retryAfterChance must be within [0, 1]');
    const bw = opts.dailyBandwidthBytes !== undefined ? opts.dailyBandwidthBytes : (prev?.dailyBandwidthBytes ?? null);
    if (bw !== null && !(bw > 0)) throw new Error('quota.dailyBandwidthBytes must be positive or null');
    return {
      model,
      costs,
      unitsPerSecond: pick('unitsPerSecond', opts.unitsPerSecond, modelChanged || !prev ? BUDGETS[model].perSecond : prev.unitsPerSecond),
      unitsPerMinute: pick('unitsPerMinute', opts.unitsPerMinute, modelChanged || !prev ? BUDGETS[model].perMinute : prev.unitsPerMinute),
      concurrency: pick('concurrency', opts.concurrency, prev?.concurrency ?? 10),
      rateLimitAnswer: answer,
      retryAfterChance: chance,
      perMailbox: { ...prev?.perMailbox, ...lowerKeys(opts.perMailbox ?? {}) },
      dailyBandwidthBytes: bw,
    };
  }

  /** Change settings at run time; fields not given keep their value (a new model resets its costs and budgets). */
  configure(opts: QuotaOptions): void {
    this.settings = this.resolve(opts, this.settings);
  }

  get model(): QuotaModel {
    return this.settings.model;
  }

  cost(method: GmailMethod): number {
    return this.settings.costs[method];
  }

  private mailbox(email: string): MailboxState {
    let s = this.state.get(email);
    if (!s) {
      s = { stats: emptyStats(), window: { times: [], units: [], head: 0, minuteSum: 0 }, inFlight: 0, bandwidthDay: -1, bandwidthBytes: 0 };
      this.state.set(email, s);
    }
    return s;
  }

  private limits(email: string): { perSecond: number; perMinute: number; concurrency: number } {
    const o = this.settings.perMailbox[email] ?? {};
    return {
      perSecond: o.unitsPerSecond ?? this.settings.unitsPerSecond,
      perMinute: o.unitsPerMinute ?? this.settings.unitsPerMinute,
      concurrency: o.concurrency ?? this.settings.concurrency,
    };
  }

  countCall(email: string, method: GmailMethod): void {
    inc(this.mailbox(email).stats.calls, method);
  }

  countUnauthenticated(): void {
    this.unauthenticated++;
  }

  countToken(key: string): void {
    this.token[key] = (this.token[key] ?? 0) + 1;
  }

  countStatus(email: string, status: number): void {
    inc(this.mailbox(email).stats.statuses, String(status));
  }

  /** Takes a concurrency slot or throws 429; the caller must `release` a slot it got. */
  enter(email: string): void {
    const s = this.mailbox(email);
    if (s.inFlight >= this.limits(email).concurrency) {
      this.violation(s, 'concurrency');
      throw errors.tooManyConcurrent();
    }
    s.inFlight++;
    if (s.inFlight > s.stats.concurrencyPeak) s.stats.concurrencyPeak = s.inFlight;
  }

  release(email: string): void {
    const s = this.mailbox(email);
    if (s.inFlight > 0) s.inFlight--;
  }

  inFlight(email: string): number {
    return this.state.get(email)?.inFlight ?? 0;
  }

  /** Admits and charges a request, or throws the rate or bandwidth answer (and charges nothing). */
  charge(email: string, method: GmailMethod): void {
    const s = this.mailbox(email);
    const now = this.clock.now();
    const bw = this.settings.dailyBandwidthBytes;
    if (bw !== null) {
      this.rollDay(s, now);
      if (s.bandwidthBytes >= bw) {
        this.violation(s, 'bandwidth');
        throw errors.dailyLimit();
      }
    }
    const cost = this.cost(method);
    const w = s.window;
    while (w.head < w.times.length && w.times[w.head]! <= now - 60_000) {
      w.minuteSum -= w.units[w.head]!;
      w.head++;
    }
    if (w.head > 4096 && w.head * 2 > w.times.length) {
      w.times.splice(0, w.head);
      w.units.splice(0, w.head);
      w.head = 0;
    }
    let secondSum = 0;
    let oldestInSecond = now;
    for (let i = w.times.length - 1; i >= w.head && w.times[i]! > now - 1000; i--) {
      secondSum += w.units[i]!;
      oldestInSecond = w.times[i]!;
    }
    const { perSecond, perMinute } = this.limits(email);
    if (cost > 0 && (secondSum + cost > perSecond || w.minuteSum + cost > perMinute)) {
      this.violation(s, 'rate');
      const overMinute = w.minuteSum + cost > perMinute;
      const waitMs = overMinute ? Math.max(1, w.times[w.head]! + 60_000 - now) : Math.max(1, oldestInSecond + 1000 - now);
      throw this.rateAnswer(now, waitMs);
    }
    w.times.push(now);
    w.units.push(cost);
    w.minuteSum += cost;
    inc(s.stats.units, method, cost);
    s.stats.unitsTotal += cost;
    if (secondSum + cost > s.stats.peakUnitsPerSecond) s.stats.peakUnitsPerSecond = secondSum + cost;
    if (w.minuteSum > s.stats.peakUnitsPerMinute) s.stats.peakUnitsPerMinute = w.minuteSum;
  }

  private rateAnswer(now: number, waitMs: number): GmailError {
    const headers: Record<string, string> = {};
    if (this.rng.chance(this.settings.retryAfterChance)) headers['Retry-After'] = String(Math.max(1, Math.ceil(waitMs / 1000)));
    const kind = this.settings.rateLimitAnswer === 'random' ? (this.rng.chance(0.5) ? '429' : '403') : this.settings.rateLimitAnswer;
    if (kind === '429') return errors.rateLimited429(headers);
    return errors.userRateLimited403(new Date(now + waitMs).toISOString(), headers);
  }

  private rollDay(s: MailboxState, now: number): void {
    const day = Math.floor(now / 86_400_000);
    if (day !== s.bandwidthDay) {
      s.bandwidthDay = day;
      s.bandwidthBytes = 0;
    }
  }

  private violation(s: MailboxState, kind: 'rate' | 'concurrency' | 'bandwidth'): void {
    s.stats.violations[kind]++;
    s.stats.violations.total++;
  }

  sent(email: string, method: GmailMethod, bytes: number): void {
    const s = this.mailbox(email);
    s.stats.bytesSent += bytes;
    inc(s.stats.bytesByMethod, method, bytes);
    this.rollDay(s, this.clock.now());
    s.bandwidthBytes += bytes;
  }

  stats(): Stats {
    const mailboxes: Record<string, MailboxStats> = {};
    const methods: Stats['methods'] = {};
    const totals = { calls: 0, units: 0, violations: 0, bytesSent: 0 };
    for (const [email, s] of this.state) {
      mailboxes[email] = structuredClone(s.stats);
      for (const m of GMAIL_METHODS) {
        const calls = s.stats.calls[m] ?? 0;
        const units = s.stats.units[m] ?? 0;
        const bytes = s.stats.bytesByMethod[m] ?? 0;
        if (calls || units || bytes) {
          const agg = (methods[m] ??= { calls: 0, units: 0, bytes: 0 });
          agg.calls += calls;
          agg.units += units;
          agg.bytes += bytes;
        }
        totals.calls += calls;
      }
      totals.units += s.stats.unitsTotal;
      totals.violations += s.stats.violations.total;
      totals.bytesSent += s.stats.bytesSent;
    }
    return { mailboxes, methods, totals, unauthenticated: this.unauthenticated, token: { ...this.token } };
  }

  /** Clears the books; quota windows, bandwidth and requests in flight are kept (they are Gmail's state, not ours). */
  resetStats(): void {
    for (const s of this.state.values()) {
      const inFlight = s.inFlight;
      s.stats = emptyStats();
      s.stats.concurrencyPeak = inFlight;
    }
    this.unauthenticated = 0;
    this.token = {};
  }
}

function lowerKeys<T>(rec: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k.toLowerCase(), v]));
}
