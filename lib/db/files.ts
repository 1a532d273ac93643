// The data directory holds mail bodies, password hashes and secrets: it is private to the
// service's user. Created 0700 with its database files 0600, and checked at every start: a
// directory or database file that group or others can read (an old install, a restored
// backup, a careless chmod) is tightened, with a log line saying so.
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

interface Tightened {
  path: string;
  from: string;
  to: string;
}

function tighten(file: string, mode: number, out: Tightened[]): void {
  let st;
  try {
    st = statSync(file);
  } catch {
    return;
  }
  const current = st.mode & 0o777;
  if ((current & 0o077) === 0) return;
  chmodSync(file, mode);
  out.push({ path: file, from: current.toString(8), to: mode.toString(8) });
}

/** Make the data directory (0700) and tighten it and the database files (0600); returns what changed. */
export function secureDataDir(dataDir: string, dbFile?: string): Tightened[] {
  const out: Tightened[] = [];
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  tighten(dataDir, 0o700, out);
  for (const sub of ['secrets', 'attachments']) tighten(path.join(dataDir, sub), 0o700, out);
  if (dbFile) {
    const dir = path.dirname(dbFile);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`]) tighten(f, 0o600, out);
  }
  return out;
}
