// A consistent copy of the SQLite database for StartOS backups, run in the server's image.
//
//   node backup-db.mjs snapshot   VACUUM INTO $CRM_DATA_DIR/backup/crm.db (before the volume is copied)
//   node backup-db.mjs clean      delete that snapshot (after the copy)
//   node backup-db.mjs restore    make the restored snapshot the live database (after a restore)
//
// The live crm.db (and its -wal/-shm) are left out of the volume copy, because a file copy of a
// database being written can be torn; VACUUM INTO reads one transaction's view, so the snapshot is
// consistent even while the server writes. CRM_DATA_DIR defaults to /data, as on the box.
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';

const DB_FILE = 'crm.db';
const SIDE_FILES = ['-wal', '-shm', '-journal'];

export function paths(dataDir) {
  const live = path.join(dataDir, DB_FILE);
  const backupDir = path.join(dataDir, 'backup');
  return { live, backupDir, snapshot: path.join(backupDir, DB_FILE), partial: path.join(backupDir, `${DB_FILE}.partial`) };
}

export async function snapshot(dataDir) {
  const p = paths(dataDir);
  if (!existsSync(p.live)) return `no database at ${p.live} yet: nothing to snapshot`;
  mkdirSync(p.backupDir, { recursive: true, mode: 0o700 });
  // VACUUM INTO refuses an existing non-empty file; a leftover from an interrupted run is stale.
  for (const f of [p.partial, p.snapshot]) rmSync(f, { force: true });
  const db = createClient({ url: pathToFileURL(p.live).href });
  try {
    await db.execute({ sql: 'VACUUM INTO ?', args: [p.partial] });
  } finally {
    db.close();
  }
  const copy = createClient({ url: pathToFileURL(p.partial).href });
  try {
    const rs = await copy.execute('PRAGMA quick_check');
    const verdict = String(rs.rows[0]?.[0] ?? '');
    if (verdict !== 'ok') throw new Error(`the snapshot failed its integrity check: ${verdict}`);
  } finally {
    copy.close();
  }
  // The snapshot holds captured mail: readable by the server's user only.
  chmodSync(p.partial, 0o600);
  renameSync(p.partial, p.snapshot);
  return `snapshot of ${p.live} written to ${p.snapshot} (${statSync(p.snapshot).size} bytes)`;
}

export function clean(dataDir) {
  const p = paths(dataDir);
  const had = existsSync(p.snapshot);
  for (const f of [p.partial, p.snapshot]) rmSync(f, { force: true });
  return had ? `removed ${p.snapshot}` : `no snapshot at ${p.snapshot}`;
}

export function restore(dataDir) {
  const p = paths(dataDir);
  if (!existsSync(p.snapshot)) {
    return existsSync(p.live) ? `no snapshot at ${p.snapshot}: keeping ${p.live}` : `no snapshot at ${p.snapshot}: the server starts with a new database`;
  }
  // Side files of another database would be replayed into the restored one.
  for (const suffix of SIDE_FILES) rmSync(p.live + suffix, { force: true });
  renameSync(p.snapshot, p.live);
  return `restored ${p.live} from ${p.snapshot}`;
}

const COMMANDS = { snapshot, clean, restore };

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const command = process.argv[2];
  const dataDir = path.resolve(process.env.CRM_DATA_DIR || '/data');
  if (!command || !Object.hasOwn(COMMANDS, command)) {
    console.error(`usage: backup-db.mjs ${Object.keys(COMMANDS).join('|')} (data dir from CRM_DATA_DIR, default /data)`);
    process.exit(64);
  }
  try {
    console.log(`backup-db: ${await COMMANDS[command](dataDir)}`);
  } catch (err) {
    console.error(`backup-db: ${command} failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
