// `npm run bench:insights [-- --quick] [--emails N] [--samples N] [--keep]`
//
// Relationship insights on a large generated store (bench/storeData.ts): the full build of
// the activity tables, the cost the change hook adds to one page of mail, and the two reads
// with targets — one investor's insights (≤ 20 ms) and the going-cold list (≤ 200 ms) —
// through the real functions. Prints a Markdown table; a benchmark reports, it never fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getInvestorInsights } from '../functions/getInvestorInsights.js';
import { listGoingCold } from '../functions/listGoingCold.js';
import { invoke } from '../lib/core/fn.js';
import { all, run } from '../lib/db/client.js';
import { updateActivity } from '../lib/insights/activity.js';
import { ensureTeam } from '../lib/insights/team.js';
import { createRng } from '../tools/gmail-emulator/index.js';
import { percentile, progress, timed } from './measure.js';
import { startService } from './service.js';
import { generateStore } from './storeData.js';

const FIRM = 'fund.test';
// The generated mail ends in January 2026: the windows (30/90/365 days) are read from there.
const READ_AT = Date.parse('2026-01-15T12:00:00Z');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    emails: { type: 'string' },
    samples: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const emails = Number(args.emails ?? (args.quick ? 20_000 : 1_000_000));
const shape = { emails, contacts: Math.max(1_000, Math.round(emails / 20)), investors: Math.max(100, Math.round(emails / 200)), partners: 4, firmDomain: FIRM, seed: 'crm-gmail-bench' };
const samples = Number(args.samples ?? (args.quick ? 50 : 300));

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'crm-bench-insights-'));
  const svc = await startService({ dataDir: dir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: FIRM } });
  const deps = { ...svc.deps, clock: { now: () => READ_AT, sleep: async () => undefined } };
  try {
    progress(`insights: generating ${emails.toLocaleString('en-US')} emails`);
    const gen = await timed(() => generateStore(deps.db, shape));
    progress(`insights: generated in ${(gen.ms / 1000).toFixed(0)} s; building the activity tables`);
    // The generator writes straight into the tables, past the change hook: the first team
    // check finds an empty record and builds everything, as after the migration on a live store.
    const build = await timed(() => ensureTeam(deps.db, [FIRM]));
    await run(deps.db, 'PRAGMA wal_checkpoint(TRUNCATE)');
    progress(`insights: activity built in ${(build.ms / 1000).toFixed(0)} s; measuring`);

    const rng = createRng('insights-bench');
    // What the hook adds to a sync page: 500 emails brought in line again inside one transaction.
    const pageIds = Array.from({ length: 500 }, () => rng.int(1, gen.value.emails));
    const page = await timed(async () => {
      const tx = await deps.db.transaction('write');
      try {
        await updateActivity(tx, pageIds);
        await tx.commit();
      } finally {
        tx.close();
      }
    });

    const largest = await all<{ id: number; n: number }>(
      deps.db,
      "SELECT entity_id AS id, inbound + outbound AS n FROM insight_totals WHERE entity = 'investor' AND partner = '' ORDER BY n DESC LIMIT 5",
    );
    const linked = await all<{ id: number; n: number }>(deps.db, 'SELECT investor_id AS id, count(*) AS n FROM email_investor_links WHERE investor_id IN (' + largest.map((l) => l.id).join(',') + ') GROUP BY investor_id');
    const ids = Array.from({ length: samples }, () => rng.int(1, shape.investors));
    // First read of each: no warm-up beyond what the build left in the page cache.
    const times: number[] = [];
    for (const id of ids) times.push((await timed(() => invoke(deps, getInvestorInsights, { id }))).ms);
    const big: { id: number; messages: number; linkedEmails: number; ms: number }[] = [];
    for (const l of largest) {
      const r = await timed(() => invoke(deps, getInvestorInsights, { id: l.id }));
      big.push({ id: l.id, messages: l.n, linkedEmails: linked.find((x) => x.id === l.id)?.n ?? 0, ms: r.ms });
    }
    const cold: number[] = [];
    let coldCount = 0;
    for (let k = 0; k < 10; k++) {
      const r = await timed(() => invoke(deps, listGoingCold, { days: 60 }));
      cold.push(r.ms);
      coldCount = r.value.investors.length;
    }
    const rows = await all<{ name: string; n: number }>(
      deps.db,
      `SELECT 'insight_contrib' AS name, count(*) AS n FROM insight_contrib UNION ALL SELECT 'insight_daily', count(*) FROM insight_daily
       UNION ALL SELECT 'insight_exchanges', count(*) FROM insight_exchanges UNION ALL SELECT 'insight_summary', count(*) FROM insight_summary`,
    );

    const out = [
      `Insights on ${gen.value.emails.toLocaleString('en-US')} emails (${gen.value.threads.toLocaleString('en-US')} threads, ${shape.investors.toLocaleString('en-US')} investors, ${shape.contacts.toLocaleString('en-US')} contacts), ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'CPU'} × ${cpus().length}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, Node ${process.version}`,
      '',
      '| measure | result | target |',
      '|---|---|---|',
      `| investor insights, p50 / p95 / max (${samples} random investors) | ${fmt(percentile(times, 50))} / ${fmt(percentile(times, 95))} / ${fmt(Math.max(...times))} | ≤ 20 ms |`,
      ...big.map((b) => `| investor insights, large relationship (${b.messages.toLocaleString('en-US')} messages each way, ${b.linkedEmails.toLocaleString('en-US')} links) | ${fmt(b.ms)} | ≤ 20 ms |`),
      `| going-cold list (days=60, ${coldCount} investors), p50 / max of 10 | ${fmt(percentile(cold, 50))} / ${fmt(Math.max(...cold))} | ≤ 200 ms |`,
      `| change hook on a page of 500 emails (already built) | ${fmt(page.ms)} | — |`,
      `| full build of the activity | ${(build.ms / 1000).toFixed(1)} s | — |`,
      `| activity rows | ${rows.map((r) => `${r.name} ${r.n.toLocaleString('en-US')}`).join(', ')} | — |`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    svc.close();
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
    else progress(`insights: store kept in ${dir}`);
  }
}

await main();
