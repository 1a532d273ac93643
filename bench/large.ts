// Stage "large": peak memory of a first backfill of 3 mailboxes, in parallel, whose matched
// mail includes messages of about 50 MB (several files just under the attachment cap, and
// files over it that must never be downloaded). Target: peak RSS ≤ 300 MB.
//
// The service runs in a child process of its own (bench/largeChild.ts): the kernel's peak RSS
// (getrusage) covers a process's whole life, and this process builds the big messages and
// may have run other stages before, so only a fresh process measures crm-gmail alone. The
// messages are built here from seeded AES-CTR streams, their sha256 noted, and handed to the
// emulator through its control API; the files the service saved are checked against them.
import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startEmulatorProcess, type RunningEmulator } from './emulator.js';
import { progress } from './measure.js';
import type { LargeChildResult, LargeChildSpec } from './largeChild.js';

const MB = 1024 * 1024;

/** One kind of large message: its files' sizes in bytes. */
interface Kind {
  name: string;
  files: number[];
}

/**
 * With the default cap (CRM_GMAIL_MAX_ATTACHMENT_MB = 50):
 *  - parts: 2 × 24 MB, ~65 MB as sent (base64): over the cap as a whole, so fetched file by file;
 *  - near-cap: one 48 MB file, the largest single download there can be;
 *  - raw: 2 × 16 MB, ~43 MB as sent: under the cap, so one format=raw fetch brings both;
 *  - over: 20 MB downloaded beside 56 MB over the cap, which must never be.
 */
const KINDS: Record<string, Kind> = {
  parts: { name: 'parts', files: [24 * MB, 24 * MB] },
  'near-cap': { name: 'near-cap', files: [48 * MB] },
  raw: { name: 'raw', files: [16 * MB, 16 * MB] },
  over: { name: 'over', files: [20 * MB, 56 * MB] },
};

/** Which mailboxes (indexes) receive each large message; a list of two or three is one email shared. */
export type LargePlan = { kind: keyof typeof KINDS; to: number[] }[];

export const LARGE_FULL: LargePlan = [
  { kind: 'parts', to: [0, 1] },
  { kind: 'parts', to: [2] },
  { kind: 'near-cap', to: [0] },
  { kind: 'near-cap', to: [1, 2] },
  { kind: 'raw', to: [0, 1, 2] },
  { kind: 'raw', to: [2] },
  { kind: 'over', to: [0, 2] },
  { kind: 'over', to: [1] },
];

export const LARGE_QUICK: LargePlan = [
  { kind: 'parts', to: [0, 1] },
  { kind: 'near-cap', to: [2] },
  { kind: 'raw', to: [1] },
  { kind: 'over', to: [0, 2] },
];

export interface LargeSpec {
  messagesPerMailbox: number;
  plan: LargePlan;
  latencyMs: { min: number; max: number };
  seed: string;
  workDir: string;
  keep: boolean;
}

interface BuiltFile {
  filename: string;
  size: number;
  sha256: string;
  overCap: boolean;
}

export interface LargeResult {
  mailboxCount: number;
  messagesPerMailbox: number;
  capBytes: number;
  targetMb: number;
  large: { messages: number; copies: number; bytes: number; copyBytes: number; kinds: Record<string, number> };
  files: {
    underCap: number;
    underCapBytes: number;
    overCap: number;
    overCapBytes: number;
    saved: number;
    savedBytes: number;
    /** Rows of the large messages by state (every copy's email has one row per file). */
    states: Record<string, number>;
  };
  /** Every file under the cap saved, its stored bytes hashing to what was built. */
  allSavedRight: boolean;
  /** Every file over the cap `too_large`, nothing of it on disk, and the emulator sent too few bytes to have carried one. */
  overCapNeverDownloaded: boolean;
  problems: string[];
  emulator: { bytesSent: number; bytesBound: number; attachmentsGet: number; messagesGet: number };
  child: LargeChildResult;
}

