// Pacing for one mailbox: a quota-unit limiter over a sliding one-second window, a bound on
// requests in flight, and the adaptive pace that learns a lower limit when Gmail imposes one.
// Time comes only from the injected Clock, so all of it runs under a fake clock in tests.
import type { Clock } from '../core/clock.js';

const WINDOW_MS = 1000;

/**
 * Grants quota units first come, first served, so that the units granted in any one-second
 * window never exceed the budget. A request dearer than the whole budget is granted when the
 * window is empty (it could never fit otherwise). The budget is read on every decision, so a
 * lowered pace takes effect for the next grant.
 */
export class QuotaLimiter {
  private readonly grants: { at: number; units: number }[] = [];
  private used = 0;
  private tail: Promise<void> = Promise.resolve();

  private readonly windowMs: number;

  /**
   * `marginMs` widens the window the limiter keeps: Gmail counts units when requests arrive,
   * and network jitter can bring two grants a little less than a second apart on our clock
   * into one of Gmail's seconds. Requests whose latencies differ by less than the margin
   * can never land more than the budget in any one second at Gmail's end.
   */
  constructor(
    private readonly clock: Clock,
    private readonly budget: () => number,
    marginMs = 0,
  ) {
    this.windowMs = WINDOW_MS + marginMs;
  }

  /** Resolves when `units` may be spent now; the grant is recorded at that instant. */
  acquire(units: number): Promise<void> {
    if (!Number.isFinite(units) || units < 0) throw new Error(`quota units must be a non-negative number, got ${units}`);
    const turn = this.tail.then(() => this.waitFor(units));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /** Units granted in the window ending now. */
  usedNow(): number {
    this.prune(this.clock.now());
    return this.used;
  }

  private prune(now: number): void {
    while (this.grants.length && this.grants[0].at <= now - this.windowMs) this.used -= this.grants.shift()!.units;
    if (!this.grants.length) this.used = 0;
  }

  private async waitFor(units: number): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.prune(now);
      const budget = this.budget();
      if (this.used === 0 || this.used + units <= budget) {
        this.grants.push({ at: now, units });
        this.used += units;
        return;
      }
      // Wake when enough old grants have left the window (or all of them, for an oversized request).
      let excess = this.used + units - budget;
      let wakeAt = this.grants[this.grants.length - 1].at + this.windowMs;
      for (const g of this.grants) {
        excess -= g.units;
        if (excess <= 0) {
          wakeAt = g.at + this.windowMs;
          break;
        }
      }
      await this.clock.sleep(Math.max(1, wakeAt - now));
    }
  }
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

export interface PaceChange {
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
