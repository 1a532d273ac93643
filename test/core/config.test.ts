import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/core/config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'crm-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The problems loadConfig reports for this environment (fails the test when it accepts it). */
function problems(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ CRM_DATA_DIR: dir, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

const variables = (err: ConfigError) => err.problems.map((p) => p.variable).sort();

function keyFile(mode: number): string {
  const file = path.join(dir, 'sa.json');
  writeFileSync(file, '{"type":"service_account"}');
  chmodSync(file, mode);
  return file;
}

const gmailOn = { CRM_GMAIL_INTEGRATION_ENABLED: 'true', CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.com' };

describe('loadConfig', () => {
  it('defaults: port 8080 on 127.0.0.1, Gmail off, legacy quota at 150 units/s, database under the data dir', () => {
    const c = loadConfig({ CRM_DATA_DIR: dir });
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.gmail.enabled).toBe(false);
    expect(c.gmail.rateUnitsSec).toBe(150);
    expect(c.gmail.backfillPageSize).toBe(500);
    expect(c.dbUrl).toBe(`file:${path.join(dir, 'crm.db')}`);
  });

  it.each([
    ['CRM_PORT', 'abc'],
    ['CRM_PORT', '70000'],
    ['CRM_GMAIL_BACKFILL_PAGE_SIZE', '0'],
    ['CRM_GMAIL_BACKFILL_PAGE_SIZE', '9999'],
    ['CRM_GMAIL_AUTH_METHOD', 'password'],
    ['CRM_GMAIL_QUOTA_COSTS', '2027'],
    ['CRM_GMAIL_INTEGRATION_ENABLED', 'maybe'],
    ['CRM_GMAIL_BACKFILL_SINCE', 'last tuesday'],
    ['CRM_GMAIL_BACKFILL_SINCE', '2020-02-30'],
    ['CRM_GMAIL_BACKFILL_SINCE', '2021-13-01'],
    ['CRM_GMAIL_API_ROOT_URL', 'not a url'],
    ['CRM_SECRET_KEY', 'abc123'],
  ])('%s=%s is refused, naming the variable', (variable, value) => {
    const err = problems({ [variable]: value });
    expect(variables(err)).toEqual([variable]);
    expect(err.message).toContain(variable);
  });

  it('Gmail enabled with dwd and no key path is refused, naming CRM_GMAIL_SA_KEY_PATH', () => {
    expect(variables(problems(gmailOn))).toEqual(['CRM_GMAIL_SA_KEY_PATH']);
  });

  it('Gmail enabled without a workspace domain is refused', () => {
    const err = problems({ CRM_GMAIL_INTEGRATION_ENABLED: 'true', CRM_GMAIL_SA_KEY_PATH: keyFile(0o600) });
    expect(variables(err)).toEqual(['CRM_GMAIL_WORKSPACE_DOMAIN']);
  });

  it('a key readable by group (chmod 644) is refused; the same key at 600 is accepted', () => {
    const file = keyFile(0o644);
    const err = problems({ ...gmailOn, CRM_GMAIL_SA_KEY_PATH: file });
    expect(variables(err)).toEqual(['CRM_GMAIL_SA_KEY_PATH']);
    expect(err.message).toMatch(/readable by group or others/);
    chmodSync(file, 0o600);
    const c = loadConfig({ CRM_DATA_DIR: dir, ...gmailOn, CRM_GMAIL_SA_KEY_PATH: file });
    expect(c.gmail.enabled).toBe(true);
    expect(c.gmail.saKeyPath).toBe(file);
    expect(c.gmail.workspaceDomains).toEqual(['fund.com']);
  });

  it('a key path with no file behind it is refused', () => {
    const err = problems({ ...gmailOn, CRM_GMAIL_SA_KEY_PATH: path.join(dir, 'missing.json') });
    expect(err.message).toMatch(/no key file/);
  });

  it('oauth enabled with an incomplete client names each missing variable', () => {
    const err = problems({ ...gmailOn, CRM_GMAIL_AUTH_METHOD: 'oauth', CRM_GMAIL_OAUTH_CLIENT_ID: 'id.apps' });
    expect(variables(err)).toEqual(['CRM_GMAIL_OAUTH_CLIENT_SECRET', 'CRM_GMAIL_OAUTH_REDIRECT_URL']);
  });

  it('the 2026 quota model refuses a rate of 150 and defaults to 100', () => {
    const err = problems({ CRM_GMAIL_QUOTA_COSTS: '2026', CRM_GMAIL_RATE_UNITS_SEC: '150' });
    expect(variables(err)).toEqual(['CRM_GMAIL_RATE_UNITS_SEC']);
    expect(loadConfig({ CRM_DATA_DIR: dir, CRM_GMAIL_QUOTA_COSTS: '2026' }).gmail.rateUnitsSec).toBe(100);
    expect(loadConfig({ CRM_DATA_DIR: dir, CRM_GMAIL_QUOTA_COSTS: '2026', CRM_GMAIL_RATE_UNITS_SEC: '80' }).gmail.rateUnitsSec).toBe(80);
  });

  it('an empty string counts as unset', () => {
    const c = loadConfig({
      CRM_DATA_DIR: dir,
      CRM_PORT: '',
      CRM_GMAIL_BACKFILL_PAGE_SIZE: '  ',
      CRM_GMAIL_INTEGRATION_ENABLED: '',
      CRM_ADMIN_USERNAME: '',
      CRM_ADMIN_PASSWORD: '',
      CRM_SECRET_KEY: '',
    });
    expect(c.port).toBe(8080);
    expect(c.gmail.backfillPageSize).toBe(500);
    expect(c.gmail.enabled).toBe(false);
    expect(c.admin).toBeUndefined();
    expect(c.secretKeyHex).toBeUndefined();
  });

  it('one message names every bad variable at once', () => {
    const err = problems({ CRM_PORT: 'abc', CRM_GMAIL_BACKFILL_PAGE_SIZE: '0', CRM_GMAIL_AUTH_METHOD: 'ldap', CRM_GMAIL_QUOTA_COSTS: 'x' });
    expect(variables(err)).toEqual(['CRM_GMAIL_AUTH_METHOD', 'CRM_GMAIL_BACKFILL_PAGE_SIZE', 'CRM_GMAIL_QUOTA_COSTS', 'CRM_PORT']);
    for (const v of variables(err)) expect(err.message).toContain(v);
  });

  it('secret values never appear in the message', () => {
    const secrets = {
      CRM_ADMIN_PASSWORD: 'short7!',
      CRM_SECRET_KEY: 'zz-not-hex-secret-value',
      CRM_DB_AUTH_TOKEN: 'db-token-value-1234',
      CRM_GMAIL_OAUTH_CLIENT_SECRET: 'oauth-secret-value-5678',
    };
    const err = problems({ ...secrets, CRM_ADMIN_USERNAME: 'admin', CRM_PORT: 'abc', CRM_GMAIL_OAUTH_REDIRECT_URL: 'nope' });
    expect(variables(err)).toEqual(['CRM_GMAIL_OAUTH_REDIRECT_URL', 'CRM_PORT', 'CRM_SECRET_KEY']);
    for (const value of Object.values(secrets)) expect(err.message).not.toContain(value);
  });

  it('a short admin password does not stop the start (the operator chose it); the bootstrap warns instead', () => {
    const c = loadConfig({ CRM_DATA_DIR: '/nonexistent/crm-data', CRM_ADMIN_USERNAME: 'admin', CRM_ADMIN_PASSWORD: 'secret' });
    expect(c.admin).toMatchObject({ username: 'admin', password: 'secret' });
  });

  it('an admin username without a password (or the reverse) is refused', () => {
    expect(variables(problems({ CRM_ADMIN_USERNAME: 'admin' }))).toEqual(['CRM_ADMIN_PASSWORD']);
    expect(variables(problems({ CRM_ADMIN_PASSWORD: 'long enough pw' }))).toEqual(['CRM_ADMIN_USERNAME']);
  });

  it('the admin email is optional and kept in lower case', () => {
    const c = loadConfig({ CRM_DATA_DIR: dir, CRM_ADMIN_USERNAME: 'admin', CRM_ADMIN_PASSWORD: 'long enough pw', CRM_ADMIN_EMAIL: 'Boss@Fund.com' });
    expect(c.admin).toEqual({ username: 'admin', password: 'long enough pw', email: 'boss@fund.com' });
  });
});
