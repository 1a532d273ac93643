// A clock for tests: time moves only when the test says so, so pacing, expiry and backoff
// run without real timers.
import type { Clock } from '../../lib/core/clock.js';

/** A clock that moves only when told to; sleepers wake in order as time passes. */
export class FakeClock implements Clock {
  private t: number;
  private sleepers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;

  constructor(start = Date.parse('2026-01-15T12:00:00.000Z')) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve });
    });
  }

  get pending(): number {
    return this.sleepers.length;
  }

  /** When the earliest sleeper wakes, if anyone sleeps (lets a driver jump straight there). */
  get nextWakeAt(): number | undefined {
    let next: number | undefined;
    for (const s of this.sleepers) if (next === undefined || s.at < next) next = s.at;
    return next;
  }

  /** Move time forward, waking every sleeper due on the way (and letting their continuations run). */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      this.sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.sleepers[0];
      if (!next || next.at > target) break;
      this.sleepers.shift();
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    this.t = target;
    await flushMicrotasks();
  }

  /** Run until nobody sleeps (or the guard trips): for driving a whole job under fake time. */
  async runAll(maxMs = 24 * 3600_000): Promise<void> {
    const end = this.t + maxMs;
    for (;;) {
      await flushMicrotasks();
      if (this.sleepers.length === 0) {
        // Give I/O callbacks a chance before deciding nothing else will sleep.
        await new Promise((r) => setImmediate(r));
        await flushMicrotasks();
        if (this.sleepers.length === 0) return;
      }
      this.sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.sleepers.shift()!;
      if (next.at > end) throw new Error('FakeClock.runAll: time guard exceeded');
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
