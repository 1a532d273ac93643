// libSQL access: an embedded file by default, a remote server when CRM_DB_URL says so.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client, type InArgs, type InStatement, type Row } from '@libsql/client';

export type Db = Client;
export type { InStatement, Row };

export interface DbOptions {
  url: string;
  authToken?: string;
}

export async function openDb(opts: DbOptions): Promise<Db> {
  const isFile = opts.url.startsWith('file:');
  if (isFile) {
    const file = filePathOf(opts.url);
    mkdirSync(path.dirname(file), { recursive: true });
  }
  const db = createClient({ url: opts.url, authToken: opts.authToken });
  if (isFile) {
    // WAL lets the API read while a sync writes; the busy timeout makes two processes
    // sharing one file wait for each other instead of failing with SQLITE_BUSY.
    await db.execute('PRAGMA journal_mode = WAL');
    await db.execute('PRAGMA busy_timeout = 10000');
    await db.execute('PRAGMA synchronous = NORMAL');
  }
  await db.execute('PRAGMA foreign_keys = ON');
  return db;
}

export function filePathOf(url: string): string {
  if (url.startsWith('file://')) return fileURLToPath(url);
  return url.slice('file:'.length).split('?')[0]!;
}

export async function all<T = Record<string, unknown>>(db: Db, sql: string, args: InArgs = []): Promise<T[]> {
  const rs = await db.execute({ sql, args });
  return rs.rows.map((r) => rowToObject(r, rs.columns) as T);
}

export async function one<T = Record<string, unknown>>(db: Db, sql: string, args: InArgs = []): Promise<T | undefined> {
  return (await all<T>(db, sql, args))[0];
}

export async function run(db: Db, sql: string, args: InArgs = []) {
  return db.execute({ sql, args });
}

function rowToObject(row: Row, columns: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) {
    const v = row[i];
    o[columns[i]!] = typeof v === 'bigint' ? Number(v) : v;
  }
  return o;
}
