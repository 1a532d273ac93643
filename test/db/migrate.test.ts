import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { all, openDb, type Db } from '../../lib/db/client.js';
import { migrate, MigrationError, MIGRATIONS_DIR } from '../../lib/db/migrate.js';

let dir: string;
let migrations: string;
let db: Db;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'crm-migrate-'));
  migrations = path.join(dir, 'migrations');
  cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
  db = await openDb({ url: `file:${path.join(dir, 'crm.db')}` });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const files = () => readdirSync(migrations).filter((f) => f.endsWith('.sql')).sort();
const tables = async () => (await all<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((t) => t.name);

describe('migrations', () => {
  it('a fresh database gets every migration, in order, each recorded in the ledger', async () => {
    expect(await migrate(db, migrations)).toEqual(files());
    const ledger = await all<{ name: string; checksum: string }>(db, 'SELECT name, checksum FROM schema_migrations ORDER BY name');
    expect(ledger.map((r) => r.name)).toEqual(files());
    for (const r of ledger) expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
    const t = await tables();
    for (const name of ['users', 'tokens', 'login_attempts', 'audit_log', 'rematch_reviews', 'investors', 'investor_domains', 'investor_emails', 'contacts', 'contact_emails', 'exclusions', 'emails', 'email_accounts', 'email_rematch_queue']) {
      expect(t).toContain(name);
    }
  });

  it('running again applies nothing and changes nothing', async () => {
    await migrate(db, migrations);
    const before = await all(db, 'SELECT * FROM schema_migrations ORDER BY name');
    expect(await migrate(db, migrations)).toEqual([]);
    expect(await all(db, 'SELECT * FROM schema_migrations ORDER BY name')).toEqual(before);
  });

  it('a migration file changed after it was applied stops the start, naming the file', async () => {
    await migrate(db, migrations);
    const first = files()[0]!;
    appendFileSync(path.join(migrations, first), '\n-- edited later\n');
    await expect(migrate(db, migrations)).rejects.toThrow(MigrationError);
    await expect(migrate(db, migrations)).rejects.toThrow(new RegExp(`${first} changed after it was applied`));
  });

  it('a migration recorded as applied whose file is gone stops the start', async () => {
    await migrate(db, migrations);
    const last = files().at(-1)!;
    rmSync(path.join(migrations, last));
    await expect(migrate(db, migrations)).rejects.toThrow(new RegExp(`${last} is recorded as applied but its file is missing`));
  });

  it('a new migration file added later is applied on the next start, alone', async () => {
    await migrate(db, migrations);
    const next = path.join(migrations, '9999_extra.sql');
    appendFileSync(next, 'CREATE TABLE extra_things (id INTEGER PRIMARY KEY);\n');
    expect(await migrate(db, migrations)).toEqual(['9999_extra.sql']);
    expect(await tables()).toContain('extra_things');
  });
});
