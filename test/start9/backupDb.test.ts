// start9/scripts/backup-db.mjs: the StartOS backup copies a VACUUM INTO snapshot, never the live
// database files; a restore turns the snapshot back into the live database.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../lib/db/client.js';
import { migrate } from '../../lib/db/migrate.js';

const SCRIPT = fileURLToPath(new URL('../../start9/scripts/backup-db.mjs', import.meta.url));
const temps: string[] = [];
const open: Db[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'crm-backup-'));
  temps.push(dir);
  return dir;
}

function backupDb(dir: string, command: string) {
  return spawnSync(process.execPath, [SCRIPT, command], { env: { PATH: process.env.PATH, CRM_DATA_DIR: dir }, encoding: 'utf8' });
}

async function liveDb(dir: string, investors: number): Promise<Db> {
  const db = await openDb({ url: `file:${path.join(dir, 'crm.db')}` });
  open.push(db);
  await migrate(db);
  const now = '2026-01-01T00:00:00.000Z';
  await db.batch(
    Array.from({ length: investors }, (_, i) => ({ sql: 'INSERT INTO investors (name, created_at, updated_at) VALUES (?, ?, ?)', args: [`Investor ${i}`, now, now] })),
    'write',
  );
  return db;
}

async function countInvestors(file: string): Promise<number> {
  const db = createClient({ url: pathToFileURL(file).href });
  try {
    const rs = await db.execute('SELECT count(*) FROM investors');
    return Number(rs.rows[0]![0]);
  } finally {
    db.close();
  }
}

describe('backup-db.mjs', () => {
  it('snapshot while the server holds the database open: every committed row, WAL included, in one 0600 file', async () => {
    const dir = dataDir();
    const db = await liveDb(dir, 250);
    // Committed but not checkpointed: these rows live only in crm.db-wal, which a file copy of crm.db alone would lose.
    expect(existsSync(path.join(dir, 'crm.db-wal'))).toBe(true);
    const r = backupDb(dir, 'snapshot');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const snapshot = path.join(dir, 'backup', 'crm.db');
    expect(r.stdout).toContain(`written to ${snapshot}`);
    expect(statSync(snapshot).mode & 0o777).toBe(0o600);
    expect(existsSync(`${snapshot}-wal`)).toBe(false);
    expect(await countInvestors(snapshot)).toBe(250);
    // The server keeps writing afterwards; the snapshot is unaffected.
    await db.execute({ sql: 'INSERT INTO investors (name, created_at, updated_at) VALUES (?, ?, ?)', args: ['Late', 'x', 'x'] });
    expect(await countInvestors(snapshot)).toBe(250);
  });

  it('a second snapshot replaces the first and a leftover partial file', async () => {
    const dir = dataDir();
    const db = await liveDb(dir, 3);
    expect(backupDb(dir, 'snapshot').status).toBe(0);
    await db.execute({ sql: 'INSERT INTO investors (name, created_at, updated_at) VALUES (?, ?, ?)', args: ['Fourth', 'x', 'x'] });
    writeFileSync(path.join(dir, 'backup', 'crm.db.partial'), 'interrupted run');
    expect(backupDb(dir, 'snapshot').status).toBe(0);
    expect(await countInvestors(path.join(dir, 'backup', 'crm.db'))).toBe(4);
    expect(existsSync(path.join(dir, 'backup', 'crm.db.partial'))).toBe(false);
  });

  it('snapshot before the server ever ran → nothing to do, success', () => {
    const dir = dataDir();
    const r = backupDb(dir, 'snapshot');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('nothing to snapshot');
    expect(existsSync(path.join(dir, 'backup', 'crm.db'))).toBe(false);
  });

  it('clean removes the snapshot after the copy', async () => {
    const dir = dataDir();
    await liveDb(dir, 1);
    backupDb(dir, 'snapshot');
    const r = backupDb(dir, 'clean');
    expect(r.status).toBe(0);
    expect(existsSync(path.join(dir, 'backup', 'crm.db'))).toBe(false);
  });

  it('restore makes the snapshot the live database and drops stale -wal/-shm files', async () => {
    const source = dataDir();
    const db = await liveDb(source, 42);
    backupDb(source, 'snapshot');
    db.close();
    open.splice(open.indexOf(db), 1);

    // What the volume holds after StartOS restored the copy: the snapshot, plus stale side files.
    const restored = dataDir();
    mkdirSync(path.join(restored, 'backup'));
    copyFileSync(path.join(source, 'backup', 'crm.db'), path.join(restored, 'backup', 'crm.db'));
    writeFileSync(path.join(restored, 'crm.db-wal'), 'stale');
    writeFileSync(path.join(restored, 'crm.db-shm'), 'stale');

    const r = backupDb(restored, 'restore');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('restored');
    expect(existsSync(path.join(restored, 'backup', 'crm.db'))).toBe(false);
    expect(existsSync(path.join(restored, 'crm.db-wal'))).toBe(false);
    expect(existsSync(path.join(restored, 'crm.db-shm'))).toBe(false);
    expect(await countInvestors(path.join(restored, 'crm.db'))).toBe(42);
  });

  it('restore without a snapshot keeps what is there', async () => {
    const dir = dataDir();
    const r = backupDb(dir, 'restore');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('new database');
  });

  it('an unknown command → usage, exit 64', () => {
    const r = backupDb(dataDir(), 'dump');
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('usage: backup-db.mjs snapshot|clean|restore');
  });
});
