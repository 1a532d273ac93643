// With Gmail enabled, the start is refused (naming the variable) when the domain, the key or the
// OAuth client is missing or unsafe, as is any bad value: loadConfig, and once through `npm start` itself.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/core/config.js';
import { run } from '../helpers/subprocess.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'crm-refusal-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function key(mode: number): string {
  const file = path.join(dir, `sa-${mode.toString(8)}.json`);
  writeFileSync(file, JSON.stringify({ type: 'service_account', client_email: 'x@y.iam.gserviceaccount.com' }));
  chmodSync(file, mode);
  return file;
}

/** The variables loadConfig names when it refuses `env`; [] when it accepts it. */
function refused(env: Record<string, string>): string[] {
  try {
    loadConfig({ CRM_DATA_DIR: dir, ...env });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    for (const p of e.problems) expect(e.message).toContain(p.variable);
    return e.problems.map((p) => p.variable).sort();
  }
}

const on = { CRM_GMAIL_INTEGRATION_ENABLED: 'true' };
const oauthClient = {
  CRM_GMAIL_OAUTH_CLIENT_ID: 'id.apps.googleusercontent.com',
  CRM_GMAIL_OAUTH_CLIENT_SECRET: 'secret',
  CRM_GMAIL_OAUTH_REDIRECT_URL: 'https://crm.example/api/email/oauth/callback',
};

describe('with Gmail enabled the start stops, naming the variable', () => {
  it('when the workspace domain is missing (dwd and oauth alike)', () => {
    expect(refused({ ...on, CRM_GMAIL_SA_KEY_PATH: key(0o600) })).toEqual(['CRM_GMAIL_WORKSPACE_DOMAIN']);
    expect(refused({ ...on, CRM_GMAIL_AUTH_METHOD: 'oauth', ...oauthClient })).toEqual(['CRM_GMAIL_WORKSPACE_DOMAIN']);
  });

  it('when the dwd key is missing, or readable by group or by others', () => {
    const domain = { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.example' };
    expect(refused({ ...on, ...domain })).toEqual(['CRM_GMAIL_SA_KEY_PATH']);
    expect(refused({ ...on, ...domain, CRM_GMAIL_SA_KEY_PATH: path.join(dir, 'absent.json') })).toEqual(['CRM_GMAIL_SA_KEY_PATH']);
    for (const mode of [0o640, 0o604, 0o644, 0o666]) {
      expect(refused({ ...on, ...domain, CRM_GMAIL_SA_KEY_PATH: key(mode) }), mode.toString(8)).toEqual(['CRM_GMAIL_SA_KEY_PATH']);
    }
    for (const mode of [0o600, 0o400]) {
      expect(refused({ ...on, ...domain, CRM_GMAIL_SA_KEY_PATH: key(mode) }), mode.toString(8)).toEqual([]);
    }
  });

  it('when the oauth client is incomplete; a complete one needs no key', () => {
    const domain = { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.example', CRM_GMAIL_AUTH_METHOD: 'oauth' };
    expect(refused({ ...on, ...domain })).toEqual(['CRM_GMAIL_OAUTH_CLIENT_ID', 'CRM_GMAIL_OAUTH_CLIENT_SECRET', 'CRM_GMAIL_OAUTH_REDIRECT_URL']);
    expect(refused({ ...on, ...domain, ...oauthClient, CRM_GMAIL_OAUTH_CLIENT_SECRET: '' })).toEqual(['CRM_GMAIL_OAUTH_CLIENT_SECRET']);
    expect(refused({ ...on, ...domain, ...oauthClient })).toEqual([]);
  });

  it('with Gmail off none of this is asked for', () => {
    expect(refused({ CRM_GMAIL_INTEGRATION_ENABLED: 'false', CRM_GMAIL_SA_KEY_PATH: key(0o644) })).toEqual([]);
    expect(refused({})).toEqual([]);
  });

  it('npm start exits non-zero and names the variable on stderr', async () => {
    const r = await run(['npx', 'tsx', 'lib/run/main.ts'], { CRM_DATA_DIR: dir, CRM_PORT: '0', CRM_GMAIL_INTEGRATION_ENABLED: 'true', CRM_GMAIL_SA_KEY_PATH: key(0o600) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('CRM_GMAIL_WORKSPACE_DOMAIN');
  });
});
