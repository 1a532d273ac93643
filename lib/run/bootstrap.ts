// Start-up work shared by the server, the CLI and the demo: database, migrations, first admin,
// this process's instance id, and the heartbeat that keeps the leases it holds alive.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { loadConfig } from '../core/config.js';
import { filePathOf, openDb, one, run, type Db } from '../db/client.js';
import { secureDataDir } from '../db/files.js';
import type { Deps } from '../core/deps.js';
import { createGmailFactory } from '../gmail/client.js';
import { createLogger, type Logger } from '../core/log.js';
import { migrate } from '../db/migrate.js';
import { hashPassword } from '../auth/credentials.js';
import { Background } from '../core/background.js';
import { ensureSecretKey } from '../auth/secrets.js';
import { HEARTBEAT_MS, instanceOf, renewHeldLeases } from '../capture/accounts.js';
import { nowIso } from '../core/time.js';

async function ensureAdmin(db: Db, config: Config, clock: Clock, log: Logger): Promise<void> {
  if (!config.admin) return;
  const existing = await one(db, "SELECT id FROM users WHERE role = 'admin' LIMIT 1");
  if (existing) return;
  const now = nowIso(clock);
  await run(
    db,
    `INSERT INTO users (username, email, role, password_hash, disabled, created_at, updated_at)
     VALUES (?, ?, 'admin', ?, 0, ?, ?)`,
    [config.admin.username, config.admin.email ?? null, await hashPassword(config.admin.password, config.passwordHashLogN), now, now],
  );
  log.info({ event: 'auth.admin_bootstrapped', username: config.admin.username }, 'created the first admin');
  if (config.admin.password.length < 12) {
    log.warn({ event: 'auth.admin_password_short', username: config.admin.username }, 'the first admin has a short password; change it with POST /api/auth/password');
  }
}

export async function buildDeps(
  opts: { env?: Record<string, string | undefined>; log?: Logger; logDestination?: NodeJS.WritableStream; clock?: Clock } = {},
): Promise<Deps> {
  const config = loadConfig(opts.env ?? process.env);
  const log = opts.log ?? createLogger({ level: config.logLevel, destination: opts.logDestination });
  const clock = opts.clock ?? systemClock;
  const dbFile = config.dbUrl.startsWith('file:') ? path.resolve(filePathOf(config.dbUrl)) : undefined;
  const tightened = secureDataDir(config.dataDir, dbFile);
  const db = await openDb({ url: config.dbUrl, authToken: config.dbAuthToken });
  // A database file created just now took the process umask: made private before anything is in it.
  secureDataDir(config.dataDir, dbFile);
  for (const t of tightened) {
    log.warn({ event: 'files.tightened', path: t.path, from: t.from, to: t.to }, `${t.path} was readable by group or others (mode ${t.from}); set to ${t.to}`);
  }
  const applied = await migrate(db);
  if (applied.length) log.info({ event: 'db.migrated', applied }, 'migrations applied');
  await ensureAdmin(db, config, clock, log);
  // A bad or unreadable key file stops the start here rather than at the first consent.
  if (config.gmail.enabled) ensureSecretKey(config);
  const gmail = createGmailFactory({ config, clock, log, db });
  return { db, config, gmail, clock, log, background: new Background(), instanceId: randomUUID() };
}

/**
 * Renew every lease this process holds, every HEARTBEAT_MS, for as long as it lives: a sync
 * waiting on Gmail (a long Retry-After, a slow page) keeps its mailbox, and a process that
 * dies stops renewing, so others take over within a lease's length. The timer never keeps
 * the process alive on its own.
 */
export function startHeartbeat(deps: Deps, everyMs = HEARTBEAT_MS): { stop(): void } {
  const owner = instanceOf(deps);
  const timer = setInterval(() => {
    renewHeldLeases(deps.db, owner, deps.clock.now()).catch((err) =>
      deps.log.warn({ event: 'lease.heartbeat_failed', error: err instanceof Error ? err.message : String(err) }, 'could not renew the leases this process holds'),
    );
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The embedded (`file:`) database has one writer: the process that serves it. */
export const isEmbeddedDb = (config: Config): boolean => config.dbUrl.startsWith('file:');
