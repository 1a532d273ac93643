// Stage 3: the read paths and the rematch on a store the size of a busy firm's decade — the
// real functions (listThreads, status) through invoke, and the real rematch — plus what the
// store weighs on disk per email.
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { createContact } from '../functions/createContact.js';
import { listThreads } from '../functions/listThreads.js';
import { status } from '../functions/status.js';
import { all, filePathOf, one, run } from '../lib/db/client.js';
import { invoke } from '../lib/core/fn.js';
import { performRematch, type RematchRunSummary } from '../lib/matching/rematch.js';
import { openRun } from '../lib/capture/runs.js';
import { createRng } from '../tools/gmail-emulator/index.js';
import { percentile, progress, timed } from './measure.js';
import { startService } from './service.js';
import { generateStore, type GeneratedStore } from './storeData.js';

interface StoreSizeSpec {
  emails: number;
  contacts: number;
  investors: number;
  seed: string;
  workDir: string;
  keep: boolean;
  /** Investors (and contacts) sampled for the thread-list timings. */
  samples: number;
}

interface Latency {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

interface RematchFigures {
  sec: number;
  seen: number;
  linksAdded: number;
  linksRemoved: number;
  newlyMatched: number;
  unmatched: number;
  status: string;
}

export interface StoreSizeResult {
  shape: { emails: number; contacts: number; investors: number };
  generated: GeneratedStore;
  generateSec: number;
  dbBytes: number;
  bytesPerEmail: number;
  tables: { name: string; bytes: number }[] | null;
  threadsByInvestor: Latency;
  threadsByContact: Latency;
  /** The investors with the most linked mail: their first page, and the second through the cursor. */
  largest: { investorId: number; linkedEmails: number; threads: number; firstPageMs: number; secondPageMs: number }[];
  statusCold: number;
  status: Latency;
  rematchSteady: RematchFigures;
  rematchAfterChange: RematchFigures & { contactsAdded: number };
}

function latency(ms: number[]): Latency {
  return { n: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), max: Math.max(...ms) };
}

function rematchFigures(r: RematchRunSummary, ms: number): RematchFigures {
  return {
    sec: ms / 1000,
    seen: r.messages_seen,
    linksAdded: r.links_added,
    linksRemoved: r.links_removed,
    newlyMatched: r.newly_matched,
    unmatched: r.unmatched,
    status: r.status,
  };
}

export async function runStoreSize(spec: StoreSizeSpec): Promise<StoreSizeResult> {
  const dir = path.join(spec.workDir, 'store');
  // Gmail stays off: nothing here talks to Gmail, and a rematch then leaves newly matched mail's
  // bodies for later, as the service does when the integration is disabled.
  const svc = await startService({ dataDir: dir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test' } });
  const { deps } = svc;
  try {
    progress(`store: generating ${spec.emails.toLocaleString('en-US')} emails and ${spec.contacts.toLocaleString('en-US')} contacts with SQL batches`);
    const gen = await timed(() =>
      generateStore(deps.db, { emails: spec.emails, contacts: spec.contacts, investors: spec.investors, partners: 4, firmDomain: 'fund.test', seed: spec.seed }),
    );
    const generated = gen.value;
    progress(
      `store: ${generated.emails.toLocaleString('en-US')} emails in ${generated.threads.toLocaleString('en-US')} threads written in ${(gen.ms / 1000).toFixed(0)} s; measuring`,
    );
    await run(deps.db, 'PRAGMA wal_checkpoint(TRUNCATE)');
    const dbBytes = statSync(filePathOf(deps.config.dbUrl)).size;
    let tables: { name: string; bytes: number }[] | null = null;
    try {
      tables = await all<{ name: string; bytes: number }>(deps.db, 'SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC');
    } catch {
      tables = null;
    }

    const rng = createRng(`${spec.seed}-queries`);
    const statusCold = (await timed(() => invoke(deps, status, {}))).ms;
    const statusMs: number[] = [];
    for (let i = 0; i < 30; i++) statusMs.push((await timed(() => invoke(deps, status, {}))).ms);

    const byInvestor: number[] = [];
    for (let i = 0; i < spec.samples; i++) {
      const id = rng.int(1, spec.investors);
      byInvestor.push((await timed(() => invoke(deps, listThreads, { investor_id: id }))).ms);
    }
    const byContact: number[] = [];
    for (let i = 0; i < spec.samples; i++) {
      const id = rng.int(1, spec.contacts);
      byContact.push((await timed(() => invoke(deps, listThreads, { contact_id: id }))).ms);
    }
    const top = await all<{ investor_id: number; n: number }>(
      deps.db,
      'SELECT investor_id, count(DISTINCT email_id) AS n FROM email_investor_links WHERE investor_id IS NOT NULL GROUP BY investor_id ORDER BY n DESC LIMIT 3',
    );
    const largest: StoreSizeResult['largest'] = [];
    for (const t of top) {
      const first = await timed(() => invoke(deps, listThreads, { investor_id: t.investor_id }));
      const cursor = first.value.next_cursor;
      const second = cursor ? (await timed(() => invoke(deps, listThreads, { investor_id: t.investor_id, cursor }))).ms : Number.NaN;
      const threads = await one<{ n: number }>(
        deps.db,
        'SELECT count(DISTINCT e.thread_id) AS n FROM email_investor_links l JOIN emails e ON e.id = l.email_id WHERE l.investor_id = ?',
        [t.investor_id],
      );
      largest.push({ investorId: t.investor_id, linkedEmails: t.n, threads: threads?.n ?? 0, firstPageMs: first.ms, secondPageMs: second });
    }

    progress('store: rematch of everything (directory unchanged)');
    const steadyRun = await openRun(deps.db, null, 'rematch', deps.clock.now());
    const steady = await timed(() => performRematch(deps, steadyRun, {}));

    // A directory change of the everyday kind: people who wrote in become contacts.
    const contactsAdded = Math.min(500, generated.strangerAddresses.length);
    const pick = createRng(`${spec.seed}-new-contacts`).shuffle([...generated.strangerAddresses]).slice(0, contactsAdded);
    for (const [i, address] of pick.entries()) await invoke(deps, createContact, { name: `New contact ${i + 1}`, emails: [address] });
    progress(`store: rematch of everything after ${contactsAdded} new contacts`);
    const changedRun = await openRun(deps.db, null, 'rematch', deps.clock.now());
    const changed = await timed(() => performRematch(deps, changedRun, {}));

    const result: StoreSizeResult = {
      shape: { emails: spec.emails, contacts: spec.contacts, investors: spec.investors },
      generated,
      generateSec: gen.ms / 1000,
      dbBytes,
      bytesPerEmail: dbBytes / generated.emails,
      tables,
      threadsByInvestor: latency(byInvestor),
      threadsByContact: latency(byContact),
      largest,
      statusCold,
      status: latency(statusMs),
      rematchSteady: rematchFigures(steady.value, steady.ms),
      rematchAfterChange: { ...rematchFigures(changed.value, changed.ms), contactsAdded },
    };
    progress(
      `store: threads by investor p95 ${result.threadsByInvestor.p95.toFixed(1)} ms; status p95 ${result.status.p95.toFixed(1)} ms; ` +
        `rematch ${result.rematchSteady.sec.toFixed(1)} s / ${result.rematchAfterChange.sec.toFixed(1)} s; ${(result.bytesPerEmail / 1024).toFixed(2)} KiB/email`,
    );
    return result;
  } finally {
    svc.close();
    if (!spec.keep) rmSync(dir, { recursive: true, force: true });
  }
}
