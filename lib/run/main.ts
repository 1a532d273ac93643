// `npm start`: the HTTP API and the scheduler in one process. At start it recovers from a
// process that died: on an embedded database (this process is its only writer) every lease
// not its own is taken over and its run closed `interrupted`, leftovers are swept, and the
// interrupted syncs resume at once from their last committed page.
import { serve } from '@hono/node-server';
import type { Deps } from '../core/deps.js';
import { createApp } from '../http/app.js';
import { buildDeps, isEmbeddedDb, startHeartbeat } from './bootstrap.js';
import { listAccountRows } from '../capture/accounts.js';
import { sweepBlobs } from '../capture/blobs.js';
import { sweepDeadRuns, takeOverAtStart } from '../capture/runs.js';
import { resumeSyncs, TEMP_FILE_GRACE_MS } from '../capture/syncRunner.js';
import { releaseAllDownloadClaims } from '../capture/attachments.js';
import { ConfigError } from '../core/config.js';
import { MigrationError } from '../db/migrate.js';
import { SecretKeyError } from '../auth/secrets.js';
import { startSchedule } from './schedule.js';
import { ensureTeam } from '../insights/team.js';

async function main(): Promise<void> {
  // Everything this process creates (database, attachments, secrets) is private to its user.
  process.umask(0o077);
  let deps;
  try {
    deps = await buildDeps();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof MigrationError || err instanceof SecretKeyError) {
      process.stderr.write(`crm-gmail: cannot start: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { config, log } = deps;
  const heartbeat = startHeartbeat(deps);
  const interrupted = await recoverAtStart(deps);
  // The relationship activity is computed against the team (workspace domains, mailboxes);
  // after a change of either, bring it in line now rather than on the first insights read.
  deps.background.run(
    async () => {
      const r = await ensureTeam(deps.db, config.gmail.workspaceDomains);
      if (r !== 'current') log.info({ event: 'insights.team_changed', recomputed: r }, 'relationship activity recomputed for a changed team');
    },
    (err) => log.error({ event: 'insights.team_failed', error: err instanceof Error ? err.message : String(err) }, 'could not recompute relationship activity'),
  );
  const app = createApp(deps);
  const schedule = startSchedule(deps);
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    log.info({ event: 'server.listening', host: config.host, port: info.port, gmail_enabled: config.gmail.enabled }, `listening on http://${config.host}:${info.port}`);
  });
  if (config.gmail.enabled && interrupted.size) {
    const accounts = (await listAccountRows(deps.db)).filter((a) => interrupted.has(a.id));
    const runs = await resumeSyncs(deps, accounts);
    if (runs.length) log.info({ event: 'sync.resumed', runs: runs.map((r) => ({ id: r.id, account: r.account })) }, 'interrupted syncs resumed');
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'server.stopping', signal }, 'stopping: no new requests, finishing in-flight work');
    schedule.stop();
    // close() stops accepting and resolves once in-flight requests have answered.
    server.close(async () => {
      await schedule.idle();
      await deps.background.idle();
      heartbeat.stop();
      deps.db.close();
      log.info({ event: 'server.stopped' }, 'stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** Returns the mailboxes whose sync a dead process left unfinished. */
async function recoverAtStart(deps: Deps): Promise<Set<number>> {
  const { config, log } = deps;
  const embedded = isEmbeddedDb(config);
  const interrupted = new Set<number>();
  let takenOver = 0;
  if (embedded) {
    const taken = await takeOverAtStart(deps);
    takenOver = taken.length;
    for (const a of taken) interrupted.add(a.id);
  } else {
    await sweepDeadRuns(deps);
  }
  // A backfill whose checkpoint is set was cut short, whoever held it.
  for (const a of await listAccountRows(deps.db)) if (a.backfill_history_id && !a.lease_owner) interrupted.add(a.id);
  const now = deps.clock.now();
  const swept = await sweepBlobs(deps.db, config.dataDir, {
    nowMs: now,
    // Alone on an embedded database, nothing else can be writing a temp file or holding a claim.
    tempOlderThanMs: embedded ? 0 : TEMP_FILE_GRACE_MS,
    claimsOlderThanIso: new Date(embedded ? now + 1 : now - TEMP_FILE_GRACE_MS).toISOString(),
  });
  if (embedded) await releaseAllDownloadClaims(deps.db);
  log.info({ event: 'server.recovered', leases_taken_over: takenOver, temp_files: swept.tempFiles, files_unreferenced: swept.unreferenced }, 'start-up recovery done');
  return interrupted;
}

await main();
