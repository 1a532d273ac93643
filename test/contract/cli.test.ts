// Every handler runs alone from the command line with JSON input, against the
// same database the server uses: `npm run fn -- <name> '<json>'`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { buildDeps } from '../../lib/run/bootstrap.js';
import { captureLogger } from '../helpers/log.js';
import { functions } from '../../functions/index.js';
import { run } from '../helpers/subprocess.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-contract-cli-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

it('npm run fn: a user created from the command line signs in over HTTP; errors print the envelope and exit non-zero', async () => {
  const created = await run(['npm', 'run', '--silent', 'fn', '--', 'createUser', '{"username":"ops","password":"long enough pw","role":"admin"}'], { CRM_DATA_DIR: dataDir });
  expect(created.code, created.stderr).toBe(0);
  expect(JSON.parse(created.stdout)).toMatchObject({ username: 'ops', role: 'admin', disabled: false });

  const bad = await run(['npm', 'run', '--silent', 'fn', '--', 'createUser', '{"username":"x"}'], { CRM_DATA_DIR: dataDir });
  expect(bad.code).not.toBe(0);
  expect(JSON.parse(bad.stdout)).toEqual({ error: { code: 'VALIDATION', message: expect.any(String), field: 'password' } });

  const deps = await buildDeps({ env: { CRM_DATA_DIR: dataDir }, log: captureLogger().log });
  try {
    const res = await createApp(deps).request('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ops', password: 'long enough pw' }) });
    expect(res.status).toBe(200);
  } finally {
    deps.db.close();
  }
});

it('every function file is registered under its own name, so the command line reaches every handler', async () => {
  const { readdirSync } = await import('node:fs');
  const dir = path.resolve(import.meta.dirname, '../../functions');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'index.ts').map((f) => f.slice(0, -3)).sort();
  expect(Object.keys(functions).sort()).toEqual(files);
  for (const [key, fn] of Object.entries(functions)) expect(fn.name, key).toBe(key);
});
