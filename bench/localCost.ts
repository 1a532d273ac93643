// Stage 2: what crm-gmail itself costs per message — CPU and memory — with Gmail taken out of
// the way: one large mailbox, no latency, no quota at the emulator, and the client's budget
// lifted (see ServiceOptions.rateUnitsSecOverride). The emulator runs in its own process, so
// this process's CPU time and RSS are the service's alone.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { one } from '../lib/db/client.js';
import type { SyncHooks } from '../lib/capture/sync.js';
import { beginAccountSync, defaultHooks } from '../lib/capture/syncRunner.js';
import { startEmulatorProcess } from './emulator.js';
import { watchLoop, type LoopDelay } from './backfill.js';
import { cpuSecSince, progress, slope } from './measure.js';
import { enrolCorpus, startService } from './service.js';

interface LocalCostSpec {
  messages: number;
  seed: string;
  fixtures: boolean;
  workDir: string;
  keep: boolean;
}

interface RssSample {
  sec: number;
  stored: number;
  rssMb: number;
  heapMb: number;
  /** V8's reserved heap: what the JS heap holds in RSS, garbage not yet collected included. */
  heapTotalMb: number;
  /** Memory outside the JS heap that JS objects own (Buffers, strings handed to native code). */
  externalMb: number;
}

export interface LocalCostResult {
  messagesPerMailbox: number;
  corpus: { delivered: number; setupSec: number };
  stored: number;
  matched: number;
  attachmentsSaved: number;
  wallSec: number;
  cpuSec: number;
  captureCpuSec: number;
  captureWallSec: number;
  cpuMsPerMessage: number;
  captureCpuMsPerMessage: number;
  /** Messages per CPU second of this process: the rate local processing alone allows. */
  localMessagesPerSec: number;
  /** Messages per second of wall time (bounded by the emulator, which shares the machine). */
  wallMessagesPerSec: number;
  emulatorCpuSec: number;
  peakRssMb: number;
  /** The process's peak RSS as the kernel saw it (covers moments between samples). */
  maxRssMb: number;
  rssStartMb: number;
  /** RSS growth per 10,000 messages stored, fitted over the samples after the first tenth. */
  rssSlopeMbPer10k: number;
  /** Event-loop lateness during the sync: how long the loop was held by synchronous work. */
  loopDelay: LoopDelay;
  samples: RssSample[];
  calls: number;
  units: number;
  status: string;
  error: string | null;
}

const MB = 1024 * 1024;

export async function runLocalCost(spec: LocalCostSpec): Promise<LocalCostResult> {
  const dir = path.join(spec.workDir, 'local');
  progress(`local cost: generating one mailbox of ~${spec.messages.toLocaleString('en-US')} messages in the emulator`);
  const emu = await startEmulatorProcess({
    quota: 'legacy',
    unlimited: true,
    corpusSeed: spec.seed,
    partners: 1,
    messagesPerMailbox: spec.messages,
    fixtures: spec.fixtures,
    dir: path.join(dir, 'emulator'),
  });
  const svc = await startService({ dataDir: path.join(dir, 'data'), emulator: emu, rateUnitsSecOverride: 1_000_000_000 });
  try {
    const [account] = await enrolCorpus(svc, emu);
    const { deps } = svc;
    progress(`local cost: ${emu.delivered.toLocaleString('en-US')} messages delivered in ${emu.setupSec.toFixed(0)} s; syncing`);

    let captureCpu: number | undefined;
    let captureEnd: number | undefined;
    const cpu0 = process.cpuUsage();
    const emuCpu0 = emu.cpuSec();
    const hooks: SyncHooks = {
      afterSync: async (d, gmail, acc, runId) => {
        captureCpu = cpuSecSince(cpu0);
        captureEnd = performance.now();
        return defaultHooks.afterSync!(d, gmail, acc, runId);
      },
    };
    const begun = await beginAccountSync(deps, account!, hooks);
    if (!begun.go) throw new Error('the mailbox was already syncing');
    const runId = begun.run.id;

    const t0 = performance.now();
    const samples: RssSample[] = [];
    const sample = async () => {
      const row = await one<{ n: number }>(deps.db, 'SELECT messages_stored AS n FROM email_sync_runs WHERE id = ?', [runId]);
      const mem = process.memoryUsage();
      samples.push({ sec: (performance.now() - t0) / 1000, stored: row?.n ?? 0, rssMb: mem.rss / MB, heapMb: mem.heapUsed / MB, heapTotalMb: mem.heapTotal / MB, externalMb: mem.external / MB });
    };
    await sample();
    let sampling = Promise.resolve();
    const timer = setInterval(() => {
      sampling = sampling.then(sample, () => undefined);
    }, 1000);
    let summary;
    let loopDelay;
    try {
      ({ value: summary, loopDelay } = await watchLoop(() => begun.go!()));
    } finally {
      clearInterval(timer);
      await sampling;
    }
    const wallSec = (performance.now() - t0) / 1000;
    const cpuSec = cpuSecSince(cpu0);
    const emulatorCpuSec = emu.cpuSec() - emuCpu0;
    await sample();
    const maxRssMb = (process.resourceUsage().maxRSS * 1024) / MB;

    const counts = (await one<{ stored: number; matched: number; saved: number }>(
      deps.db,
      `SELECT (SELECT count(*) FROM email_mailbox_messages) AS stored,
              (SELECT count(*) FROM emails WHERE is_matched = 1) AS matched,
              (SELECT count(*) FROM email_attachments WHERE state = 'saved') AS saved`,
    ))!;
    const run = await one<{ http_calls: number; quota_units: number }>(deps.db, 'SELECT http_calls, quota_units FROM email_sync_runs WHERE id = ?', [runId]);
    const stored = counts.stored;
    const fitted = samples.filter((s) => s.stored >= stored * 0.1).map((s) => ({ x: s.stored / 10_000, y: s.rssMb }));
    const result: LocalCostResult = {
      messagesPerMailbox: spec.messages,
      corpus: { delivered: emu.delivered, setupSec: emu.setupSec },
      stored,
      matched: counts.matched,
      attachmentsSaved: counts.saved,
      wallSec,
      cpuSec,
      captureCpuSec: captureCpu ?? cpuSec,
      captureWallSec: ((captureEnd ?? performance.now()) - t0) / 1000,
      cpuMsPerMessage: (cpuSec * 1000) / stored,
      captureCpuMsPerMessage: ((captureCpu ?? cpuSec) * 1000) / stored,
      localMessagesPerSec: stored / cpuSec,
      wallMessagesPerSec: stored / wallSec,
      emulatorCpuSec,
      peakRssMb: Math.max(...samples.map((s) => s.rssMb)),
      maxRssMb,
      rssStartMb: samples[0]!.rssMb,
      rssSlopeMbPer10k: slope(fitted),
      loopDelay,
      samples,
      calls: run?.http_calls ?? 0,
      units: run?.quota_units ?? 0,
      status: summary.status,
      error: summary.error,
    };
    progress(
      `local cost: ${stored.toLocaleString('en-US')} messages, ${result.cpuMsPerMessage.toFixed(3)} CPU ms/msg, ` +
        `${result.localMessagesPerSec.toFixed(0)} msg/CPU-s, peak RSS ${result.peakRssMb.toFixed(0)} MB`,
    );
    return result;
  } finally {
    svc.close();
    await emu.stop();
    if (!spec.keep) rmSync(dir, { recursive: true, force: true });
  }
}
