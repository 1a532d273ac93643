// Safe defaults on disk and in the session table: a private data directory and database,
// tightened at start when found open; expired sessions deleted by a scheduled job.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { pruneSessions } from '../../functions/pruneSessions.js';
import { issueToken, TOKEN_TTL_MS } from '../../lib/auth/credentials.js';
import { FakeClock } from '../helpers/clock.js';
import { invoke } from '../../lib/core/fn.js';
import { captureLogger } from '../helpers/log.js';
import { all } from '../../lib/db/client.js';
import { buildDeps } from '../../lib/run/bootstrap.js';
import { jobs } from '../../lib/run/schedule.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

const dirs: string[] = [];
let deps: TestDeps | undefined;
afterEach(async () => {
  await deps?.cleanup();
  deps = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

it('a fresh start creates the data directory 0700 and crm.db 0600', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'crm-modes-'));
  dirs.push(root);
  const dataDir = path.join(root, 'data');
  const built = await buildDeps({ env: { CRM_DATA_DIR: dataDir }, log: captureLogger().log });
  try {
    expect(mode(dataDir)).toBe('700');
    expect(mode(path.join(dataDir, 'crm.db'))).toBe('600');
  } finally {
    built.db.close();
  }
});

it('an existing group- or world-readable crm.db and data directory are tightened at start, with a log line', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'crm-modes-'));
  dirs.push(root);
  const dataDir = path.join(root, 'data');
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  writeFileSync(path.join(dataDir, 'crm.db'), '');
  chmodSync(path.join(dataDir, 'crm.db'), 0o644);
  const logs = captureLogger();
  const built = await buildDeps({ env: { CRM_DATA_DIR: dataDir }, log: logs.log });
  try {
    expect(mode(dataDir)).toBe('700');
    expect(mode(path.join(dataDir, 'crm.db'))).toBe('600');
    const lines = logs.lines.filter((l) => l.event === 'files.tightened');
    expect(lines.map((l) => [path.basename(String(l.path)), l.from, l.to]).sort()).toEqual([
      ['crm.db', '644', '600'],
      ['data', '755', '700'],
    ]);
  } finally {
    built.db.close();
  }
});

it('expired and revoked sessions are deleted by the hourly pruneSessions job; live ones stay', async () => {
  const clock = new FakeClock();
  deps = await makeDeps({ clock });
  const u = await userWithToken(deps, { role: 'member' });
  await clock.advance(TOKEN_TTL_MS + 25 * 3600_000);
  await issueToken(deps.db, u.id, clock.now());
  const out = await invoke(deps, pruneSessions, {});
  expect(out).toMatchObject({ tokens_deleted: 1 });
  expect(await all(deps.db, 'SELECT id FROM tokens')).toHaveLength(1);
  expect(jobs(deps).find((j) => j.name === 'pruneSessions')).toMatchObject({ every: { seconds: 3600 }, enabled: true });
});
