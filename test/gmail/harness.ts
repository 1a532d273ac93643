// Shared set-up for the Gmail client tests: a key on disk, Deps pointed at the mocks, a factory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeClock } from '../helpers/clock.js';
import { createGmailFactory, type GmailFactoryOptions, type PacedGmailApi, type PacedGmailFactory } from '../../lib/gmail/client.js';
import type { GmailAccountRef } from '../../lib/gmail/types.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { DOMAIN, drive, gmailEnv, MockGmail, writeServiceAccountKey, type ServiceAccountFixture } from '../mocks/gmail.js';

export interface GmailTest {
  deps: TestDeps;
  clock: FakeClock;
  mock: MockGmail;
  key: ServiceAccountFixture;
  factory: PacedGmailFactory;
  account(n?: number, over?: Partial<GmailAccountRef>): GmailAccountRef;
  /** Runs `work` to completion under the fake clock, letting every client's requests finish first. */
  run<T>(work: Promise<T>, ...clients: PacedGmailApi[]): Promise<T>;
  cleanup(): Promise<void>;
}

export async function gmailTest(opts: { env?: Record<string, string>; authMethod?: 'dwd' | 'oauth'; factory?: Partial<GmailFactoryOptions> } = {}): Promise<GmailTest> {
  const keyDir = mkdtempSync(path.join(tmpdir(), 'crm-gmail-key-'));
  const key = writeServiceAccountKey(keyDir);
  const clock = new FakeClock();
  const deps = await makeDeps({ clock, env: gmailEnv({ keyPath: key.path, authMethod: opts.authMethod, extra: opts.env }) });
  const mock = new MockGmail({ publicKeyPem: key.publicKeyPem });
  const factory = createGmailFactory({ config: deps.config, clock, log: deps.log, db: deps.db, random: () => 0, ...opts.factory });
  const clients: PacedGmailApi[] = [];
  return {
    deps,
    clock,
    mock,
    key,
    factory: (account) => {
      const c = factory(account);
      clients.push(c);
      return c;
    },
    account: (n = 1, over = {}) => ({ id: n, email: `partner${n}@${DOMAIN}`, auth_method: opts.authMethod ?? 'dwd', ...over }),
    run: (work, ...extra) => drive(clock, work, () => [...clients, ...extra].some((c) => c.inFlight > 0)),
    cleanup: async () => {
      await deps.cleanup();
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}
