// Pacing for one mailbox: a quota-unit limiter over Gmail's one-second and one-minute windows,
// a bound on requests in flight, and the adaptive pace that learns a lower limit when Gmail
// imposes one. Time comes only from the injected Clock, so all of it runs under a fake clock.
import type { Clock } from '../core/clock.js';

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;

/** Marks the moment a granted request's answer (or error, or timeout) came back. */
type QuotaRelease = () => void;

interface Hold {
  units: number;
  /** When the answer came back; null while the request is out. */
  end: number | null;
}

interface QuotaLimiterOptions {
  /** Units per minute (read on every decision); default 60 × the per-second budget. */
  perMinute?: () => number;
}

/**
 * Grants quota units first come, first served, so that no one-second (or one-minute) window
 * *at Gmail's end* can ever hold more than the budget, whatever the latency, jitter or
 * event-loop stall.
 *
 * Why: Gmail counts a request when it arrives, and that arrival lies somewhere between the
 * moment we granted it and the moment its answer came back. So a request's units are held
 * from the grant until one second after its answer. Take any one-second window [t, t+1 s) at
 * Gmail and the requests that arrived in it; let g be the latest of their grants. Every one
 * of them was granted at or before g, and each came back at or after its arrival, which is
 * ≥ t > g − 1 s, so at instant g every one of them was still held. The limiter granted the
 * last of them only because everything held then, that one included, fitted the budget. The
 * same argument with 60 s bounds the minute. Nothing here depends on how long the trip took.
 *
 * A request dearer than a whole window's budget is granted when that window holds nothing
 * (it could never fit otherwise). The budgets are read on every decision, so a lowered pace
 * takes effect for the next grant.
 */
export class QuotaLimiter {
  private holds: Hold[] = [];
  private tail: Promise<void> = Promise.resolve();
  private wake: { promise: Promise<void>; resolve: () => void } = signal();
  private readonly perMinute: () => number;

  constructor(
    private readonly clock: Clock,
    private readonly budget: () => number,
    opts: QuotaLimiterOptions = {},
  ) {
    this.perMinute = opts.perMinute ?? (() => 60 * this.budget());
  }

