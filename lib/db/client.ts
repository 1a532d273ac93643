// libSQL access: an embedded file by default, a remote server when CRM_DB_URL says so.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client, type InArgs, type InStatement, type ResultSet, type Row, type Transaction, type TransactionMode } from '@libsql/client';

export type Db = Client;
/** A client or an open transaction: anything that executes one statement. */
export interface Executor {
  execute(stmt: InStatement): Promise<ResultSet>;
}

const BUSY_TIMEOUT_MS = 15_000;

interface DbOptions {
  url: string;
  authToken?: string;
}

export async function openDb(opts: DbOptions): Promise<Db> {
  const isFile = opts.url.startsWith('file:');
  if (isFile) {
    const file = filePathOf(opts.url);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }
  // The embedded client keeps a pool of connections, and a PRAGMA run through execute()
  // reaches only one of them. The busy timeout therefore goes in the client options
  // (applied to every connection), so writers — two transactions of this process or
  // another process sharing the file — wait for each other instead of failing with
  // SQLITE_BUSY. libSQL connections have foreign keys on by default; checked below.
  const db = createClient(isFile ? { url: opts.url, timeout: BUSY_TIMEOUT_MS } : { url: opts.url, authToken: opts.authToken });
  if (isFile) {
    // WAL lets the API read while a sync writes; it is a property of the file, not the connection.
    await db.execute('PRAGMA journal_mode = WAL');
  }
  await db.execute('PRAGMA foreign_keys = ON');
  const fk = await db.execute('PRAGMA foreign_keys');
  if (Number(fk.rows[0]?.[0]) !== 1) throw new Error('the database connection refuses foreign keys');
  return isFile ? new SerializedWrites(db) : db;
}

export function filePathOf(url: string): string {
  if (url.startsWith('file://')) return fileURLToPath(url);
  return url.slice('file:'.length).split('?')[0]!;
}

export async function all<T = Record<string, unknown>>(db: Executor, sql: string, args: InArgs = []): Promise<T[]> {
  const rs = await db.execute({ sql, args });
  return rs.rows.map((r) => rowToObject(r, rs.columns) as T);
}

export async function one<T = Record<string, unknown>>(db: Executor, sql: string, args: InArgs = []): Promise<T | undefined> {
  return (await all<T>(db, sql, args))[0];
}

export async function run(db: Executor, sql: string, args: InArgs = []) {
  return db.execute({ sql, args });
}

/**
 * Run `fn` in one write transaction: everything it wrote is kept, or (on any throw) nothing.
 * The transaction is closed either way, which also releases this process's write turn.
 */
export async function writeTx<T>(db: Db, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  const tx = await db.transaction('write');
  try {
    const result = await fn(tx);
    await tx.commit();
    return result;
  } catch (err) {
    if (!tx.closed) await tx.rollback().catch(() => undefined);
    throw err;
  } finally {
    tx.close();
  }
}

function rowToObject(row: Row, columns: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) {
    const v = row[i];
    o[columns[i]!] = typeof v === 'bigint' ? Number(v) : v;
  }
  return o;
}

/**
 * The embedded driver is synchronous: a connection waiting for SQLite's write lock sleeps
 * in the event loop's thread, so while one of our own transactions holds the lock, a
 * second writer in this process would block the very code that must commit the first —
 * a deadlock until the busy timeout. Writes in one process therefore take turns here
 * (an async mutex); readers never wait (WAL). Other processes sharing the file are
 * handled by SQLite's lock and the busy timeout.
 */
class SerializedWrites implements Client {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly inner: Client) {}

  get closed(): boolean {
    return this.inner.closed;
  }

  get protocol(): string {
    return this.inner.protocol;
  }

  private lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }

  private async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await work();
    } finally {
      release();
    }
  }

  execute(stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> {
    const stmt: InStatement = typeof stmtOrSql === 'string' ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql;
    const sql = typeof stmt === 'string' ? stmt : stmt.sql;
    if (isRead(sql)) return this.inner.execute(stmt);
    return this.exclusive(() => this.inner.execute(stmt));
  }

  batch(stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode): Promise<ResultSet[]> {
    if (mode === 'read') return this.inner.batch(stmts, mode);
    return this.exclusive(() => this.inner.batch(stmts, mode));
  }

  migrate(stmts: InStatement[]): Promise<ResultSet[]> {
    return this.exclusive(() => this.inner.migrate(stmts));
  }

  async transaction(mode: TransactionMode = 'write'): Promise<Transaction> {
    if (mode === 'read') return this.inner.transaction(mode);
    const release = await this.lock();
    let tx: Transaction;
    try {
      tx = await this.inner.transaction(mode);
    } catch (err) {
      release();
      throw err;
    }
    let released = false;
    const done = () => {
      if (!released) {
        released = true;
        release();
      }
    };
    // The lock is held until the transaction settles, whichever way it ends.
    const wrapped: Transaction = {
      get closed() {
        return tx.closed;
      },
      execute: (st: InStatement) => tx.execute(st),
      batch: (st: InStatement[]) => tx.batch(st),
      executeMultiple: (sql: string) => tx.executeMultiple(sql),
      commit: async () => {
        try {
          await tx.commit();
        } finally {
          done();
        }
      },
      rollback: async () => {
        try {
          await tx.rollback();
        } finally {
          done();
        }
      },
      close: () => {
        tx.close();
        done();
      },
    };
    return wrapped;
  }

  executeMultiple(sql: string): Promise<void> {
    return this.exclusive(() => this.inner.executeMultiple(sql));
  }

  sync() {
    return this.inner.sync();
  }

  close(): void {
    this.inner.close();
  }

  reconnect(): void {
    this.inner.reconnect();
  }
}

function isRead(sql: string): boolean {
  return /^\s*(SELECT|EXPLAIN)\b/i.test(sql) || /^\s*PRAGMA\s+\w+\s*;?\s*$/i.test(sql);
}