/** A deterministic, incompressible stream: AES-256-CTR over zeros, keyed by the seed and the file's name. */
function fileBytes(seed: string, name: string, size: number): Buffer {
  const key = createHash('sha256').update(`${seed}\0${name}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** Base64 in 76-character lines, as mail clients write it. */
function base64Lines(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n');
}

function buildMessage(opts: { from: string; to: string[]; subject: string; messageId: string; date: Date; text: string; files: { filename: string; bytes: Buffer }[] }): Buffer {
  const boundary = `=_large_${createHash('sha1').update(opts.messageId).digest('hex').slice(0, 16)}`;
  const head = [
    `From: ${opts.from}`,
    `To: ${opts.to.join(', ')}`,
    `Subject: ${opts.subject}`,
    `Date: ${opts.date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${opts.messageId}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    opts.text,
  ];
  const chunks: Buffer[] = [Buffer.from(head.join('\r\n') + '\r\n', 'utf8')];
  for (const f of opts.files) {
    chunks.push(
      Buffer.from(
        [
          `--${boundary}`,
          `Content-Type: application/octet-stream; name="${f.filename}"`,
          `Content-Disposition: attachment; filename="${f.filename}"`,
          'Content-Transfer-Encoding: base64',
          '',
          base64Lines(f.bytes),
          '',
        ].join('\r\n'),
        'latin1',
      ),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(chunks);
}

/** Build and deliver the large messages; answers the files by name. */
async function deliverLarge(emu: RunningEmulator, spec: LargeSpec): Promise<{ files: Map<string, BuiltFile>; copies: number; bytes: number; copyBytes: number }> {
  // Matched mail: from a contact of an investor in the imported directory.
  const contacts = emu.directory.flatMap((inv) => inv.contacts.flatMap((c) => c.emails.slice(0, 1).map((email) => ({ name: c.name, email }))));
  if (!contacts.length) throw new Error('the corpus directory has no contacts to send the large messages from');
  const files = new Map<string, BuiltFile>();
  const now = await emu.control.now();
  const cap = 50 * MB;
  let copies = 0;
  let bytes = 0;
  let copyBytes = 0;
  for (const [i, item] of spec.plan.entries()) {
    const kind = KINDS[item.kind]!;
    const from = contacts[(i * 7) % contacts.length]!;
    const to = item.to.map((k) => emu.mailboxes[k % emu.mailboxes.length]!);
    const built = kind.files.map((size, k) => {
      const filename = `large-${i + 1}-${kind.name}-${k + 1}.bin`;
      const b = fileBytes(spec.seed, filename, size);
      files.set(filename, { filename, size, sha256: createHash('sha256').update(b).digest('hex'), overCap: size > cap });
      return { filename, bytes: b };
    });
    const raw = buildMessage({
      from: `${from.name} <${from.email}>`,
      to,
      subject: `Data room export ${i + 1} (${kind.name})`,
      messageId: `large-${i + 1}.${spec.seed}@bench.invalid`,
      date: new Date(now - (i + 1) * 3_600_000),
      text: `Attached: ${built.map((b) => b.filename).join(', ')}.\r\n`,
      files: built,
    });
    await emu.control.deliver(raw, { to, internalDate: now - (i + 1) * 3_600_000 });
    copies += to.length;
    bytes += raw.length;
    copyBytes += raw.length * to.length;
  }
  return { files, copies, bytes, copyBytes };
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/** The measured process, started and waiting; `go()` lets it read its spec and run. */
function startChild(specPath: string, resultPath: string): { go: () => Promise<void>; abandon: () => void } {
  // BENCH_LARGE_NODE_ARGS passes flags to the measured process (e.g. --heap-prof) when looking into where memory goes.
  const extra = (process.env.BENCH_LARGE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', path.join(ROOT, 'bench', 'largeChild.ts'), specPath, resultPath], {
    cwd: ROOT,
    stdio: ['pipe', 'inherit', 'inherit'],
    env: { ...process.env },
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`the measured service process exited with ${signal ?? code}`))));
  });
  exited.catch(() => undefined);
  return {
    go: async () => {
      child.stdin!.end('go\n');
      await exited;
    },
    // Stdin closed without a word: the process exits instead of waiting for ever.
    abandon: () => {
      if (child.exitCode === null && !child.stdin!.writableEnded) child.stdin!.end();
    },
  };
}

