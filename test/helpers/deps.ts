// A fresh migrated database file per test, a fake clock, a capturing logger, a config object.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Background } from '../../lib/core/background.js';
import type { Clock } from '../../lib/core/clock.js';
import { FakeClock } from './clock.js';
import { loadConfig } from '../../lib/core/config.js';
import { openDb } from '../../lib/db/client.js';
import type { Deps } from '../../lib/core/deps.js';
import type { GmailFactory } from '../../lib/gmail/types.js';
import { captureLogger } from './log.js';
import { migrate } from '../../lib/db/migrate.js';

export interface TestDeps extends Deps {
  clock: Clock;
  dataDir: string;
  logs: ReturnType<typeof captureLogger>;
  cleanup: () => Promise<void>;
}

const noGmail: GmailFactory = () => {
  throw new Error('this test did not give Deps a Gmail factory');
};

export async function makeDeps(opts: { env?: Record<string, string>; clock?: Clock; gmail?: (deps: Deps) => GmailFactory } = {}): Promise<TestDeps> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'crm-test-'));
  // Tests hash passwords at the old, cheap cost unless they set it: 2^17 takes a second or more here.
  const config = loadConfig({ CRM_DATA_DIR: dataDir, CRM_PASSWORD_SCRYPT_LOG_N: '14', ...opts.env });
  const db = await openDb({ url: config.dbUrl });
  await migrate(db);
  const logs = captureLogger();
  const deps: TestDeps = {
    db,
    config,
    clock: opts.clock ?? new FakeClock(),
    log: logs.log,
    gmail: noGmail,
    background: new Background(),
    dataDir,
    logs,
    cleanup: async () => {
      await deps.background.idle();
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.gmail) {
    deps.gmail = opts.gmail(deps);
  }
  return deps;
}
