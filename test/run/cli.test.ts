import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../helpers/subprocess.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-cli-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const fn = (...args: string[]) => run(['npx', 'tsx', 'lib/run/cli.ts', ...args], { CRM_DATA_DIR: dataDir });

describe('the command line (npm run fn)', () => {
  it('runs a function against the configured database, prints its JSON result and exits 0', async () => {
    const created = await fn('createInvestor', '{"name":"X","domains":["X.com"]}');
    expect(created.stderr).not.toMatch(/Error/);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ id: 1, name: 'X', domains: ['x.com'], emails: [] });

    const listed = await fn('listInvestors', '{}');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).investors).toEqual([expect.objectContaining({ name: 'X' })]);
  });

  it('bad input prints the error envelope and exits non-zero', async () => {
    const r = await fn('createInvestor', '{"name":"X","domains":["https://x.com"]}');
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'VALIDATION', message: expect.stringContaining('URL'), field: 'domains[0]' } });
  });

  it('input that is not JSON prints the error envelope and exits non-zero', async () => {
    const r = await fn('createInvestor', '{name: X}');
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'VALIDATION', message: 'input is not valid JSON', field: 'input' } });
  });

  it('an unknown function exits non-zero, naming the known ones', async () => {
    const r = await fn('noSuchFunction', '{}');
    expect(r.code).not.toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.error.code).toBe('NOT_FOUND');
    expect(out.error.message).toContain('createInvestor');
    // A name every object has is still not a function of the registry.
    const inherited = await fn('constructor', '{}');
    expect(inherited.code).not.toBe(0);
    expect(JSON.parse(inherited.stdout).error.code).toBe('NOT_FOUND');
  });
});