export async function runLarge(spec: LargeSpec): Promise<LargeResult> {
  const dir = path.join(spec.workDir, 'large');
  progress(`large: generating 3 × ~${spec.messagesPerMailbox} messages in the emulator, then ${spec.plan.length} large messages`);
  const emu = await startEmulatorProcess({
    quota: 'legacy',
    latencyMs: spec.latencyMs,
    corpusSeed: spec.seed,
    partners: 3,
    messagesPerMailbox: spec.messagesPerMailbox,
    fixtures: false,
    dir: path.join(dir, 'emulator'),
  });
  const specPath = path.join(dir, 'child-spec.json');
  const resultPath = path.join(dir, 'child-result.json');
  // Forked now, while this process is small: Linux carries a parent's peak RSS into the child's getrusage.
  const measured = startChild(specPath, resultPath);
  try {
    const delivered = await deliverLarge(emu, spec);
    const corpusBytes = (await Promise.all(emu.mailboxes.map((m) => emu.control.messages(m)))).flat().reduce((a, m) => a + m.sizeEstimate, 0) - delivered.copyBytes;
    await emu.control.resetStats();
    progress(`large: ${delivered.copies} copies of ${spec.plan.length} large messages delivered (${(delivered.copyBytes / MB).toFixed(0)} MB); backfilling in a fresh process`);
    const dataDir = path.join(dir, 'data');
    const childSpec: LargeChildSpec = {
      dataDir,
      emulator: { url: emu.url, tokenUrl: emu.tokenUrl, keyPath: emu.keyPath, firmDomain: emu.firmDomain, mailboxes: emu.mailboxes, directory: emu.directory },
      largeFilenames: [...delivered.files.keys()],
    };
    writeFileSync(specPath, JSON.stringify(childSpec));
    await measured.go();
    const child = JSON.parse(readFileSync(resultPath, 'utf8')) as LargeChildResult;
    const stats = await emu.control.stats();

    // Checks against the bytes built here.
    const problems: string[] = [];
    const states: Record<string, number> = {};
    const built = [...delivered.files.values()];
    const under = built.filter((f) => !f.overCap);
    const over = built.filter((f) => f.overCap);
    const savedFiles = new Map<string, string>();
    for (const r of child.rows) {
      states[r.state] = (states[r.state] ?? 0) + 1;
      const want = delivered.files.get(r.filename ?? '');
      if (!want) continue;
      if (want.overCap) {
        if (r.state !== 'too_large') problems.push(`${r.filename} (over the cap) is ${r.state}`);
        if (r.sha256 || r.storage_path) problems.push(`${r.filename} (over the cap) names a stored file`);
      } else if (r.state !== 'saved') problems.push(`${r.filename} is ${r.state}${r.error ? `: ${r.error}` : ''}`);
      else if (r.sha256 !== want.sha256) problems.push(`${r.filename} saved with sha256 ${r.sha256}, built ${want.sha256}`);
      else if (r.storage_path) savedFiles.set(r.storage_path, want.sha256);
    }
    for (const f of under) if (!child.rows.some((r) => r.filename === f.filename)) problems.push(`${f.filename} has no attachment row`);
    let savedBytes = 0;
    for (const [rel, sha] of savedFiles) {
      const onDisk = await sha256File(path.join(dataDir, rel)).catch((e: unknown) => `unreadable (${String(e)})`);
      if (onDisk !== sha) problems.push(`${rel} on disk hashes to ${onDisk}`);
      savedBytes += under.find((f) => f.sha256 === sha)?.size ?? 0;
    }
    const onDiskShas = new Set(child.storedShas);
    for (const f of over) if (onDiskShas.has(f.sha256)) problems.push(`${f.filename} (over the cap) is on disk`);
    // Every under-cap file of every copy, as base64 (4/3), and the rest of the corpus twice over
    // (full answers carry JSON and base64url besides the bytes) bound what the emulator could
    // send without carrying an over-cap file; the smallest over-cap file would not fit in the slack.
    const underWire = spec.plan.reduce((a, item) => a + KINDS[item.kind]!.files.filter((s) => s <= 50 * MB).reduce((x, s) => x + s, 0) * item.to.length, 0) * (4 / 3) * 1.02;
    const bytesBound = underWire + 2 * corpusBytes + 5 * MB;
    const bytesSent = stats.totals.bytesSent;
    const overMin = Math.min(...over.map((f) => f.size));
    if (over.length && bytesSent >= bytesBound + overMin * (4 / 3)) problems.push(`the emulator sent ${(bytesSent / MB).toFixed(0)} MB, enough to have carried a file over the cap`);
    const allSavedRight = under.length > 0 && !problems.some((p) => !/over the cap|enough to have carried/.test(p));
    const overCapNeverDownloaded = !problems.some((p) => /over the cap|enough to have carried/.test(p));
    const kinds: Record<string, number> = {};
    for (const item of spec.plan) kinds[item.kind] = (kinds[item.kind] ?? 0) + 1;
    const result: LargeResult = {
      mailboxCount: emu.mailboxes.length,
      messagesPerMailbox: spec.messagesPerMailbox,
      capBytes: child.capBytes,
      targetMb: 300,
      large: { messages: spec.plan.length, copies: delivered.copies, bytes: delivered.bytes, copyBytes: delivered.copyBytes, kinds },
      files: {
        underCap: under.length,
        underCapBytes: under.reduce((a, f) => a + f.size, 0),
        overCap: over.length,
        overCapBytes: over.reduce((a, f) => a + f.size, 0),
        saved: savedFiles.size,
        savedBytes,
        states,
      },
      allSavedRight,
      overCapNeverDownloaded,
      problems: [...problems, ...child.problems].slice(0, 20),
      emulator: {
        bytesSent,
        bytesBound,
        attachmentsGet: stats.methods['messages.attachments.get']?.calls ?? 0,
        messagesGet: stats.methods['messages.get']?.calls ?? 0,
      },
      child,
    };
    progress(
      `large: peak RSS ${child.peakRssMb.toFixed(0)} MB sampled / ${child.maxRssMb.toFixed(0)} MB kernel (start ${child.rssStartMb.toFixed(0)} MB); ` +
        `${savedFiles.size}/${under.length} files saved right: ${allSavedRight}; over the cap never downloaded: ${overCapNeverDownloaded}; ${child.wallSec.toFixed(1)} s`,
    );
    return result;
  } finally {
    measured.abandon();
    await emu.stop();
    if (!spec.keep) rmSync(dir, { recursive: true, force: true });
  }
}
