// The Gmail emulator in its own process, so that the CPU and memory the benchmark reads
// from its own process are crm-gmail's alone. Driven through the control API over HTTP.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '../tools/gmail-emulator/index.js';
import type { ImportInvestor } from '../tools/corpus/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'tools', 'gmail-emulator', 'cli.ts');

interface EmulatorSpec {
  quota: 'legacy' | '2026';
  /** No quota at all: budgets and concurrency far above anything a client sends. */
  unlimited?: boolean;
  latencyMs?: { min: number; max: number };
  corpusSeed: string;
  partners: number;
  messagesPerMailbox: number;
  /** Conversation lengths of the corpus (default mixed). */
  threads?: 'mixed' | 'long' | 'singles';
  /** The real-world messages of test/fixtures/eml in the first mailbox (odd encodings, broken headers). */
  fixtures: boolean;
  /** Where the service-account key and the directory are written. */
  dir: string;
}

export interface RunningEmulator {
  url: string;
  tokenUrl: string;
  control: ControlClient;
  mailboxes: string[];
  firmDomain: string;
  delivered: number;
  distinctMessages: number;
  keyPath: string;
  directory: ImportInvestor[];
  /** Seconds the emulator took to generate and deliver the corpus. */
  setupSec: number;
  /** CPU seconds (user + system) the emulator process has used so far. */
  cpuSec(): number;
  stop(): Promise<void>;
}

interface CliAnswer {
  url: string;
  tokenUrl: string;
  corpus: { firmDomain: string; mailboxes: string[]; delivered: number; distinctMessages: number };
}

export async function startEmulatorProcess(spec: EmulatorSpec): Promise<RunningEmulator> {
  mkdirSync(spec.dir, { recursive: true });
  const keyPath = path.join(spec.dir, 'sa.json');
  const directoryPath = path.join(spec.dir, 'directory.json');
  const args = [
    '--import',
    'tsx',
    CLI,
    '--json',
    '--seed',
    `${spec.corpusSeed}-emulator`,
    '--quota',
    spec.quota,
    '--corpus',
    spec.corpusSeed,
    '--partners',
    String(spec.partners),
    '--messages-per-mailbox',
    String(spec.messagesPerMailbox),
    '--service-account-out',
    keyPath,
    '--directory-out',
    directoryPath,
  ];
  if (!spec.fixtures) args.push('--no-fixtures');
  if (spec.threads) args.push('--threads', spec.threads);
  if (spec.unlimited) args.push('--units-per-second', '1000000000', '--units-per-minute', '1000000000000', '--concurrency', '1000');
  if (spec.latencyMs) args.push('--latency', `${spec.latencyMs.min}-${spec.latencyMs.max}`);

  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  const answer = await firstLine(child);
  const setupSec = (performance.now() - started) / 1000;
  const pid = child.pid!;
  const ticks = clockTicks();
  return {
    url: answer.url,
    tokenUrl: answer.tokenUrl,
    control: new ControlClient(answer.url),
    mailboxes: answer.corpus.mailboxes,
    firmDomain: answer.corpus.firmDomain,
    delivered: answer.corpus.delivered,
    distinctMessages: answer.corpus.distinctMessages,
    keyPath,
    directory: JSON.parse(readFileSync(directoryPath, 'utf8')) as ImportInvestor[],
    setupSec,
    cpuSec: () => processCpuSec(pid, ticks),
    stop: () => stopChild(child),
  };
}

function firstLine(child: ChildProcess): Promise<CliAnswer> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onExit = (code: number | null) => reject(new Error(`the Gmail emulator exited (${code}) before it was ready:\n${err}`));
    child.once('exit', onExit);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 20_000) err = err.slice(-20_000);
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.off('exit', onExit);
      try {
        resolve(JSON.parse(out.slice(0, nl)) as CliAnswer);
      } catch (e) {
        reject(new Error(`the Gmail emulator printed something other than its JSON line: ${out.slice(0, 500)} (${String(e)})`));
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Linux reports process times in clock ticks (CLK_TCK, nearly always 100 per second). */
function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

function processCpuSec(pid: number, ticksPerSec: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSec;
  } catch {
    return Number.NaN;
  }
}
