// Numbered SQL files applied in order, each with its ledger row in one write batch, so a
// crash never leaves a migration half-applied or applied-but-unrecorded.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './client.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

function readMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** Split a migration into statements; our migrations keep one statement per `;`-ended line group. */
function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function migrate(db: Db, dir = MIGRATIONS_DIR, now = () => new Date().toISOString()): Promise<string[]> {
  await db.execute(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const files = readMigrations(dir);
  const ledger = (await db.execute('SELECT name, checksum FROM schema_migrations ORDER BY name')).rows;
  const byName = new Map(files.map((f) => [f.name, f]));
  for (const row of ledger) {
    const name = String(row.name);
    const f = byName.get(name);
    if (!f) {
      throw new MigrationError(
        `migration ${name} is recorded as applied but its file is missing from ${dir}; restore the file (migrations are never deleted)`,
      );
    }
    if (f.checksum !== String(row.checksum)) {
      throw new MigrationError(
        `migration ${name} changed after it was applied (checksum differs); restore the original file and put changes in a new migration`,
      );
    }
  }
  const applied = new Set(ledger.map((r) => String(r.name)));
  const done: string[] = [];
  for (const f of files) {
    if (applied.has(f.name)) continue;
    const stmts = splitStatements(f.sql).map((sql) => ({ sql, args: [] }));
    stmts.push({ sql: 'INSERT INTO schema_migrations (name, checksum, applied_at) VALUES (?, ?, ?)', args: [f.name, f.checksum, now()] as never[] });
    await db.batch(stmts, 'write');
    done.push(f.name);
  }
  return done;
}
