// Turns the stages' results into the Markdown that docs/performance.md carries between its
// markers: the machine, the sizes, a summary with every figure beside its target, then details.
import type { BackfillResult } from './backfill.js';
import type { FetchComparison } from './fetch.js';
import type { LargeResult } from './large.js';
import type { LocalCostResult } from './localCost.js';
import type { NaiveResult } from './naive.js';
import type { StoreSizeResult } from './storeSize.js';

export interface Machine {
  date: string;
  commit: string;
  dirty: boolean;
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
  os: string;
}

export interface BenchResults {
  quick: boolean;
  machine: Machine;
  totalSec: number;
  local?: LocalCostResult;
  backfill: BackfillResult[];
  fetch: FetchComparison[];
  naive?: NaiveResult;
  store?: StoreSizeResult;
  large?: LargeResult;
  failures: { stage: string; error: string }[];
}

export const START_MARK = '<!-- bench:results:start -->';
export const END_MARK = '<!-- bench:results:end -->';

const n0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const sec = (x: number) => (Number.isFinite(x) ? (x >= 120 ? `${f(x, 0)} s (${f(x / 60, 1)} min)` : `${f(x, 1)} s`) : '—');
const kib = (bytes: number) => `${f(bytes / 1024, 1)} KiB`;
const mib = (bytes: number) => `${f(bytes / 1024 / 1024, 0)} MiB`;

type Verdict = 'met' | 'missed' | '';

function verdict(ok: boolean | null): Verdict {
  return ok === null ? '' : ok ? 'met' : 'missed';
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderResults(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`## Results${r.quick ? ' (quick run: small sizes, not the reference figures)' : ''}`);
  out.push('');
  out.push(
    `Measured ${m.date} on commit \`${m.commit.slice(0, 12)}\`${m.dirty ? ' (with uncommitted changes in the working tree)' : ''}: ` +
      `${m.cpu}, ${m.cores} cores, ${f(m.ramGiB, 1)} GiB RAM, Node ${m.node}, ${m.os}. ` +
      `The whole run took ${sec(r.totalSec)}. Written by \`npm run bench${r.quick ? ' -- --quick' : ''}\`.`,
  );
  out.push('');
  out.push(sizes(r));
  out.push('');
  out.push('### Summary');
  out.push('');
  out.push(summary(r));
  if (r.failures.length) {
    out.push('');
    out.push('**Stages that did not complete:**');
    out.push('');
    for (const x of r.failures) out.push(`- ${x.stage}: ${x.error.replace(/\n/g, ' ')}`);
  }
  if (r.backfill.length) out.push('', backfillDetails(r.backfill));
  if (r.fetch?.length) out.push('', fetchDetails(r.fetch));
  if (r.local) out.push('', localDetails(r.local));
  if (r.store) out.push('', storeDetails(r.store));
  if (r.naive) out.push('', naiveDetails(r.naive));
  if (r.large) out.push('', largeDetails(r.large));
  return out.join('\n');
}

function sizes(r: BenchResults): string {
  const lines = ['Sizes used:', ''];
  for (const b of r.backfill) {
    lines.push(
      `- Backfill, ${b.label}: ${b.mailboxCount} mailboxes × about ${n0(b.messagesPerMailbox)} messages ` +
        `(${n0(b.stored)} copies stored, ${n0(b.distinctEmails)} distinct emails), latency ${b.latencyMs.min}–${b.latencyMs.max} ms, quota enforced by the emulator, client budget ${b.budget} units/s per mailbox` +
        (b.model === '2026' ? `. Smaller than the legacy run on purpose: at 5 messages/s, 10,000 messages per mailbox would take over half an hour.` : '.'),
    );
  }
  if (r.local) lines.push(`- Local cost: one mailbox of about ${n0(r.local.messagesPerMailbox)} messages (${n0(r.local.stored)} stored), no latency, no quota.`);
  if (r.store) {
    lines.push(
      `- Store: ${n0(r.store.generated.emails)} emails in ${n0(r.store.generated.threads)} threads, ${n0(r.store.shape.contacts)} contacts at ${n0(r.store.shape.investors)} investors, generated with SQL batches.`,
    );
  }
  if (r.large) {
    const g = r.large;
    lines.push(
      `- Large messages: ${g.mailboxCount} mailboxes × about ${n0(g.messagesPerMailbox)} messages plus ${g.large.messages} large messages ` +
        `(${g.large.copies} copies, ${mib(g.large.copyBytes)} as delivered) from directory contacts, attachment cap ${mib(g.capBytes)}, legacy quota, latency 40–80 ms.`,
    );
  }
  if (r.naive) lines.push(`- Naive baseline: one mailbox of about ${n0(r.naive.messagesPerMailbox)} messages, latency ${r.naive.latencyMs.min}–${r.naive.latencyMs.max} ms, legacy quota.`);
  return lines.join('\n');
}

