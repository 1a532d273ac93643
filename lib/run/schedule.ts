// The scheduler: a table of {name, pattern, fn, input} run by croner with protect: true,
// each job calling the same invoke() as the CLI.
import { Cron } from 'croner';
import type { Deps } from '../core/deps.js';
import { envelope, toAppError } from '../core/errors.js';
import { invoke, type AnyFn } from '../core/fn.js';
import { functions } from '../../functions/index.js';

interface Job {
  name: string;
  /** croner pattern, or an interval in seconds. */
  every: string | { seconds: number };
  fn: AnyFn;
  input: unknown;
  enabled: boolean;
}

export function jobs(deps: Deps): Job[] {
  const { gmail } = deps.config;
  return [
    { name: 'syncAll', every: { seconds: gmail.syncIntervalMin * 60 }, fn: functions.syncAll, input: { trigger: 'schedule' }, enabled: gmail.enabled },
    // Each mailbox compares itself with Gmail once a day; the job looks hourly for the ones due.
    { name: 'verifyAll', every: { seconds: 3600 }, fn: functions.verifyAll, input: { trigger: 'schedule' }, enabled: gmail.enabled },
    // Directory edits queue addresses; their mail is re-matched within a minute (purges included, even with Gmail off).
    { name: 'rematchQueued', every: { seconds: 60 }, fn: functions.rematchQueued, input: { trigger: 'schedule' }, enabled: true },
    // Feed tombstones past their retention are retired; cheap when there are none.
    { name: 'compactFeed', every: { seconds: 3600 }, fn: functions.compactFeed, input: { trigger: 'schedule' }, enabled: true },
    // Expired and revoked tokens are deleted, not just refused.
    { name: 'pruneSessions', every: { seconds: 3600 }, fn: functions.pruneSessions, input: { trigger: 'schedule' }, enabled: true },
  ];
}

export function startSchedule(deps: Deps, table: Job[] = jobs(deps)) {
  const running = new Set<Promise<unknown>>();
  const crons = table
    .filter((j) => j.enabled)
    .map((job) => {
      const task = async () => {
        const p = invoke(deps, job.fn, job.input).catch((err: unknown) => {
          // The same envelope an API caller or the CLI would see; the cause stays for the operator.
          const failure = envelope(toAppError(err)).error;
          deps.log.error({ event: 'schedule.job_failed', job: job.name, error: failure, err: String(err) }, 'scheduled job failed');
        });
        running.add(p);
        try {
          await p;
        } finally {
          running.delete(p);
        }
      };
      // protect: a run still going when the next is due makes that one skip, never overlap.
      // (Unnamed: croner's names are process-wide, and tests start several schedules.)
      const opts = { protect: true } as const;
      const cron =
        typeof job.every === 'string' ? new Cron(job.every, opts, task) : new Cron('* * * * * *', { ...opts, interval: job.every.seconds }, task);
      return { name: job.name, cron };
    });
  return {
    jobs: crons,
    stop() {
      for (const c of crons) c.cron.stop();
    },
    async idle() {
      await Promise.allSettled([...running]);
    },
  };
}
