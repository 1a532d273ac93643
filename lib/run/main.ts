// `npm start`: the HTTP API and the scheduler in one process.
import { serve } from '@hono/node-server';
import { createApp } from '../http/app.js';
import { buildDeps } from './bootstrap.js';
import { ConfigError } from '../core/config.js';
import { MigrationError } from '../db/migrate.js';
import { SecretKeyError } from '../auth/secrets.js';
import { startSchedule } from './schedule.js';
import { ensureTeam } from '../insights/team.js';

export async function main(): Promise<void> {
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
      deps.db.close();
      log.info({ event: 'server.stopped' }, 'stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
