// The real service's Deps for a benchmark stage: config from an environment (through
// loadConfig, as at start-up), a migrated database file, the paced Gmail factory, and a
// logger whose lines are counted by event instead of printed.
import { mkdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { importInvestors } from '../functions/importInvestors.js';
import { enroll } from '../functions/enroll.js';
import { listAccountRows, type AccountRow } from '../lib/capture/accounts.js';
import { Background } from '../lib/core/background.js';
import { systemClock } from '../lib/core/clock.js';
import { loadConfig } from '../lib/core/config.js';
import { openDb } from '../lib/db/client.js';
import type { Deps } from '../lib/core/deps.js';
import { invoke } from '../lib/core/fn.js';
import { createGmailFactory } from '../lib/gmail/client.js';
import { createLogger } from '../lib/core/log.js';
import { migrate } from '../lib/db/migrate.js';
import { drainRematchQueue } from '../lib/matching/rematch.js';
import type { RunningEmulator } from './emulator.js';

/** Log lines by event, and the last few warnings and errors (for the report when something went wrong). */
class EventCounter {
  readonly counts = new Map<string, number>();
  readonly problems: string[] = [];
  readonly stream: Writable;

  constructor() {
    this.stream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line.trim()) continue;
          let rec: { event?: string; level?: string; msg?: string; error?: string };
          try {
            rec = JSON.parse(line) as typeof rec;
          } catch {
            continue;
          }
          const event = rec.event ?? '(none)';
          this.counts.set(event, (this.counts.get(event) ?? 0) + 1);
          if (rec.level === 'warn' || rec.level === 'error') {
            this.problems.push(`${rec.level} ${event}: ${rec.error ?? rec.msg ?? ''}`.slice(0, 300));
            if (this.problems.length > 20) this.problems.shift();
          }
        }
        done();
      },
    });
  }

  count(event: string): number {
    return this.counts.get(event) ?? 0;
  }
}

export interface Service {
  deps: Deps;
  events: EventCounter;
  close(): void;
}

export interface ServiceOptions {
  dataDir: string;
  /** Gmail integration on, pointed at this emulator with its service-account key (DWD). */
  emulator?: RunningEmulator;
  env?: Record<string, string>;
  /**
   * Replaces the per-mailbox budget after the config is validated. Only the local-cost stage
   * uses it: there the subject is crm-gmail's own processing, which the 250 units/s a real
   * configuration allows (50 messages/s) would hide.
   */
  rateUnitsSecOverride?: number;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  mkdirSync(opts.dataDir, { recursive: true });
  const emu = opts.emulator;
  const env: Record<string, string> = {
    CRM_DATA_DIR: opts.dataDir,
    ...(emu
      ? {
          CRM_GMAIL_INTEGRATION_ENABLED: 'true',
          CRM_GMAIL_AUTH_METHOD: 'dwd',
          CRM_GMAIL_SA_KEY_PATH: emu.keyPath,
          CRM_GMAIL_WORKSPACE_DOMAIN: emu.firmDomain,
          CRM_GMAIL_API_ROOT_URL: emu.url,
          CRM_GOOGLE_TOKEN_URL: emu.tokenUrl,
        }
      : {}),
    ...opts.env,
  };
  let config = loadConfig(env);
  if (opts.rateUnitsSecOverride !== undefined) config = { ...config, gmail: { ...config.gmail, rateUnitsSec: opts.rateUnitsSecOverride } };
  const db = await openDb({ url: config.dbUrl });
  await migrate(db);
  const events = new EventCounter();
  const log = createLogger({ level: 'debug', destination: events.stream });
  const deps: Deps = {
    db,
    config,
    clock: systemClock,
    log,
    gmail: createGmailFactory({ config, clock: systemClock, log, db }),
    background: new Background(),
  };
  return { deps, events, close: () => db.close() };
}

/** The corpus's investors and contacts imported, its mailboxes enrolled: what an admin does first. */
export async function enrolCorpus(svc: Service, emu: RunningEmulator): Promise<AccountRow[]> {
  const { deps } = svc;
  await invoke(deps, importInvestors, emu.directory);
  for (const email of emu.mailboxes) await invoke(deps, enroll, { email });
  // The import queued its addresses for a rematch; with no mail stored yet this settles the queue at no cost.
  await drainRematchQueue(deps);
  return listAccountRows(deps.db);
}
