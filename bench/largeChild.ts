// The measured process of the "large" stage (bench/large.ts): the real service in a fresh
// Node process, enrolling the emulator's mailboxes and backfilling them in parallel with the
// production hooks (attachments included), while its memory is sampled. Writes its figures
// as JSON to the path given; the parent checks the files against the bytes it built.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { all } from '../lib/db/client.js';
import { syncInParallel } from './backfill.js';
import type { RunningEmulator } from './emulator.js';
import { enrolCorpus, startService } from './service.js';

const MB = 1024 * 1024;
/** Every 150 ms: inside the 100–250 ms the target asks for, cheap next to the sync. */
const SAMPLE_MS = 150;

export interface LargeChildSpec {
  dataDir: string;
  emulator: Pick<RunningEmulator, 'url' | 'tokenUrl' | 'keyPath' | 'firmDomain' | 'mailboxes' | 'directory'>;
  largeFilenames: string[];
}

export interface MemorySample {
  sec: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** The kernel's peak so far: a jump between two samples is a spike the sampling missed. */
  maxRssMb: number;
}

export interface LargeChildResult {
  capBytes: number;
  rssStartMb: number;
  peakRssMb: number;
  /**
   * The kernel's peak RSS of this process: VmHWM, the high-water mark of its address space.
   * getrusage's ru_maxrss (maxRssRusageMb) is kept too, but Linux carries the parent's peak
   * into it across fork and exec, so it is only as clean as the parent was small at spawn.
   */
  maxRssMb: number;
  maxRssRusageMb: number;
  /** The sample with the highest RSS, with its parts. */
  atPeak: MemorySample;
  /** Highest of each part over the run (not necessarily at the same moment). */
  peaks: { heapUsedMb: number; heapTotalMb: number; externalMb: number; arrayBuffersMb: number };
  samples: number;
  /** Ten samples spread over the run, for the report. */
  timeline: MemorySample[];
  wallSec: number;
  cpuSec: number;
  mailboxes: { email: string; status: string; error: string | null; stored: number; wallSec: number }[];
  rows: { filename: string | null; state: string; sha256: string | null; storage_path: string | null; error: string | null; size: number | null }[];
  storedShas: string[];
  problems: string[];
}

function vmHwmMb(): number {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    if (line) return Number(line.replace(/\D+/g, '')) / 1024;
  } catch {
    // Not Linux: getrusage is all there is.
  }
  return (process.resourceUsage().maxRSS * 1024) / MB;
}

function sample(t0: number): MemorySample {
  const m = process.memoryUsage();
  return {
    sec: (performance.now() - t0) / 1000,
    rssMb: m.rss / MB,
    heapUsedMb: m.heapUsed / MB,
    heapTotalMb: m.heapTotal / MB,
    externalMb: m.external / MB,
    arrayBuffersMb: m.arrayBuffers / MB,
    maxRssMb: vmHwmMb(),
  };
}

async function main(): Promise<void> {
  const [specPath, resultPath] = process.argv.slice(2);
  if (!specPath || !resultPath) throw new Error('usage: largeChild.ts SPEC.json RESULT.json');
  // Started before the parent builds the large messages (so the parent is small when this
  // process is forked), and told to go once they are delivered and the spec is written.
  await new Promise<void>((resolve, reject) => {
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => reject(new Error('the parent closed stdin before saying go')));
  });
  process.stdin.pause();
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as LargeChildSpec;
  const svc = await startService({ dataDir: spec.dataDir, emulator: spec.emulator as RunningEmulator, env: { CRM_GMAIL_QUOTA_COSTS: 'legacy' } });
  try {
    const accounts = await enrolCorpus(svc, spec.emulator as RunningEmulator);
    const t0 = performance.now();
    const samples: MemorySample[] = [sample(t0)];
    const timer = setInterval(() => samples.push(sample(t0)), SAMPLE_MS);
    let batch;
    try {
      batch = await syncInParallel(svc, accounts, { attachments: true });
    } finally {
      clearInterval(timer);
      samples.push(sample(t0));
    }
    const maxRssMb = vmHwmMb();
    const maxRssRusageMb = (process.resourceUsage().maxRSS * 1024) / MB;
    const atPeak = samples.reduce((a, b) => (b.rssMb > a.rssMb ? b : a));
    const peak = (k: keyof MemorySample) => Math.max(...samples.map((s) => s[k]));
    const marks = spec.largeFilenames.map(() => '?').join(',');
    const rows = await all<LargeChildResult['rows'][number]>(
      svc.deps.db,
      `SELECT filename, state, sha256, storage_path, error, size FROM email_attachments WHERE filename IN (${marks}) ORDER BY filename`,
      spec.largeFilenames,
    );
    const root = path.join(spec.dataDir, 'attachments');
    const storedShas: string[] = [];
    for (const d of (() => {
      try {
        return readdirSync(root);
      } catch {
        return [];
      }
    })()) {
      for (const name of readdirSync(path.join(root, d))) if (/^[0-9a-f]{64}$/.test(name)) storedShas.push(name);
    }
    const step = Math.max(1, Math.floor(samples.length / 10));
    if (process.env.BENCH_LARGE_SAMPLES) writeFileSync(process.env.BENCH_LARGE_SAMPLES, JSON.stringify(samples));
    const result: LargeChildResult = {
      capBytes: svc.deps.config.gmail.maxAttachmentBytes,
      rssStartMb: samples[0]!.rssMb,
      peakRssMb: atPeak.rssMb,
      maxRssMb,
      maxRssRusageMb,
      atPeak,
      peaks: { heapUsedMb: peak('heapUsedMb'), heapTotalMb: peak('heapTotalMb'), externalMb: peak('externalMb'), arrayBuffersMb: peak('arrayBuffersMb') },
      samples: samples.length,
      timeline: [...samples.filter((_, i) => i % step === 0), samples[samples.length - 1]!],
      wallSec: batch.wallSec,
      cpuSec: batch.cpuSec,
      mailboxes: batch.mailboxes.map((m) => ({ email: m.email, status: m.status, error: m.error, stored: m.stored, wallSec: m.wallSec })),
      rows,
      storedShas,
      problems: svc.events.problems.slice(-5),
    };
    writeFileSync(resultPath, JSON.stringify(result));
  } finally {
    svc.close();
  }
}

main().then(
  // Open handles (the libSQL pool, keep-alive sockets) must not keep the finished process alive.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`large (measured process): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
