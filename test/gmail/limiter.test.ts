// Pacing primitives under a fake clock: the quota window, the in-flight bound, the adaptive
// pace, and the backoff arithmetic.
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/clock.js';
import { costTable } from '../../lib/gmail/costs.js';
import { parseRetryAfter } from '../../lib/gmail/errors.js';
import { AdaptivePace, QuotaLimiter, Semaphore } from '../../lib/gmail/limiter.js';
import { backoffDelay, RETRY_POLICY, retryPolicy } from '../../lib/gmail/retry.js';
import { drive } from '../mocks/gmail.js';

/** A small deterministic PRNG so a failing run can be replayed. */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** The largest sum of units granted within any half-open one-second window. */
function worstWindow(grants: { at: number; units: number }[], budget: number) {
  const sorted = [...grants].sort((a, b) => a.at - b.at);
  let worst = 0;
  let violations = 0;
  for (let i = 0, j = 0, sum = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j].at < sorted[i].at + 1000) sum += sorted[j++].units;
    const alone = j - i === 1;
    if (sum > budget && !alone) violations++;
    if (!alone || sorted[i].units <= budget) worst = Math.max(worst, sum);
    sum -= sorted[i].units;
  }
  return { worst, violations };
}

describe('QuotaLimiter', () => {
  it.each([1, 2, 3])('never spends more than the budget in any one-second window over a long random run (seed %i)', async (seed) => {
    const clock = new FakeClock();
    const budget = 100;
    const limiter = new QuotaLimiter(clock, () => budget);
    const rnd = mulberry32(seed);
    const grants: { at: number; units: number }[] = [];
    const start = clock.now();
    const tasks: Promise<void>[] = [];
    let totalUnits = 0;
    for (let i = 0; i < 3000; i++) {
      const units = rnd() < 0.01 ? 150 : 1 + Math.floor(rnd() * 40);
      totalUnits += units;
      const arrival = Math.floor(rnd() * 600_000);
      tasks.push(
        (async () => {
          await clock.sleep(arrival);
          const answered = await limiter.acquire(units);
          grants.push({ at: clock.now(), units });
          answered();
        })(),
      );
    }
    await drive(clock, Promise.all(tasks), () => false);
    const { worst, violations } = worstWindow(grants, budget);
    expect(grants).toHaveLength(3000);
    expect(violations).toBe(0);
    expect(worst).toBeLessThanOrEqual(budget);
    // And it is not slow for nothing: demand outruns the budget, so the run ends close to
    // units / budget (first-come-first-served and the oversized requests waste a little).
    const elapsed = clock.now() - start;
    expect(elapsed).toBeGreaterThan((totalUnits / budget) * 1000 * 0.95);
    expect(elapsed).toBeLessThan((totalUnits / budget) * 1000 * 1.2);
  });

  it('requests counted at Gmail on arrival never exceed the budget in any second, whatever the latency or stalls', async () => {
    const budget = 100;
    for (const seed of [7, 8, 9]) {
      const clock = new FakeClock();
      const limiter = new QuotaLimiter(clock, () => budget);
      const rnd = mulberry32(seed);
      const arrivals: { at: number; units: number }[] = [];
      const tasks: Promise<void>[] = [];
      for (let i = 0; i < 1500; i++) {
        tasks.push(
          (async () => {
            await clock.sleep(Math.floor(rnd() * 60_000));
            const answered = await limiter.acquire(20);
            // Leaving us can be held up by a stalled event loop (up to 400 ms), the trip to
            // Gmail takes 40–89 ms, and the answer is as slow again before we see it.
            const leave = rnd() < 0.1 ? Math.floor(rnd() * 400) : 0;
            const trip = 40 + Math.floor(rnd() * 50);
            await clock.sleep(leave + trip);
            arrivals.push({ at: clock.now(), units: 20 });
            await clock.sleep(40 + Math.floor(rnd() * 50) + (rnd() < 0.1 ? 300 : 0));
            answered();
          })(),
        );
      }
      await drive(clock, Promise.all(tasks), () => false);
      expect(arrivals).toHaveLength(1500);
      expect(worstWindow(arrivals, budget).violations).toBe(0);
    }
  });

  it('counting from the grant alone (units released at once) does land over budget at Gmail on the same traffic', async () => {
    const budget = 100;
    const clock = new FakeClock();
    const limiter = new QuotaLimiter(clock, () => budget);
    const rnd = mulberry32(7);
    const arrivals: { at: number; units: number }[] = [];
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < 1500; i++) {
      tasks.push(
        (async () => {
          await clock.sleep(Math.floor(rnd() * 60_000));
          (await limiter.acquire(20))();
          await clock.sleep((rnd() < 0.1 ? Math.floor(rnd() * 400) : 0) + 40 + Math.floor(rnd() * 50));
          arrivals.push({ at: clock.now(), units: 20 });
        })(),
      );
    }
    await drive(clock, Promise.all(tasks), () => false);
    expect(worstWindow(arrivals, budget).violations).toBeGreaterThan(0);
  });

  it('a request still out holds its units: nothing more is granted until its answer is a second old', async () => {
    const clock = new FakeClock();
    const limiter = new QuotaLimiter(clock, () => 10);
    const t0 = clock.now();
    const first = await limiter.acquire(10);
    let grantedAt: number | undefined;
    const second = limiter.acquire(5).then((r) => {
      grantedAt = clock.now() - t0;
      return r;
    });
    await clock.advance(5000);
    expect(grantedAt).toBeUndefined();
    first();
    await clock.advance(999);
    expect(grantedAt).toBeUndefined();
    await clock.advance(1);
    (await second)();
    expect(grantedAt).toBe(6000);
  });

  it('keeps the per-minute budget too (6,000 units/min at 100/s), counting each request until a second after its answer', async () => {
    const clock = new FakeClock();
    const limiter = new QuotaLimiter(clock, () => 100, { perMinute: () => 600 });
    const grants: { at: number; units: number }[] = [];
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < 120; i++) {
      tasks.push(
        (async () => {
          const answered = await limiter.acquire(20);
          grants.push({ at: clock.now(), units: 20 });
          await clock.sleep(50);
          answered();
        })(),
      );
    }
    await drive(clock, Promise.all(tasks), () => false);
    const sorted = grants.map((g) => g.at).sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i++) {
      // Each grant's answer came 50 ms later: any 60 s window holds at most 600 units (30 grants).
      const inMinute = sorted.filter((t) => t >= sorted[i]! && t < sorted[i]! + 60_000 - 50).length;
      expect(inMinute).toBeLessThanOrEqual(30);
    }
    expect(sorted.at(-1)! - sorted[0]!).toBeGreaterThanOrEqual(3 * 60_000);
  });

  it('grants a request dearer than the whole budget once the window is empty', async () => {
    const clock = new FakeClock();
    const limiter = new QuotaLimiter(clock, () => 10);
    const at: number[] = [];
    const t0 = clock.now();
    const work = Promise.all([
      limiter.acquire(4).then((r) => (at.push(clock.now() - t0), r())),
      limiter.acquire(40).then((r) => (at.push(clock.now() - t0), r())),
      limiter.acquire(1).then((r) => (at.push(clock.now() - t0), r())),
    ]);
    await drive(clock, work, () => false);
    expect(at).toEqual([0, 1000, 2000]);
  });

  it('serves requests in arrival order and reads the budget on every decision', async () => {
    const clock = new FakeClock();
    let budget = 20;
    const limiter = new QuotaLimiter(clock, () => budget);
    const order: string[] = [];
    const t0 = clock.now();
    const work = Promise.all([
      limiter.acquire(20).then((r) => (order.push(`a@${clock.now() - t0}`), r())),
      limiter.acquire(20).then((r) => {
        order.push(`b@${clock.now() - t0}`);
        budget = 10;
        r();
      }),
      limiter.acquire(10).then((r) => (order.push(`c@${clock.now() - t0}`), r())),
      limiter.acquire(1).then((r) => (order.push(`d@${clock.now() - t0}`), r())),
    ]);
    await drive(clock, work, () => false);
    expect(order).toEqual(['a@0', 'b@1000', 'c@2000', 'd@3000']);
  });
});