function summary(r: BenchResults): string {
  const rows: (string | number)[][] = [];
  for (const b of r.backfill) {
    const legacy = b.model === 'legacy';
    rows.push([`Backfill ${b.label}: wall time ÷ quota floor`, `${f(b.ratio, 3)} (${sec(b.wallSec)} ÷ ${sec(b.floorSec)})`, '≤ 1.1', verdict(b.ratio <= 1.1)]);
    rows.push([
      `Backfill ${b.label}: quota units per stored message (capture)`,
      f(b.captureUnitsPerMessage, 3),
      legacy ? '≤ 5.1' : '— (one messages.get is 20)',
      verdict(legacy ? b.captureUnitsPerMessage <= 5.1 : null),
    ]);
    rows.push([`Backfill ${b.label}: quota units per stored message, attachment downloads included`, f(b.unitsPerMessage, 3), '—', '']);
    rows.push([`Backfill ${b.label}: HTTP calls per stored message`, f(b.callsPerMessage, 3), '—', '']);
    rows.push([`Backfill ${b.label}: bytes downloaded per stored message`, kib(b.bytesPerMessage), '—', '']);
    rows.push([`Backfill ${b.label}: pacing violations`, n0(b.violations), '0', verdict(b.violations === 0)]);
    rows.push([`Backfill ${b.label}: peak units in any second (one mailbox)`, n0(b.peakUnitsPerSecond), `≤ ${b.budget}`, verdict(b.peakUnitsPerSecond <= b.budget)]);
    rows.push([
      `Backfill ${b.label}: event-loop delay p99 / max`,
      `${f(b.loopDelay.p99Ms, 0)} / ${f(b.loopDelay.maxMs, 0)} ms`,
      '≤ 20 / ≤ 100 ms',
      verdict(b.loopDelay.p99Ms <= 20 && b.loopDelay.maxMs <= 100),
    ]);
    if (b.status) {
      rows.push([
        `Backfill ${b.label}: GET /api/email/status during the sync, p50 / p99 / max (${n0(b.status.requests)} requests)`,
        `${f(b.status.p50Ms, 1)} / ${f(b.status.p99Ms, 1)} / ${f(b.status.maxMs, 1)} ms${b.status.failed ? `, ${n0(b.status.failed)} failed` : ''}`,
        'p99 ≤ 50 ms',
        verdict(b.status.p99Ms <= 50 && b.status.failed === 0),
      ]);
    }
  }
  const l = r.local;
  if (l) {
    rows.push(['Local: CPU per message (parse, match and store, HTTP client included)', `${f(l.cpuMsPerMessage, 3)} ms`, '≤ 0.5 ms', verdict(l.cpuMsPerMessage <= 0.5)]);
    rows.push(['Local: messages per second of local processing (per CPU second)', n0(l.localMessagesPerSec), '≥ 2,000/s', verdict(l.localMessagesPerSec >= 2000)]);
    rows.push([
      `Local: peak RSS over ${n0(l.stored)} messages (sampled every second / kernel peak)`,
      `${f(l.peakRssMb, 0)} / ${f(l.maxRssMb, 0)} MB`,
      '≤ 250 MB',
      verdict(l.stored >= 100_000 * 0.9 ? Math.max(l.peakRssMb, l.maxRssMb) <= 250 : null),
    ]);
    rows.push([
      'Local: RSS growth with messages stored',
      `${f(l.rssSlopeMbPer10k, 2)} MB per 10,000 messages`,
      'flat',
      verdict(Math.abs(l.rssSlopeMbPer10k * (l.stored / 10_000)) <= 0.1 * l.peakRssMb),
    ]);
  }
  const s = r.store;
  if (s) {
    rows.push([`Store: threads of an investor, p50 / p95 (${s.threadsByInvestor.n} investors)`, `${f(s.threadsByInvestor.p50, 2)} / ${f(s.threadsByInvestor.p95, 2)} ms`, 'p95 ≤ 20 ms', verdict(s.threadsByInvestor.p95 <= 20)]);
    const big = s.largest[0];
    if (big) {
      rows.push([
        `Store: threads of the largest investor (${n0(big.linkedEmails)} linked emails), first page`,
        `${f(big.firstPageMs, 1)} ms`,
        '≤ 20 ms',
        verdict(big.firstPageMs <= 20),
      ]);
    }
    rows.push([`Store: status counts, p50 / p95 (first call ${f(s.statusCold, 1)} ms)`, `${f(s.status.p50, 1)} / ${f(s.status.p95, 1)} ms`, '≤ 50 ms', verdict(s.status.p95 <= 50)]);
    rows.push(['Store: rematch of everything, directory unchanged', sec(s.rematchSteady.sec), '≤ 60 s', verdict(s.rematchSteady.sec <= 60)]);
    rows.push([`Store: rematch of everything after ${s.rematchAfterChange.contactsAdded} new contacts`, sec(s.rematchAfterChange.sec), '≤ 60 s', verdict(s.rematchAfterChange.sec <= 60)]);
    rows.push(['Store: database size per email', kib(s.bytesPerEmail), '—', '']);
  }
  const g = r.large;
  if (g) {
    const c = g.child;
    rows.push([
      `Large messages: peak RSS, 3 mailboxes in parallel (sampled every 150 ms / kernel peak)`,
      `${f(c.peakRssMb, 0)} / ${f(c.maxRssMb, 0)} MB`,
      `≤ ${g.targetMb} MB`,
      verdict(Math.max(c.peakRssMb, c.maxRssMb) <= g.targetMb),
    ]);
    rows.push(['Large messages: every file under the cap saved, sha256 as built', `${n0(g.files.saved)} of ${n0(g.files.underCap)}`, 'all', verdict(g.allSavedRight)]);
    rows.push(['Large messages: files over the cap `too_large`, never downloaded', g.overCapNeverDownloaded ? 'yes' : 'no', 'yes', verdict(g.overCapNeverDownloaded)]);
  }
  const nv = r.naive;
  if (nv) {
    rows.push(['Naive baseline: its wall time ÷ ours', `${f(nv.ratio, 2)} (${sec(nv.naive.wallSec)} vs ${sec(nv.ours.wallSec)})`, '—', '']);
  }
  return table(['Figure', 'Result', 'Target', ''], rows);
}

