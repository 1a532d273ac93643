// Start-up work shared by the server, the CLI and the demo: database, migrations, first admin.
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { loadConfig } from '../core/config.js';
import { openDb, one, run, type Db } from '../db/client.js';
import type { Deps } from '../core/deps.js';
import { createGmailFactory } from '../gmail/client.js';
import { createLogger, type Logger } from '../core/log.js';
import { migrate } from '../db/migrate.js';
import { hashPassword } from '../auth/credentials.js';
import { Background } from '../core/background.js';
import { ensureSecretKey } from '../auth/secrets.js';
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
    [config.admin.username, config.admin.email ?? null, await hashPassword(config.admin.password), now, now],
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
  const db = await openDb({ url: config.dbUrl, authToken: config.dbAuthToken });
  const applied = await migrate(db);
  if (applied.length) log.info({ event: 'db.migrated', applied }, 'migrations applied');
  await ensureAdmin(db, config, clock, log);
  // A bad or unreadable key file stops the start here rather than at the first consent.
  if (config.gmail.enabled) ensureSecretKey(config);
  const gmail = createGmailFactory({ config, clock, log, db });
  return { db, config, gmail, clock, log, background: new Background() };
}