describe('Semaphore', () => {
  it('never lets more than its bound in, and hands slots over in order', async () => {
    const sem = new Semaphore(3);
    let inside = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const release = await sem.acquire();
        order.push(i);
        inside++;
        peak = Math.max(peak, inside);
        for (let k = 0; k < (i % 4) + 1; k++) await new Promise((r) => setImmediate(r));
        inside--;
        release();
        release(); // a second release is harmless
      }),
    );
    expect(peak).toBe(3);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(sem.inUse).toBe(0);
  });
});

describe('AdaptivePace', () => {
  it('lowers by 0.7 per rate limit, counts one burst once, and never goes under the floor', async () => {
    const clock = new FakeClock();
    const pace = new AdaptivePace(clock, { budget: 100 });
    expect(pace.onRateLimited()).toEqual({ from: 100, to: 70 });
    expect(pace.onRateLimited()).toBeUndefined(); // same burst
    await clock.advance(1000);
    expect(pace.onRateLimited()?.to).toBeCloseTo(49);
    for (let i = 0; i < 20; i++) {
      await clock.advance(1000);
      pace.onRateLimited();
    }
    expect(pace.current).toBe(5);
  });

  it('creeps back up 5% per 50 successes, under 0.9× the refused pace for a while, then up to the budget', async () => {
    const clock = new FakeClock();
    const pace = new AdaptivePace(clock, { budget: 100 });
    pace.onRateLimited(); // refused at 100 → 70
    for (let i = 0; i < 49; i++) expect(pace.onSuccess()).toBeUndefined();
    expect(pace.onSuccess()?.to).toBeCloseTo(73.5);
    for (let i = 0; i < 50 * 20; i++) pace.onSuccess();
    expect(pace.current).toBeCloseTo(90);
    await clock.advance(10 * 60_000);
    for (let i = 0; i < 50 * 20; i++) pace.onSuccess();
    expect(pace.current).toBe(100);
  });

  it('starts from a learned pace and keeps under it for a while before probing upward', async () => {
    const clock = new FakeClock();
    const pace = new AdaptivePace(clock, { budget: 150 }, 60);
    expect(pace.current).toBe(60);
    for (let i = 0; i < 500; i++) pace.onSuccess();
    expect(pace.current).toBeCloseTo(60);
    await clock.advance(10 * 60_000);
    for (let i = 0; i < 500; i++) pace.onSuccess();
    expect(pace.current).toBeGreaterThan(60);
    expect(new AdaptivePace(clock, { budget: 150 }, 1).current).toBe(5);
  });
});

describe('backoff arithmetic', () => {
  it('doubles from 1 s to the 64 s cap, jitter under 1 s, Retry-After wins when longer', () => {
    const p = RETRY_POLICY;
    expect(Array.from({ length: 9 }, (_, i) => backoffDelay(i + 1, p, () => 0))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 64000, 64000, 64000]);
    expect(backoffDelay(1, p, () => 0.999)).toBe(1999);
    expect(backoffDelay(7, p, () => 0.999)).toBe(64000);
    expect(backoffDelay(1, p, () => 0, 5000)).toBe(5000);
    expect(backoffDelay(3, p, () => 0, 1000)).toBe(4000);
    expect(p.maxAttempts).toBe(8);
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow(/maxAttempts/);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-15T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('the two cost tables differ only where Google raised prices', () => {
    const legacy = costTable('legacy');
    const y2026 = costTable('2026');
    expect(legacy['messages.get']).toBe(5);
    expect(y2026['messages.get']).toBe(20);
    expect(y2026['messages.attachments.get']).toBe(20);
    expect(y2026['threads.get']).toBe(40);
    expect(legacy['history.list']).toBe(y2026['history.list']);
    expect(legacy.getProfile).toBe(1);
  });
});