function backfillDetails(list: BackfillResult[]): string {
  const out = ['### 1. Backfill against the quota floor', ''];
  out.push(
    'The mailboxes are synced in parallel the way `syncAll` starts them (`beginAccountSync` per mailbox, production hooks: ' +
      'list, fetch, store, history catch-up, then attachment downloads). The floor is the units a mailbox was charged ÷ its budget, ' +
      'for the slowest mailbox. "Capture" is everything before the attachment step. Calls, units, bytes, peaks and violations are ' +
      "the emulator's own books.",
  );
  for (const b of list) {
    out.push('');
    out.push(`#### ${b.label}: ${b.mailboxCount} × ~${n0(b.messagesPerMailbox)} messages, ${b.budget} units/s per mailbox`);
    out.push('');
    out.push(
      table(
        ['', 'value'],
        [
          ['corpus', `${n0(b.corpus.delivered)} deliveries, ${n0(b.corpus.distinct)} distinct messages (generated and delivered in ${sec(b.corpus.setupSec)})`],
          ['stored', `${n0(b.stored)} copies, ${n0(b.distinctEmails)} emails (${n0(b.matched)} matched), attachments: ${n0(b.attachments.saved)} saved, ${n0(b.attachments.failed)} failed, ${n0(b.attachments.pending)} pending`],
          ['wall time (whole job)', sec(b.wallSec)],
          ['quota floor (slowest mailbox)', sec(b.floorSec)],
          ['wall ÷ floor', f(b.ratio, 3)],
          ['capture only: wall ÷ floor', `${f(b.captureRatio, 3)} (${sec(b.captureWallSec)} ÷ ${sec(b.captureFloorSec)})`],
          ['units per stored message: capture / with attachments', `${f(b.captureUnitsPerMessage, 3)} / ${f(b.unitsPerMessage, 3)}`],
          ['HTTP calls per stored message', f(b.callsPerMessage, 3)],
          ['bytes downloaded per stored message', kib(b.bytesPerMessage)],
          ['pacing violations', n0(b.violations)],
          ['rate-limit answers the client received', n0(b.rateLimitedAnswers)],
          ['pacing events logged', Object.entries(b.events).map(([e, n]) => `${e} ${n}`).join(', ')],
          ['peak units in any second', n0(b.peakUnitsPerSecond)],
          ['event-loop delay p99 / max', `${f(b.loopDelay.p99Ms, 0)} / ${f(b.loopDelay.maxMs, 0)} ms`],
          ...(b.status
            ? [[
                'GET /api/email/status over HTTP during the sync: requests / p50 / p99 / max',
                `${n0(b.status.requests)} / ${f(b.status.p50Ms, 1)} / ${f(b.status.p99Ms, 1)} / ${f(b.status.maxMs, 1)} ms${b.status.failed ? ` (${n0(b.status.failed)} failed)` : ''}`,
              ]]
            : []),
          ['crm-gmail CPU / emulator CPU', `${sec(b.cpuSec)} / ${sec(b.emulatorCpuSec)}`],
        ],
      ),
    );
    out.push('');
    out.push(
      table(
        ['mailbox', 'stored', 'units', 'capture units', 'calls', 'bytes', 'peak units/s', 'violations', 'wall', 'capture', 'floor', 'pace at end', 'status'],
        b.perMailbox.map((x) => [
          x.email,
          n0(x.stored),
          n0(x.units),
          n0(x.captureUnits),
          n0(x.calls),
          mib(x.bytes),
          n0(x.peakUnitsPerSecond),
          `${x.violations.total} (rate ${x.violations.rate}, concurrency ${x.violations.concurrency})`,
          sec(x.wallSec),
          sec(x.captureSec),
          sec(x.floorSec),
          f(x.paceEnd, 1),
          x.error ? `${x.status}: ${x.error}` : x.status,
        ]),
      ),
    );
    out.push('');
    out.push(
      table(
        ['method', 'calls', 'units', 'bytes'],
        Object.entries(b.methods).map(([method, v]) => [method, n0(v?.calls ?? 0), n0(v?.units ?? 0), mib(v?.bytes ?? 0)]),
      ),
    );
    if (b.problems.length) {
      out.push('');
      out.push('Last warnings the service logged:');
      out.push('');
      for (const p of b.problems) out.push(`- \`${p}\``);
    }
  }
  return out.join('\n');
}

