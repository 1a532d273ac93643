// start9/docker_entrypoint.sh under the two POSIX shells a box may give it (Debian's dash and
// busybox sh), against temp data directories. Logs go to stderr, so stdout is the exec'd command's.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ENTRYPOINT = fileURLToPath(new URL('../../start9/docker_entrypoint.sh', import.meta.url));
const MARKER = 'PRIVATE-KEY-MATERIAL-7f3c9a';
const GOOD_KEY = JSON.stringify({
  type: 'service_account',
  client_email: 'crm@firm-project.iam.gserviceaccount.com',
  private_key: `-----BEGIN PRIVATE KEY-----\\n${MARKER}\\n-----END PRIVATE KEY-----\\n`,
});
const NOBODY = 65534;

const which = (cmd: string): string | undefined => {
  const r = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

const isRoot = process.getuid?.() === 0;
const setpriv = which('setpriv');
const shellcheck = which('shellcheck');
const dash = which('dash');
const busybox = which('busybox');
// Absolute paths: one test runs the script with a PATH that holds only a few tools.
const shells = [
  { name: 'dash', argv: [dash ?? 'dash'], missing: dash ? undefined : 'dash not installed (apt-get install dash)' },
  { name: 'busybox sh', argv: [busybox ?? 'busybox', 'sh'], missing: busybox ? undefined : 'busybox not installed (apt-get install busybox)' },
];

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh base directory holding `data/` (the data dir) and a copy of the entrypoint. */
function sandbox(): { base: string; dataDir: string; script: string; keyPath: string } {
  const base = mkdtempSync(path.join(tmpdir(), 'crm-entry-'));
  temps.push(base);
  const dataDir = path.join(base, 'data');
  mkdirSync(dataDir);
  const script = path.join(base, 'docker_entrypoint.sh');
  copyFileSync(ENTRYPOINT, script);
  return { base, dataDir, script, keyPath: path.join(dataDir, 'secrets', 'gmail-service-account.json') };
}

function writeKey(dataDir: string, content: string, mode = 0o644): string {
  const dir = path.join(dataDir, 'secrets');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'gmail-service-account.json');
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

interface RunOpts {
  script: string;
  dataDir?: string;
  env?: Record<string, string>;
  args?: string[];
  prefix?: string[];
  path?: string;
}

function run(shell: string[], opts: RunOpts): SpawnSyncReturns<string> {
  const env: Record<string, string> = { PATH: opts.path ?? process.env.PATH ?? '/usr/bin:/bin', ...opts.env };
  if (opts.dataDir !== undefined) env.CRM_DATA_DIR = opts.dataDir;
  const argv = [...(opts.prefix ?? []), ...shell, opts.script, ...(opts.args ?? ['env'])];
  return spawnSync(argv[0], argv.slice(1), { env, encoding: 'utf8' });
}

function exported(stdout: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}

const mode = (file: string) => statSync(file).mode & 0o777;
const GMAIL_VARS = ['CRM_GMAIL_INTEGRATION_ENABLED', 'CRM_GMAIL_AUTH_METHOD', 'CRM_GMAIL_SA_KEY_PATH', 'CRM_GMAIL_SYNC_INTERVAL_MIN'];

for (const shell of shells) {
  if (shell.missing) console.warn(`entrypoint tests under ${shell.name} skipped: ${shell.missing}`);

  describe.skipIf(shell.missing !== undefined)(`docker_entrypoint.sh under ${shell.name}${shell.missing ? ` (skipped: ${shell.missing})` : ''}`, () => {
    it('no key → DISABLED (no key at <path>), none of the Gmail variables, secrets dir created 0700', () => {
      const s = sandbox();
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.status).toBe(0);
      expect(r.stderr).toBe(`Gmail integration: DISABLED (no key at ${s.keyPath})\n`);
      const env = exported(r.stdout);
      expect(env.get('CRM_DATA_DIR')).toBe(s.dataDir);
      expect(env.get('CRM_HOST')).toBe('0.0.0.0');
      for (const name of GMAIL_VARS) expect(env.has(name), name).toBe(false);
      expect(mode(path.join(s.dataDir, 'secrets'))).toBe(0o700);
    });

    it('a disabled start removes an inherited CRM_GMAIL_INTEGRATION_ENABLED=true', () => {
      const s = sandbox();
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env: { CRM_GMAIL_INTEGRATION_ENABLED: 'true' } });
      expect(r.stderr).toBe(`Gmail integration: DISABLED (no key at ${s.keyPath})\n`);
      expect(exported(r.stdout).has('CRM_GMAIL_INTEGRATION_ENABLED')).toBe(false);
    });

    it('an existing secrets dir with loose permissions is tightened to 0700', () => {
      const s = sandbox();
      mkdirSync(path.join(s.dataDir, 'secrets'), { mode: 0o755 });
      chmodSync(path.join(s.dataDir, 'secrets'), 0o755);
      run(shell.argv, { script: s.script, dataDir: s.dataDir });
      expect(mode(path.join(s.dataDir, 'secrets'))).toBe(0o700);
    });

    it('good key + domain → ENABLED (key at <path>), key tightened to 0600, dwd exports, sync interval 180', () => {
      const s = sandbox();
      const key = writeKey(s.dataDir, GOOD_KEY, 0o644);
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.status).toBe(0);
      expect(r.stderr).toBe(`Gmail integration: ENABLED (key at ${key})\n`);
      expect(mode(key)).toBe(0o600);
      expect(mode(path.join(s.dataDir, 'secrets'))).toBe(0o700);
      const env = exported(r.stdout);
      expect(env.get('CRM_GMAIL_INTEGRATION_ENABLED')).toBe('true');
      expect(env.get('CRM_GMAIL_AUTH_METHOD')).toBe('dwd');
      expect(env.get('CRM_GMAIL_SA_KEY_PATH')).toBe(key);
      expect(env.get('CRM_GMAIL_WORKSPACE_DOMAIN')).toBe('firm.com');
      expect(env.get('CRM_GMAIL_SYNC_INTERVAL_MIN')).toBe('180');
      expect(env.get('CRM_DATA_DIR')).toBe(s.dataDir);
      expect(env.get('CRM_HOST')).toBe('0.0.0.0');
      expect(r.stdout + r.stderr).not.toContain(MARKER);
    });

    it('a sync interval and host already set are kept', () => {
      const s = sandbox();
      writeKey(s.dataDir, GOOD_KEY);
      const r = run(shell.argv, {
        script: s.script,
        dataDir: s.dataDir,
        env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com', CRM_GMAIL_SYNC_INTERVAL_MIN: '30', CRM_HOST: '127.0.0.1' },
      });
      const env = exported(r.stdout);
      expect(env.get('CRM_GMAIL_SYNC_INTERVAL_MIN')).toBe('30');
      expect(env.get('CRM_HOST')).toBe('127.0.0.1');
    });

    it('key that is not JSON → DISABLED naming the reason, contents never printed', () => {
      const s = sandbox();
      const key = writeKey(s.dataDir, `{"private_key": "${MARKER}" oops`);
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.status).toBe(0);
      expect(r.stderr).toBe(`Gmail integration: DISABLED (key at ${key} is not valid JSON)\n`);
      expect(r.stdout + r.stderr).not.toContain(MARKER);
      for (const name of GMAIL_VARS) expect(exported(r.stdout).has(name), name).toBe(false);
      expect(mode(key)).toBe(0o600);
    });

    it('key that is JSON but not an object → DISABLED naming the reason', () => {
      const s = sandbox();
      const key = writeKey(s.dataDir, `["${MARKER}"]`);
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.stderr).toBe(`Gmail integration: DISABLED (key at ${key} is JSON but not an object)\n`);
      expect(r.stdout + r.stderr).not.toContain(MARKER);
    });

    it('key path that is a directory → DISABLED (not a regular file)', () => {
      const s = sandbox();
      mkdirSync(s.keyPath, { recursive: true });
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.status).toBe(0);
      expect(r.stderr).toBe(`Gmail integration: DISABLED (key at ${s.keyPath} is not a regular file)\n`);
      expect(exported(r.stdout).has('CRM_GMAIL_INTEGRATION_ENABLED')).toBe(false);
    });

    it('key path that is a dangling symlink → DISABLED (not a regular file)', () => {
      const s = sandbox();
      mkdirSync(path.dirname(s.keyPath), { recursive: true });
      symlinkSync(path.join(s.base, 'gone.json'), s.keyPath);
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.stderr).toBe(`Gmail integration: DISABLED (key at ${s.keyPath} is not a regular file)\n`);
    });

    // Root reads any file, so as root the script runs as nobody (setpriv) to see an unreadable key.
    const unprivileged = isRoot ? (setpriv ? [setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] : undefined) : [];
    const unprivilegedMissing = unprivileged ? undefined : 'running as root without setpriv (util-linux), cannot drop privileges';
    if (unprivilegedMissing) console.warn(`unreadable-key tests under ${shell.name} skipped: ${unprivilegedMissing}`);

    it.skipIf(!unprivileged)(`unreadable key → DISABLED (not readable)${unprivilegedMissing ? ` (skipped: ${unprivilegedMissing})` : ''}`, () => {
      const s = sandbox();
      const key = writeKey(s.dataDir, GOOD_KEY, 0o000);
      if (isRoot) {
        chmodSync(s.base, 0o755);
        chownSync(s.dataDir, NOBODY, NOBODY);
        chownSync(path.dirname(key), NOBODY, NOBODY);
      }
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, prefix: unprivileged, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.status).toBe(0);
      expect(r.stderr).toBe(`Gmail integration: DISABLED (key at ${key} is not readable)\n`);
      expect(exported(r.stdout).has('CRM_GMAIL_INTEGRATION_ENABLED')).toBe(false);
    });

    // Unprivileged, so the real /data is never created: the failing mkdir names the default path.
    const defaultDirMissing = !unprivileged ? unprivilegedMissing : existsSync('/data') ? '/data exists on this machine' : undefined;
    it.skipIf(defaultDirMissing !== undefined)(`without CRM_DATA_DIR the data dir is /data${defaultDirMissing ? ` (skipped: ${defaultDirMissing})` : ''}`, () => {
      const s = sandbox();
      if (isRoot) chmodSync(s.base, 0o755);
      const r = run(shell.argv, { script: s.script, prefix: unprivileged });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/\/data\b/);
      expect(r.stdout).toBe('');
    });

    const otherOwnerMissing = isRoot && setpriv ? undefined : 'needs root and setpriv to make a key owned by another user';
    it.skipIf(otherOwnerMissing !== undefined)(
      `readable key the server may not chmod → DISABLED (cannot restrict)${otherOwnerMissing ? ` (skipped: ${otherOwnerMissing})` : ''}`,
      () => {
        const s = sandbox();
        const key = writeKey(s.dataDir, GOOD_KEY, 0o644);
        chmodSync(s.base, 0o755);
        chownSync(s.dataDir, NOBODY, NOBODY);
        chownSync(path.dirname(key), NOBODY, NOBODY);
        const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, prefix: unprivileged, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
        expect(r.stderr).toBe(`Gmail integration: DISABLED (cannot restrict key at ${key} to mode 600)\n`);
        expect(exported(r.stdout).has('CRM_GMAIL_INTEGRATION_ENABLED')).toBe(false);
      },
    );

    it('key but no workspace domain → DISABLED (no workspace domain)', () => {
      const s = sandbox();
      const key = writeKey(s.dataDir, GOOD_KEY);
      for (const env of [{} as Record<string, string>, { CRM_GMAIL_WORKSPACE_DOMAIN: '' }, { CRM_GMAIL_WORKSPACE_DOMAIN: '  ' }]) {
        const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, env });
        expect(r.status).toBe(0);
        expect(r.stderr).toBe('Gmail integration: DISABLED (no workspace domain)\n');
        for (const name of GMAIL_VARS) expect(exported(r.stdout).has(name), name).toBe(false);
      }
      expect(mode(key)).toBe(0o600);
    });

    it('node missing → DISABLED naming that the key could not be checked', () => {
      const s = sandbox();
      const key = writeKey(s.dataDir, GOOD_KEY);
      const bin = path.join(s.base, 'bin');
      mkdirSync(bin);
      for (const tool of ['mkdir', 'chmod', 'tr', 'env']) {
        const real = which(tool);
        if (!real) throw new Error(`${tool} not found on PATH`);
        symlinkSync(real, path.join(bin, tool));
      }
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, path: bin, env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'firm.com' } });
      expect(r.stderr).toBe(`Gmail integration: DISABLED (cannot check key at ${key}: node not found)\n`);
    });

    it('exec passes its arguments through untouched and returns the command status', () => {
      const s = sandbox();
      const printed = run(shell.argv, { script: s.script, dataDir: s.dataDir, args: ['printf', '%s|', 'a b', '$HOME', '', '*'] });
      expect(printed.status).toBe(0);
      expect(printed.stdout).toBe('a b|$HOME||*|');
      const failed = run(shell.argv, { script: s.script, dataDir: s.dataDir, args: ['sh', '-c', 'exit 7'] });
      expect(failed.status).toBe(7);
    });

    it('exec replaces the shell: the command runs as the spawned pid, so it receives the signals', () => {
      const s = sandbox();
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, args: ['sh', '-c', 'echo $$'] });
      expect(r.status).toBe(0);
      expect(Number(r.stdout.trim())).toBe(r.pid);
      const killed = run(shell.argv, { script: s.script, dataDir: s.dataDir, args: ['sh', '-c', 'kill -TERM $$'] });
      expect(killed.signal).toBe('SIGTERM');
    });

    it('no command → exit 64 with a usage message', () => {
      const s = sandbox();
      const r = run(shell.argv, { script: s.script, dataDir: s.dataDir, args: [] });
      expect(r.status).toBe(64);
      expect(r.stderr).toContain('no command given');
    });
  });
}

const shellcheckMissing = shellcheck ? undefined : 'shellcheck not installed (apt-get install shellcheck)';
if (shellcheckMissing) console.warn(`shellcheck test skipped: ${shellcheckMissing}`);

describe('docker_entrypoint.sh lint', () => {
  it.skipIf(!shellcheck)(`passes shellcheck -s sh${shellcheckMissing ? ` (skipped: ${shellcheckMissing})` : ''}`, () => {
    const r = spawnSync(shellcheck ?? 'shellcheck', ['-s', 'sh', ENTRYPOINT], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('is executable and starts with a POSIX sh shebang and set -eu', () => {
    expect(statSync(ENTRYPOINT).mode & 0o111).not.toBe(0);
    const r = spawnSync('head', ['-n', '20', ENTRYPOINT], { encoding: 'utf8' });
    expect(r.stdout.startsWith('#!/bin/sh\n')).toBe(true);
    expect(r.stdout).toMatch(/^set -eu$/m);
  });
});
