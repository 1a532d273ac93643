// Everything a handler stands on, built once in main() (or by a test) and passed down.
import type { Background } from './background.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Db } from '../db/client.js';
import type { GmailFactory } from '../gmail/types.js';
import type { Logger } from './log.js';

export interface Deps {
  db: Db;
  config: Config;
  gmail: GmailFactory;
  clock: Clock;
  log: Logger;
  /** Work that outlives the request that started it (run-now syncs). */
  background: Background;
  /** This process's name on the mailbox leases it holds; one per process unless a test sets it. */
  instanceId?: string;
}

export type Role = 'admin' | 'member';

export interface Actor {
  id: number;
  username: string;
  email: string | null;
  /** `reader`: a feed token, which may read the feed and attachments and nothing else. */
  role: Role | 'reader';
}

/** Who is calling and from where; absent for the CLI and the scheduler (trusted, admin-equivalent). */
export interface CallContext {
  actor?: Actor;
  client?: string;
  /** Set when an admin approved a held directory change and it is being applied. */
  review?: { id: number; by?: Actor };
}