function localDetails(l: LocalCostResult): string {
  const out = ['### 2. Local cost per message', ''];
  out.push(
    "The emulator runs in its own process with no latency and no quota; the client's budget is lifted in code (a real " +
      'configuration stops at 250 units/s, 50 messages/s, which would measure the limiter, not the work). CPU is this process\'s ' +
      'user + system time (`process.cpuUsage()`), so the emulator\'s share is not in it. Memory is sampled every second.',
  );
  out.push('');
  out.push(
    table(
      ['', 'value'],
      [
        ['messages stored', `${n0(l.stored)} (${n0(l.matched)} matched, ${n0(l.attachmentsSaved)} attachments saved)`],
        ['wall time / of which capture', `${sec(l.wallSec)} / ${sec(l.captureWallSec)}`],
        ['CPU (crm-gmail) / of which capture', `${sec(l.cpuSec)} / ${sec(l.captureCpuSec)}`],
        ['CPU per message / capture only', `${f(l.cpuMsPerMessage, 3)} ms / ${f(l.captureCpuMsPerMessage, 3)} ms`],
        ['messages per CPU second', n0(l.localMessagesPerSec)],
        ['messages per wall second (emulator on the same machine)', n0(l.wallMessagesPerSec)],
        ['emulator CPU', sec(l.emulatorCpuSec)],
        ['Gmail calls / units', `${n0(l.calls)} / ${n0(l.units)}`],
        ['RSS at start / peak sampled / kernel peak (whole process life)', `${f(l.rssStartMb, 0)} / ${f(l.peakRssMb, 0)} / ${f(l.maxRssMb, 0)} MB`],
        ['event-loop delay p99 / max', `${f(l.loopDelay.p99Ms, 0)} / ${f(l.loopDelay.maxMs, 0)} ms`],
        ['RSS slope after the first tenth', `${f(l.rssSlopeMbPer10k, 2)} MB per 10,000 messages`],
      ],
    ),
  );
  out.push('');
  out.push('RSS against messages stored (one sample per tenth of the run, and the last):');
  out.push('');
  const picked: typeof l.samples = [];
  for (let q = 1; q <= 10; q++) {
    const s = l.samples.find((x) => x.stored >= (l.stored * q) / 10) ?? l.samples[l.samples.length - 1]!;
    if (!picked.includes(s)) picked.push(s);
  }
  const first = l.samples[0];
  if (first && !picked.includes(first)) picked.unshift(first);
  out.push(
    table(
      ['time', 'messages stored', 'RSS', 'JS heap used', 'JS heap reserved', 'external (Buffers)'],
      picked.map((s) => [`${f(s.sec, 0)} s`, n0(s.stored), `${f(s.rssMb, 0)} MB`, `${f(s.heapMb, 0)} MB`, s.heapTotalMb === undefined ? '—' : `${f(s.heapTotalMb, 0)} MB`, s.externalMb === undefined ? '—' : `${f(s.externalMb, 0)} MB`]),
    ),
  );
  return out.join('\n');
}

