// Stage 1: a first backfill of several mailboxes against the emulator with latency and Gmail's
// quota enforced, compared with the floor the quota sets: the units the job needs divided by
// the per-mailbox budget (mailboxes have separate budgets and sync in parallel, so the floor
// is the slowest mailbox's).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { createUser } from '../functions/createUser.js';
import { issueToken } from '../lib/auth/credentials.js';
import { invoke } from '../lib/core/fn.js';
import type { Deps } from '../lib/core/deps.js';
import { createApp } from '../lib/http/app.js';
import type { AccountRow } from '../lib/capture/accounts.js';
import { all, one } from '../lib/db/client.js';
import { costTable } from '../lib/gmail/costs.js';
import type { GmailCallStats } from '../lib/gmail/types.js';
import type { SyncHooks, SyncSummary } from '../lib/capture/sync.js';
import { beginAccountSync, defaultHooks } from '../lib/capture/syncRunner.js';
import type { MailboxStats, Stats } from '../tools/gmail-emulator/index.js';
import { startEmulatorProcess } from './emulator.js';
import { cpuSecSince, percentile, progress } from './measure.js';
import { enrolCorpus, startService, type Service } from './service.js';

interface MailboxRun {
  email: string;
  status: SyncSummary['status'];
  error: string | null;
  /** Copies this mailbox stored (rows of email_mailbox_messages). */
  stored: number;
  wallSec: number;
  /** Until the attachment step began (list, fetch, store, history catch-up). */
  captureSec: number;
  /** The client's own counters when the attachment step began. */
  capture: GmailCallStats;
  /** The client's counters at the end (the run's row). */
  total: { quotaUnits: number; calls: number; bytes: number };
  rateLimited: number;
  paceEnd: number;
}

interface SyncBatch {
  wallSec: number;
  cpuSec: number;
  /** How late the event loop ran timers and I/O (ms): long synchronous stretches delay requests already paced. */
  loopDelay: LoopDelay;
  /** `GET /api/email/status` answered over HTTP while the mailboxes synced. */
  status: StatusLatency;
  mailboxes: MailboxRun[];
}

