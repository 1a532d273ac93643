// The rules that live in one place: the write transaction, the time format, the secret-key
// failure at request time, and the answer while the Gmail integration is off.
import { afterEach, describe, expect, it } from 'vitest';
import { one, run, writeTx } from '../../lib/db/client.js';
import { AppError, envelope, gmailDisabled } from '../../lib/core/errors.js';
import { isoAt, nowIso } from '../../lib/core/time.js';
import { SecretKeyError, withSecretKey } from '../../lib/auth/secrets.js';
import { FakeClock } from '../helpers/clock.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';

let deps: TestDeps | undefined;
afterEach(async () => {
  await deps?.cleanup();
  deps = undefined;
});

const countOf = async (d: TestDeps) => (await one<{ n: number }>(d.db, "SELECT COUNT(*) AS n FROM exclusions WHERE domain LIKE '%.example'"))!.n;
const addExclusion = (tx: Parameters<Parameters<typeof writeTx>[1]>[0], domain: string) =>
  run(tx, 'INSERT INTO exclusions (domain, created_at) VALUES (?, ?)', [domain, '2026-01-15T12:00:00.000Z']);

describe('writeTx', () => {
  it('keeps every write of a transaction that returns, and answers its result', async () => {
    deps = await makeDeps();
    const out = await writeTx(deps.db, async (tx) => {
      await addExclusion(tx, 'a.example');
      await addExclusion(tx, 'b.example');
      return 'done';
    });
    expect(out).toBe('done');
    expect(await countOf(deps)).toBe(2);
  });

  it('keeps nothing of a transaction that throws, passes the error on, and lets the next writer in', async () => {
    deps = await makeDeps();
    const boom = new Error('halfway');
    await expect(
      writeTx(deps.db, async (tx) => {
        await addExclusion(tx, 'a.example');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await countOf(deps)).toBe(0);
    // Had the failed transaction kept the process's write turn, this would wait forever.
    await writeTx(deps.db, (tx) => addExclusion(tx, 'c.example'));
    expect(await countOf(deps)).toBe(1);
  });
});

describe('time format', () => {
  it('spells instants as YYYY-MM-DDTHH:MM:SS.sssZ in UTC', () => {
    expect(isoAt(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05.006Z');
    expect(nowIso(new FakeClock(Date.parse('2026-01-15T12:00:00Z')))).toBe('2026-01-15T12:00:00.000Z');
  });
});

describe('withSecretKey', () => {
  it('turns a key problem into a 500 that names it, thrown or rejected', async () => {
    const bad = new SecretKeyError('secret key /x/secret.key is readable by group or others');
    let thrown: unknown;
    try {
      withSecretKey(() => {
        throw bad;
      });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({ code: 'INTERNAL', status: 500, message: bad.message, cause: bad });
    await expect(withSecretKey(() => Promise.reject(bad))).rejects.toMatchObject({ code: 'INTERNAL', message: bad.message });
  });

  it('passes results and every other error through unchanged', async () => {
    const other = new Error('not a key problem');
    expect(withSecretKey(() => 7)).toBe(7);
    await expect(withSecretKey(async () => 'sealed')).resolves.toBe('sealed');
    expect(() =>
      withSecretKey(() => {
        throw other;
      }),
    ).toThrow(other);
    await expect(withSecretKey(() => Promise.reject(other))).rejects.toBe(other);
  });
});

describe('gmailDisabled', () => {
  it('is a 503 DISABLED naming the variable, with what it means for this call when given', () => {
    expect(envelope(gmailDisabled())).toEqual({
      error: { code: 'DISABLED', message: 'Gmail integration is disabled (CRM_GMAIL_INTEGRATION_ENABLED=false)' },
    });
    expect(gmailDisabled().status).toBe(503);
    expect(gmailDisabled('nothing was stored').message).toBe('Gmail integration is disabled (CRM_GMAIL_INTEGRATION_ENABLED=false); nothing was stored');
  });
});

describe('configuration is the one reader of the environment', () => {
  it('LOG_LEVEL is read by loadConfig: info by default, a known level kept, anything else refused naming it', async () => {
    const { ConfigError, loadConfig } = await import('../../lib/core/config.js');
    expect(loadConfig({ CRM_DATA_DIR: '/tmp/x' }).logLevel).toBe('info');
    expect(loadConfig({ CRM_DATA_DIR: '/tmp/x', LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    let err: unknown;
    try {
      loadConfig({ CRM_DATA_DIR: '/tmp/x', LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as InstanceType<typeof ConfigError>).problems).toEqual([{ variable: 'LOG_LEVEL', message: expect.stringContaining('debug') }]);
  });

  it('nothing in lib/ or functions/ but lib/core/config.ts reads process.env', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const path = await import('node:path');
    const root = path.resolve(import.meta.dirname, '../..');
    const files = ['lib', 'functions'].flatMap((d) =>
      readdirSync(path.join(root, d), { recursive: true, encoding: 'utf8' })
        .filter((n) => n.endsWith('.ts'))
        .map((n) => `${d}/${n}`),
    );
    const readers = files.filter((f) => f !== 'lib/core/config.ts' && f !== 'lib/run/bootstrap.ts' && /process\.env\b/.test(readFileSync(path.join(root, f), 'utf8')));
    expect(readers).toEqual([]);
  });
});