  /** Resolves when `units` may be spent now; call the release when the answer is back. */
  acquire(units: number): Promise<QuotaRelease> {
    if (!Number.isFinite(units) || units < 0) throw new Error(`quota units must be a non-negative number, got ${units}`);
    const turn = this.tail.then(() => this.waitFor(units));
    this.tail = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** Units held in the one-second window ending now (requests out count in full). */
  usedNow(): number {
    return this.used(this.clock.now(), SECOND_MS);
  }

  /** Requests granted whose answer has not come back yet. */
  get outstanding(): number {
    return this.holds.filter((h) => h.end === null).length;
  }

  private used(now: number, windowMs: number): number {
    let sum = 0;
    for (const h of this.holds) if (h.end === null || h.end + windowMs > now) sum += h.units;
    return sum;
  }

  private prunedAt = -Infinity;

  // Holds past the minute count in no window (readyAt skips them); dropping them once a second
  // rather than on every grant keeps a grant from copying a minute's worth of holds each time.
  private prune(now: number): void {
    if (now - this.prunedAt < SECOND_MS) return;
    this.prunedAt = now;
    this.holds = this.holds.filter((h) => h.end === null || h.end + MINUTE_MS > now);
  }

  /** When the window can take `units`: now, a later instant, or Infinity (an answer must come back first). */
  private readyAt(now: number, windowMs: number, budget: number, units: number): number {
    // The common case, room in the window, is a sum without copying or sorting.
    let sum = 0;
    for (const h of this.holds) if (h.end === null || h.end + windowMs > now) sum += h.units;
    if (sum === 0 || sum + units <= budget) return now;
    const held = this.holds.filter((h) => h.end === null || h.end + windowMs > now);
    let used = sum;
    const timed = held.filter((h) => h.end !== null).sort((a, b) => a.end! - b.end!);
    const untimed = used - timed.reduce((s, h) => s + h.units, 0);
    for (const h of timed) {
      used -= h.units;
      if (used === 0 || used + units <= budget) return h.end! + windowMs;
    }
    return untimed > 0 ? Infinity : now;
  }

  private async waitFor(units: number): Promise<QuotaRelease> {
    for (;;) {
      const now = this.clock.now();
      this.prune(now);
      const at = Math.max(this.readyAt(now, SECOND_MS, this.budget(), units), this.readyAt(now, MINUTE_MS, this.perMinute(), units));
      if (at <= now) {
        const hold: Hold = { units, end: null };
        this.holds.push(hold);
        return () => {
          if (hold.end !== null) return;
          hold.end = this.clock.now();
          const w = this.wake;
          this.wake = signal();
          w.resolve();
        };
      }
      const answered = this.wake.promise;
      if (at === Infinity) await answered;
      else if (this.outstanding > 0) await Promise.race([answered, this.clock.sleep(Math.max(1, at - now))]);
      else await this.clock.sleep(Math.max(1, at - now));
    }
  }
}

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** At most `max` holders at once; waiters are served in arrival order. */
export class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`concurrency bound must be a whole number ≥ 1, got ${max}`);
  }

  get inUse(): number {
    return this.active;
  }

  async acquire(): Promise<() => void> {
    if (this.active < this.max) {
      this.active++;
    } else {
      // The releaser hands its slot straight to us, so `active` stays as it is.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }
}

export interface PaceOptions {
  /** The configured budget (units/s): the pace never goes above it. */
  budget: number;
  /** The pace never goes below this (units/s). */
  floor?: number;
  /** Multiplier applied on a rate-limit answer. */
  decrease?: number;
  /** Multiplier applied after `successesPerStep` successes in a row. */
  increase?: number;
  successesPerStep?: number;
  /** Rate-limit answers within this time of a decrease belong to the burst that caused it. */
  settleMs?: number;
  /** For this long after a rate limit, the pace creeps back up only to `headroom` × the pace that was refused. */
  memoryMs?: number;
  headroom?: number;
}

interface PaceChange {
  from: number;
  to: number;
}

/**
 * Units per second this mailbox allows itself. Lowered when Gmail answers rate limits although
 * the budget was respected (a project on lower limits than configured); raised again slowly
 * after a run of successes, staying under the pace that was refused for a while so that the
 * pace settles instead of bouncing off the hidden limit.
 */
export class AdaptivePace {
  readonly budget: number;
  readonly floor: number;
  private readonly decrease: number;
  private readonly increase: number;
  private readonly successesPerStep: number;
  private readonly settleMs: number;
  private readonly memoryMs: number;
  private readonly headroom: number;
  private pace: number;
  private streak = 0;
  private lastDecreaseAt: number | undefined;
  private refusedPace: number | undefined;
  private refusedAt: number | undefined;

  constructor(
    private readonly clock: Clock,
    opts: PaceOptions,
    learned?: number | null,
  ) {
    if (!(opts.budget > 0)) throw new Error(`quota budget must be positive, got ${opts.budget}`);
    this.budget = opts.budget;
    this.floor = Math.min(opts.floor ?? 5, opts.budget);
    this.decrease = opts.decrease ?? 0.7;
    this.increase = opts.increase ?? 1.05;
    this.successesPerStep = opts.successesPerStep ?? 50;
    this.settleMs = opts.settleMs ?? 1000;
    this.memoryMs = opts.memoryMs ?? 10 * 60_000;
    this.headroom = opts.headroom ?? 0.9;
    this.pace = this.budget;
    if (typeof learned === 'number' && Number.isFinite(learned) && learned > 0 && learned < this.budget) {
      this.pace = Math.max(this.floor, learned);
      // A pace learned on an earlier run is the known-good ceiling for a while, as if just refused above it.
      this.refusedPace = this.pace / this.headroom;
      this.refusedAt = clock.now();
    }
  }

  get current(): number {
    return this.pace;
  }

  onRateLimited(): PaceChange | undefined {
    const now = this.clock.now();
    this.streak = 0;
    this.refusedAt = now;
    if (this.lastDecreaseAt !== undefined && now - this.lastDecreaseAt < this.settleMs) return undefined;
    const from = this.pace;
    this.refusedPace = from;
    this.lastDecreaseAt = now;
    this.pace = Math.max(this.floor, from * this.decrease);
    return this.pace < from ? { from, to: this.pace } : undefined;
  }

  onSuccess(): PaceChange | undefined {
    if (++this.streak < this.successesPerStep) return undefined;
    this.streak = 0;
    let cap = this.budget;
    if (this.refusedPace !== undefined && this.refusedAt !== undefined && this.clock.now() - this.refusedAt < this.memoryMs) {
      cap = Math.min(cap, Math.max(this.floor, this.refusedPace * this.headroom));
    }
    const from = this.pace;
    const to = Math.min(cap, from * this.increase);
    if (to <= from) return undefined;
    this.pace = to;
    return { from, to };
  }
}