export interface StatusLatency {
  requests: number;
  /** Answers other than 200, and requests that failed outright. */
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * The service's HTTP API on 127.0.0.1 (an ephemeral port) with a member's bearer token, asking
 * `GET /api/email/status` every 100–250 ms until stopped, as a console left open during a sync
 * would. The server shares this process's event loop with the sync, so every stall shows.
 */
export async function probeStatus(deps: Deps): Promise<{ stop: () => Promise<StatusLatency> }> {
  const user = await invoke(deps, createUser, { username: `bench-${randomBytes(4).toString('hex')}`, password: randomBytes(18).toString('base64url') });
  const { token } = await issueToken(deps.db, (user as { id: number }).id, deps.clock.now());
  const server = serve({ fetch: createApp(deps).fetch, port: 0, hostname: '127.0.0.1' });
  if (!server.listening) await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/email/status`;
  const times: number[] = [];
  let failed = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await sleep(100 + Math.random() * 150);
      if (stopped) break;
      const t0 = performance.now();
      try {
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
        else times.push(performance.now() - t0);
      } catch {
        failed++;
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return { requests: times.length + failed, failed, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: times.length ? Math.max(...times) : Number.NaN };
    },
  };
}

export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

/** Event-loop lateness while `work` runs. */
export async function watchLoop<T>(work: () => Promise<T>): Promise<{ value: T; loopDelay: LoopDelay }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  try {
    const value = await work();
    return { value, loopDelay: { p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 } };
  } finally {
    h.disable();
  }
}

/**
 * Syncs the accounts in parallel as syncAll does (beginAccountSync per mailbox, the production
 * hooks), with the attachment step wrapped to note when it began and what was spent before it.
 */
export async function syncInParallel(svc: Service, accounts: AccountRow[], opts: { attachments: boolean }): Promise<SyncBatch> {
  const { deps } = svc;
  const probe = await probeStatus(deps);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let status: StatusLatency | undefined;
  const { value: mailboxes, loopDelay } = await watchLoop(() => Promise.all(
    accounts.map(async (account): Promise<MailboxRun> => {
      const start = performance.now();
      let captureEnd: number | undefined;
      let capture: GmailCallStats | undefined;
      let rateLimited = 0;
      let paceEnd = Number.NaN;
      const hooks: SyncHooks = {
        afterSync: async (d, gmail, acc, runId) => {
          captureEnd = performance.now();
          capture = { ...gmail.stats };
          try {
            return opts.attachments ? await defaultHooks.afterSync!(d, gmail, acc, runId) : 0;
          } finally {
            rateLimited = gmail.stats.rateLimited;
            paceEnd = gmail.paceUnitsSec;
          }
        },
      };
      const begun = await beginAccountSync(deps, account, hooks);
      if (!begun.go) throw new Error(`${account.email} was already syncing`);
      const summary = await begun.go();
      const end = performance.now();
      const run = await one<{ quota_units: number; http_calls: number; bytes_downloaded: number }>(
        deps.db,
        'SELECT quota_units, http_calls, bytes_downloaded FROM email_sync_runs WHERE id = ?',
        [summary.run_id],
      );
      const stored = await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages WHERE account_id = ?', [account.id]);
      return {
        email: account.email,
        status: summary.status,
        error: summary.error,
        stored: stored?.n ?? 0,
        wallSec: (end - start) / 1000,
        captureSec: ((captureEnd ?? end) - start) / 1000,
        capture: capture ?? { quotaUnits: run?.quota_units ?? 0, calls: run?.http_calls ?? 0, retries: 0, rateLimited: 0, bytes: run?.bytes_downloaded ?? 0 },
        total: { quotaUnits: run?.quota_units ?? 0, calls: run?.http_calls ?? 0, bytes: run?.bytes_downloaded ?? 0 },
        rateLimited,
        paceEnd,
      };
    }),
  ).finally(async () => {
    status = await probe.stop();
  }));
  return { wallSec: (performance.now() - t0) / 1000, cpuSec: cpuSecSince(cpu0), loopDelay, status: status!, mailboxes };
}

export interface BackfillSpec {
  label: string;
  model: 'legacy' | '2026';
  mailboxes: number;
  messagesPerMailbox: number;
  latencyMs: { min: number; max: number };
  seed: string;
  fixtures: boolean;
  workDir: string;
  keep: boolean;
  /** Extra service environment (the fetch strategy, for the side-by-side stage). */
  env?: Record<string, string>;
  /** Conversation lengths of the corpus (default mixed). */
  threads?: 'mixed' | 'long' | 'singles';
}

interface MailboxFigures {
  email: string;
  stored: number;
  units: number;
  captureUnits: number;
  calls: number;
  bytes: number;
  peakUnitsPerSecond: number;
  violations: MailboxStats['violations'];
  wallSec: number;
  captureSec: number;
  floorSec: number;
  rateLimited: number;
  paceEnd: number;
  status: string;
  error: string | null;
}

export interface BackfillResult {
  label: string;
  model: 'legacy' | '2026';
  budget: number;
  mailboxCount: number;
  messagesPerMailbox: number;
  latencyMs: { min: number; max: number };
  corpus: { delivered: number; distinct: number; setupSec: number };
  stored: number;
  distinctEmails: number;
  matched: number;
  attachments: { saved: number; tooLarge: number; failed: number; pending: number };
  wallSec: number;
  floorSec: number;
  ratio: number;
  captureWallSec: number;
  captureFloorSec: number;
  captureRatio: number;
  unitsPerMessage: number;
  captureUnitsPerMessage: number;
  callsPerMessage: number;
  bytesPerMessage: number;
  violations: number;
  peakUnitsPerSecond: number;
  rateLimitedAnswers: number;
  methods: Stats['methods'];
  perMailbox: MailboxFigures[];
  /** Pacing events the service logged: rate-limit answers, pace changes, retries. */
  events: Record<string, number>;
  loopDelay: LoopDelay;
  status: StatusLatency;
  cpuSec: number;
  emulatorCpuSec: number;
  problems: string[];
  /** Gmail threads by how many copies of theirs were stored (all mailboxes), e.g. {"1": 951, "2": 614, …, "5-6": 198}. */
  threadSizes: Record<string, number>;
  /** Copies whose email has attachment rows, and units per such copy is not separable: kept as counts. */
  copiesWithFiles: number;
  /** Units per copy no fetch plan can go below on this corpus (fetchFloorUnits), attachments included. */
  floorUnitsPerCopy: number;
}

/**
 * The fewest units any fetch plan could spend on what this run stored: every mailbox must
 * fetch its own copies (Gmail ids are per mailbox), so each of its Gmail threads costs the
 * cheaper of one messages.get per copy and one threads.get; each email's saved files are
 * fetched once across mailboxes, by the cheaper of one attachments.get per file and one raw
 * get; the listing, profile and history calls are counted as the run made them. Bodies Gmail
 * sends as attachment ids are left out, so the true floor is a little higher.
 */
export async function fetchFloorUnits(db: import('../lib/db/client.js').Db, model: 'legacy' | '2026', otherCalls: Partial<Record<string, { calls: number }>>): Promise<number> {
  const c = costTable(model);
  const threads = await all<{ n: number }>(db, 'SELECT count(*) AS n FROM email_mailbox_messages GROUP BY account_id, gmail_thread_id');
  const files = await all<{ n: number }>(db, "SELECT count(*) AS n FROM email_attachments WHERE state = 'saved' GROUP BY email_id");
  let units = 0;
  for (const t of threads) units += Math.min(t.n * c['messages.get'], c['threads.get']);
  for (const f of files) units += Math.min(f.n * c['messages.attachments.get'], c['messages.get']);
  for (const m of ['messages.list', 'getProfile', 'history.list'] as const) units += (otherCalls[m]?.calls ?? 0) * c[m];
  return units;
}

const SIZE_BUCKETS: [string, number, number][] = [
  ['1', 1, 1],
  ['2', 2, 2],
  ['3', 3, 3],
  ['4', 4, 4],
  ['5-6', 5, 6],
  ['7-9', 7, 9],
  ['10+', 10, Infinity],
];

export async function threadSizeHistogram(db: import('../lib/db/client.js').Db): Promise<Record<string, number>> {
  const rows = await all<{ size: number; n: number }>(
    db,
    'SELECT size, count(*) AS n FROM (SELECT count(*) AS size FROM email_mailbox_messages GROUP BY account_id, gmail_thread_id) GROUP BY size',
  );
  const out: Record<string, number> = Object.fromEntries(SIZE_BUCKETS.map(([k]) => [k, 0]));
  for (const r of rows) {
    const b = SIZE_BUCKETS.find(([, lo, hi]) => r.size >= lo && r.size <= hi);
    if (b) out[b[0]]! += r.n;
  }
  return out;
}

const PACING_EVENTS = ['gmail.rate_limited', 'gmail.pace_lowered', 'gmail.pace_raised', 'gmail.retry'];

export async function runBackfill(spec: BackfillSpec): Promise<BackfillResult> {
  const dir = path.join(spec.workDir, `backfill-${spec.model}-${spec.label.replace(/[^a-z0-9]+/gi, '-')}`);
  progress(`${spec.label}: generating ${spec.mailboxes} × ~${spec.messagesPerMailbox.toLocaleString('en-US')} messages in the emulator`);
  const emu = await startEmulatorProcess({
    quota: spec.model,
    latencyMs: spec.latencyMs,
    corpusSeed: spec.seed,
    partners: spec.mailboxes,
    messagesPerMailbox: spec.messagesPerMailbox,
    fixtures: spec.fixtures,
    ...(spec.threads ? { threads: spec.threads } : {}),
    dir: path.join(dir, 'emulator'),
  });
  const svc = await startService({ dataDir: path.join(dir, 'data'), emulator: emu, env: { CRM_GMAIL_QUOTA_COSTS: spec.model, ...spec.env } });
  try {
    const accounts = await enrolCorpus(svc, emu);
    const budget = svc.deps.config.gmail.rateUnitsSec;
    await emu.control.resetStats();
    const emuCpu0 = emu.cpuSec();
    progress(`${spec.label}: ${emu.delivered.toLocaleString('en-US')} copies delivered; backfilling ${accounts.length} mailboxes at ${budget} units/s each`);
    const batch = await syncInParallel(svc, accounts, { attachments: true });
    const stats = await emu.control.stats();
    const emulatorCpuSec = emu.cpuSec() - emuCpu0;

    const perMailbox = batch.mailboxes.map((m): MailboxFigures => {
      const s = stats.mailboxes[m.email.toLowerCase()];
      const units = s?.unitsTotal ?? 0;
      return {
        email: m.email,
        stored: m.stored,
        units,
        captureUnits: m.capture.quotaUnits,
        calls: Object.values(s?.calls ?? {}).reduce((a, b) => a + (b ?? 0), 0),
        bytes: s?.bytesSent ?? 0,
        peakUnitsPerSecond: s?.peakUnitsPerSecond ?? 0,
        violations: s?.violations ?? { rate: 0, concurrency: 0, bandwidth: 0, total: 0 },
        wallSec: m.wallSec,
        captureSec: m.captureSec,
        floorSec: units / budget,
        rateLimited: m.rateLimited,
        paceEnd: m.paceEnd,
        status: m.status,
        error: m.error,
      };
    });
    const sum = (f: (m: MailboxFigures) => number) => perMailbox.reduce((a, m) => a + f(m), 0);
    const stored = sum((m) => m.stored);
    const floorSec = Math.max(...perMailbox.map((m) => m.floorSec));
    const captureFloorSec = Math.max(...perMailbox.map((m) => m.captureUnits / budget));
    const captureWallSec = Math.max(...batch.mailboxes.map((m) => m.captureSec));
    const counts = (await one<{ emails: number; matched: number }>(
      svc.deps.db,
      'SELECT count(*) AS emails, coalesce(sum(is_matched), 0) AS matched FROM emails',
    ))!;
    const att = await all<{ state: string; n: number }>(svc.deps.db, 'SELECT state, count(*) AS n FROM email_attachments GROUP BY state');
    const attN = (state: string) => att.find((a) => a.state === state)?.n ?? 0;
    const result: BackfillResult = {
      label: spec.label,
      model: spec.model,
      budget,
      mailboxCount: accounts.length,
      messagesPerMailbox: spec.messagesPerMailbox,
      latencyMs: spec.latencyMs,
      corpus: { delivered: emu.delivered, distinct: emu.distinctMessages, setupSec: emu.setupSec },
      stored,
      distinctEmails: counts.emails,
      matched: counts.matched,
      attachments: { saved: attN('saved'), tooLarge: attN('too_large'), failed: attN('failed'), pending: attN('pending') },
      wallSec: batch.wallSec,
      floorSec,
      ratio: batch.wallSec / floorSec,
      captureWallSec,
      captureFloorSec,
      captureRatio: captureWallSec / captureFloorSec,
      unitsPerMessage: sum((m) => m.units) / stored,
      captureUnitsPerMessage: sum((m) => m.captureUnits) / stored,
      callsPerMessage: sum((m) => m.calls) / stored,
      bytesPerMessage: sum((m) => m.bytes) / stored,
      violations: stats.totals.violations,
      peakUnitsPerSecond: Math.max(...perMailbox.map((m) => m.peakUnitsPerSecond)),
      rateLimitedAnswers: sum((m) => m.rateLimited),
      methods: stats.methods,
      perMailbox,
      events: Object.fromEntries(PACING_EVENTS.map((e) => [e, svc.events.count(e)])),
      loopDelay: batch.loopDelay,
      status: batch.status,
      cpuSec: batch.cpuSec,
      emulatorCpuSec,
      problems: svc.events.problems.slice(-5),
      threadSizes: await threadSizeHistogram(svc.deps.db),
      floorUnitsPerCopy: (await fetchFloorUnits(svc.deps.db, spec.model, stats.methods as Partial<Record<string, { calls: number }>>)) / stored,
      copiesWithFiles:
        (await one<{ n: number }>(svc.deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages m WHERE EXISTS (SELECT 1 FROM email_attachments a WHERE a.email_id = m.email_id)'))?.n ?? 0,
    };
    progress(
      `${spec.label}: ${stored.toLocaleString('en-US')} copies in ${batch.wallSec.toFixed(1)} s; floor ${floorSec.toFixed(1)} s (×${result.ratio.toFixed(3)}); ` +
        `${result.unitsPerMessage.toFixed(2)} units/msg; ${result.violations} violations`,
    );
    return result;
  } finally {
    svc.close();
    await emu.stop();
    if (!spec.keep) rmSync(dir, { recursive: true, force: true });
  }
}