function storeDetails(s: StoreSizeResult): string {
  const g = s.generated;
  const out = ['### 3. Queries on a large store', ''];
  out.push(
    'Generated straight into the schema: threads of 3–5 messages among 4 partners and the outside world (62 % investor ' +
      'conversations, 6 % with two investors, 5 % advisers, 15 % internal, 12 % strangers and newsletters; 15 % of replies in ' +
      'investor threads are partners-only), investors sized by a Zipf law (a few large relationships, many small), links made by ' +
      "the service's own Matcher. Matched mail carries bodies; 12 % of it an attachment row. Timings call the real functions " +
      'through `invoke` (input parsing included), one at a time, on a warm database file.',
  );
  out.push('');
  out.push(
    table(
      ['', 'value'],
      [
        ['emails / threads / matched', `${n0(g.emails)} / ${n0(g.threads)} / ${n0(g.matched)}`],
        ['copies / participants / links / thread keys / attachment rows', `${n0(g.copies)} / ${n0(g.participants)} / ${n0(g.links)} / ${n0(g.threadKeys)} / ${n0(g.attachments)}`],
        ['average body of matched mail: text / HTML', `${n0(g.avgBodyTextBytes)} / ${n0(g.avgBodyHtmlBytes)} bytes`],
        ['generation time', sec(s.generateSec)],
        ['database file / per email', `${mib(s.dbBytes)} / ${kib(s.bytesPerEmail)}`],
        [`threads of an investor (${s.threadsByInvestor.n} random investors): p50 / p95 / max`, `${f(s.threadsByInvestor.p50)} / ${f(s.threadsByInvestor.p95)} / ${f(s.threadsByInvestor.max)} ms`],
        [`threads of a contact (${s.threadsByContact.n} random contacts): p50 / p95 / max`, `${f(s.threadsByContact.p50)} / ${f(s.threadsByContact.p95)} / ${f(s.threadsByContact.max)} ms`],
        [`status: first call / p50 / p95 / max (${s.status.n} calls)`, `${f(s.statusCold, 1)} / ${f(s.status.p50, 1)} / ${f(s.status.p95, 1)} / ${f(s.status.max, 1)} ms`],
        [
          'rematch of everything, directory unchanged',
          `${sec(s.rematchSteady.sec)}: ${n0(s.rematchSteady.seen)} emails, ${n0(s.rematchSteady.linksAdded)} links added, ${n0(s.rematchSteady.linksRemoved)} removed (${s.rematchSteady.status})`,
        ],
        [
          `rematch of everything after ${s.rematchAfterChange.contactsAdded} new contacts`,
          `${sec(s.rematchAfterChange.sec)}: ${n0(s.rematchAfterChange.seen)} emails, ${n0(s.rematchAfterChange.linksAdded)} links added, ${n0(s.rematchAfterChange.newlyMatched)} newly matched (${s.rematchAfterChange.status})`,
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['largest investors', 'linked emails', 'threads', 'first page', 'second page (cursor)'],
      s.largest.map((x) => [`#${x.investorId}`, n0(x.linkedEmails), n0(x.threads), `${f(x.firstPageMs, 1)} ms`, `${f(x.secondPageMs, 1)} ms`]),
    ),
  );
  if (s.tables) {
    out.push('');
    out.push('Space by table and index (top 12):');
    out.push('');
    out.push(table(['table or index', 'size', 'per email'], s.tables.slice(0, 12).map((t) => [t.name, mib(t.bytes), `${n0(t.bytes / g.emails)} B`])));
  }
  return out.join('\n');
}

function naiveDetails(nv: NaiveResult): string {
  const out = ['### 4. Naive baseline', ''];
  out.push(
    'The same first backfill of one mailbox, written the obvious way: `messages.list`, then one `messages.get` at a time, each ' +
      'message parsed and matched and written with one autocommit `INSERT` (emails row only: no copies, participants, links or ' +
      'threads, so it does less than the engine), no pacing. The engine runs first on the same emulator, without its attachment step.',
  );
  out.push('');
  const row = (name: string, x: NaiveResult['ours']) => [
    name,
    sec(x.wallSec),
    n0(x.stored),
    f(x.stored / x.wallSec, 1),
    `${f((x.cpuSec * 1000) / x.stored, 3)} ms`,
    n0(x.calls),
    n0(x.units),
    n0(x.peakUnitsPerSecond),
    n0(x.violations),
  ];
  out.push(
    table(
      ['', 'wall', 'stored', 'messages/s', 'CPU per message', 'calls', 'units', 'peak units/s', 'violations'],
      [row(`crm-gmail (${nv.budget} units/s)`, nv.ours), row('naive loop', nv.naive)],
    ),
  );
  out.push('');
  out.push(`Naive wall time ÷ crm-gmail's: **${f(nv.ratio, 2)}**.`);
  return out.join('\n');
}

const FETCH_TARGET: Record<'legacy' | '2026', number> = { legacy: 4.3, '2026': 17.2 };

function fetchDetails(list: FetchComparison[]): string {
  const out = ['### Fetch strategies side by side: message by message vs the planner', ''];
  out.push(
    'Each corpus is generated twice from the same seed and backfilled into a fresh database, 3 mailboxes in parallel, ' +
      'once with `CRM_GMAIL_FETCH_STRATEGY=per-message` (one messages.get per message, files by the attachment step) and once ' +
      'with the planner (the default). Units, calls and bytes are the emulator\'s books; the floor is each run\'s own ' +
      '(its units ÷ the per-mailbox budget, slowest mailbox). Targets on the mixed corpus, attachments included: ' +
      '≤ 4.3 units per copy at legacy costs, ≤ 17.2 at 2026 costs; wall ≤ 1.1 × floor; 0 violations; on singles the planner ' +
      'must not cost more than per message.',
  );
  for (const c of list) {
    const a = c.perMessage;
    const b = c.planner;
    const calls = (x: BackfillResult, m: string) => n0(x.methods[m as keyof typeof x.methods]?.calls ?? 0);
    const target = c.threads === 'mixed' ? FETCH_TARGET[c.model] : null;
    const upc = b.unitsPerMessage;
    out.push('');
    out.push(`#### ${c.label}: 3 × ~${n0(a.messagesPerMailbox)} messages, ${a.budget} units/s per mailbox`);
    out.push('');
    out.push(`Thread sizes (Gmail threads by copies stored, all mailboxes): ${Object.entries(b.threadSizes).map(([k, v]) => `${n0(v)} of ${k}`).join(', ')}.`);
    out.push('');
    out.push(
      table(
        ['', 'per message', 'planner', 'planner ÷ per message', 'target'],
        [
          ['copies stored', n0(a.stored), n0(b.stored), f(b.stored / a.stored, 3), 'equal'],
          ['units per copy, capture', f(a.captureUnitsPerMessage, 3), f(b.captureUnitsPerMessage, 3), f(b.captureUnitsPerMessage / a.captureUnitsPerMessage, 3), ''],
          [
            'units per copy, with attachments',
            f(a.unitsPerMessage, 3),
            f(upc, 3),
            f(upc / a.unitsPerMessage, 3),
            target !== null ? `≤ ${target}: ${verdict(upc <= target)}` : c.threads === 'singles' ? `≤ per message: ${verdict(upc <= a.unitsPerMessage + 1e-9)}` : '',
          ],
          [
            'units per copy no plan goes below (each mailbox its own threads, each file once)',
            f(a.floorUnitsPerCopy, 3),
            f(b.floorUnitsPerCopy, 3),
            '',
            target !== null ? `planner ÷ this floor: ${f(upc / b.floorUnitsPerCopy, 3)}` : '',
          ],
          ['HTTP calls per copy', f(a.callsPerMessage, 3), f(b.callsPerMessage, 3), f(b.callsPerMessage / a.callsPerMessage, 3), ''],
          ['bytes downloaded per copy', kib(a.bytesPerMessage), kib(b.bytesPerMessage), f(b.bytesPerMessage / a.bytesPerMessage, 3), ''],
          ['messages.get / threads.get / attachments.get calls', `${calls(a, 'messages.get')} / ${calls(a, 'threads.get')} / ${calls(a, 'messages.attachments.get')}`, `${calls(b, 'messages.get')} / ${calls(b, 'threads.get')} / ${calls(b, 'messages.attachments.get')}`, '', ''],
          ['attachments saved / too large / pending', `${n0(a.attachments.saved)} / ${n0(a.attachments.tooLarge)} / ${n0(a.attachments.pending)}`, `${n0(b.attachments.saved)} / ${n0(b.attachments.tooLarge)} / ${n0(b.attachments.pending)}`, '', 'equal'],
          ['wall time', sec(a.wallSec), sec(b.wallSec), f(b.wallSec / a.wallSec, 3), ''],
          ['quota floor', sec(a.floorSec), sec(b.floorSec), f(b.floorSec / a.floorSec, 3), ''],
          ['wall ÷ own floor', f(a.ratio, 3), f(b.ratio, 3), '', `≤ 1.1: ${verdict(b.ratio <= 1.1)}`],
          ['pacing violations', n0(a.violations), n0(b.violations), '', `0: ${verdict(b.violations === 0)}`],
          ['event-loop delay p99 / max', `${f(a.loopDelay.p99Ms, 0)} / ${f(a.loopDelay.maxMs, 0)} ms`, `${f(b.loopDelay.p99Ms, 0)} / ${f(b.loopDelay.maxMs, 0)} ms`, '', `≤ 20 / ≤ 100 ms: ${verdict(b.loopDelay.p99Ms <= 20 && b.loopDelay.maxMs <= 100)}`],
          ['crm-gmail CPU', sec(a.cpuSec), sec(b.cpuSec), f(b.cpuSec / a.cpuSec, 3), ''],
        ],
      ),
    );
  }
  return out.join('\n');
}

function largeDetails(g: LargeResult): string {
  const c = g.child;
  const out = ['### Large messages: peak memory with 50 MB messages', ''];
  out.push(
    'A first backfill of 3 mailboxes in parallel (production hooks, attachments included) whose matched mail holds messages of ' +
      'about 50 MB: two 24 MB files (fetched file by file), one 48 MB file, two 16 MB files (one format=raw fetch), and 20 MB beside ' +
      '56 MB over the cap. Some are shared between mailboxes. The service runs in a fresh process of its own, its memory sampled ' +
      'every 150 ms, with the kernel\'s peak (VmHWM) beside it; the files saved are hashed against the bytes built.',
  );
  out.push('');
  out.push(
    table(
      ['Figure', 'Result', 'Target'],
      [
        ['peak RSS sampled / kernel peak', `${f(c.peakRssMb, 0)} / ${f(c.maxRssMb, 0)} MB`, `≤ ${g.targetMb} MB: ${verdict(Math.max(c.peakRssMb, c.maxRssMb) <= g.targetMb)}`],
        ['RSS at start (service up, mailboxes enrolled)', `${f(c.rssStartMb, 0)} MB`, ''],
        ['getrusage ru_maxrss (includes the parent\'s RSS at fork)', `${f(c.maxRssRusageMb, 0)} MB`, ''],
        [
          'at the RSS peak: heap used / heap reserved / external / array buffers',
          `${f(c.atPeak.heapUsedMb, 0)} / ${f(c.atPeak.heapTotalMb, 0)} / ${f(c.atPeak.externalMb, 0)} / ${f(c.atPeak.arrayBuffersMb, 0)} MB`,
          '',
        ],
        [
          'highest over the run: heap used / heap reserved / external / array buffers',
          `${f(c.peaks.heapUsedMb, 0)} / ${f(c.peaks.heapTotalMb, 0)} / ${f(c.peaks.externalMb, 0)} / ${f(c.peaks.arrayBuffersMb, 0)} MB`,
          '',
        ],
        ['large messages (copies), bytes as delivered', `${n0(g.large.messages)} (${n0(g.large.copies)}), ${mib(g.large.bytes)} (${mib(g.large.copyBytes)} with copies)`, ''],
        ['files under the cap: built / saved, bytes', `${n0(g.files.underCap)} / ${n0(g.files.saved)}, ${mib(g.files.underCapBytes)} / ${mib(g.files.savedBytes)}`, `all, sha256 as built: ${verdict(g.allSavedRight)}`],
        ['files over the cap, bytes', `${n0(g.files.overCap)}, ${mib(g.files.overCapBytes)}`, `too_large, never downloaded: ${verdict(g.overCapNeverDownloaded)}`],
        ['attachment rows of the large messages by state', Object.entries(g.files.states).map(([k, v]) => `${k} ${n0(v)}`).join(', '), ''],
        [
          'emulator bytes sent (bound without an over-cap file)',
          `${mib(g.emulator.bytesSent)} (${mib(g.emulator.bytesBound)})`,
          '',
        ],
        ['messages.get / attachments.get calls', `${n0(g.emulator.messagesGet)} / ${n0(g.emulator.attachmentsGet)}`, ''],
        ['wall time / crm-gmail CPU', `${sec(c.wallSec)} / ${sec(c.cpuSec)}`, ''],
        ['mailboxes', c.mailboxes.map((m) => `${m.status} (${n0(m.stored)} stored)`).join(', '), ''],
      ],
    ),
  );
  out.push('');
  out.push('RSS over the run (about ten samples):');
  out.push('');
  out.push(
    table(
      ['time', 'RSS', 'heap used', 'external', 'array buffers'],
      c.timeline.map((s) => [`${f(s.sec, 1)} s`, `${f(s.rssMb, 0)} MB`, `${f(s.heapUsedMb, 0)} MB`, `${f(s.externalMb, 0)} MB`, `${f(s.arrayBuffersMb, 0)} MB`]),
    ),
  );
  if (g.problems.length) {
    out.push('');
    out.push('Problems:');
    out.push('');
    for (const p of g.problems) out.push(`- ${p.replace(/\n/g, ' ')}`);
  }
  return out.join('\n');
}
