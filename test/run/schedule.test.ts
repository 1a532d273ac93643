import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { defineFunction } from '../../lib/core/fn.js';
import { jobs, startSchedule } from '../../lib/run/schedule.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

it('the schedule syncs every CRM_GMAIL_SYNC_INTERVAL_MIN when Gmail is on, and drains the rematch queue every minute', async () => {
  deps = await makeDeps({ env: { CRM_GMAIL_SYNC_INTERVAL_MIN: '30' } });
  const off = jobs(deps);
  expect(off.find((j) => j.name === 'syncAll')).toMatchObject({ every: { seconds: 1800 }, enabled: false });
  deps.config.gmail.enabled = true;
  const on = jobs(deps);
  expect(on.find((j) => j.name === 'syncAll')).toMatchObject({ every: { seconds: 1800 }, enabled: true });
  expect(on.find((j) => j.name === 'rematchQueued')).toMatchObject({ every: { seconds: 60 }, enabled: true });
});

it('a scheduled job runs its function through invoke, a disabled one is not scheduled, and idle() waits for a run', async () => {
  deps = await makeDeps();
  const seen: unknown[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fn = defineFunction({
    name: 'probe',
    input: z.object({ n: z.number() }),
    run: async (_d, input) => {
      seen.push(input);
      await gate;
      return null;
    },
  });
  const schedule = startSchedule(deps, [
    { name: 'probe', every: { seconds: 600 }, fn, input: { n: 1 }, enabled: true },
    { name: 'off', every: { seconds: 600 }, fn, input: { n: 2 }, enabled: false },
  ]);
  try {
    expect(schedule.jobs.map((j) => j.name)).toEqual(['probe']);
    const job = schedule.jobs[0]!.cron;
    expect(job.msToNext()!).toBeLessThanOrEqual(600_000);
    const run = job.trigger();
    expect(job.isBusy()).toBe(true);
    let idle = false;
    const waiting = schedule.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    release();
    await run;
    await waiting;
    expect(seen).toEqual([{ n: 1 }]);
    expect(job.isBusy()).toBe(false);
  } finally {
    schedule.stop();
  }
});

it('a bad input in the table is logged as a failed job, not thrown into the timer', async () => {
  deps = await makeDeps();
  const fn = defineFunction({ name: 'strict', input: z.object({ n: z.number() }), run: async () => null });
  const schedule = startSchedule(deps, [{ name: 'strict', every: { seconds: 600 }, fn, input: { n: 'x' }, enabled: true }]);
  try {
    await schedule.jobs[0]!.cron.trigger();
    const failed = deps.logs.lines.find((l) => l.event === 'schedule.job_failed' && l.job === 'strict');
    // The same envelope the API and the CLI answer with.
    expect(failed?.error).toEqual({ code: 'VALIDATION', message: expect.stringContaining('n:'), field: 'n' });
  } finally {
    schedule.stop();
  }
});
