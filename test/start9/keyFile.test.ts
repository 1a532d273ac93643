// The key is written where docker_entrypoint.sh looks for it, 0600 in a 0700 directory, whole or
// not at all; removing it answers whether there was one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_SUBPATH, keyPath, removeKeyFile, writeKeyFile } from '../../start9/startos/keyFile.js';

const ENTRYPOINT = fileURLToPath(new URL('../../start9/docker_entrypoint.sh', import.meta.url));
const temps: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'crm-keyfile-'));
  temps.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});
const mode = (f: string) => statSync(f).mode & 0o777;
const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

describe('writeKeyFile', () => {
  it('writes secrets/gmail-service-account.json 0600 in a 0700 directory, owned as asked', async () => {
    const dir = tempDir();
    const file = await writeKeyFile(dir, '{"a":1}\n', me);
    expect(file).toBe(path.join(dir, 'secrets', 'gmail-service-account.json'));
    expect(KEY_SUBPATH).toBe('secrets/gmail-service-account.json');
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n');
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
    expect(statSync(file).uid).toBe(me.uid);
  });

  it('replaces a previous key and leaves no temporary file behind', async () => {
    const dir = tempDir();
    await writeKeyFile(dir, 'old', null);
    await writeKeyFile(dir, 'new', null);
    expect(readFileSync(keyPath(dir), 'utf8')).toBe('new');
    expect(readdirSync(path.join(dir, 'secrets'))).toEqual(['gmail-service-account.json']);
  });

  it('tightens a secrets directory that exists with loose permissions', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'secrets'), { mode: 0o777 });
    await writeKeyFile(dir, '{}', null);
    expect(mode(path.join(dir, 'secrets'))).toBe(0o700);
  });

  it('a key it writes is the one docker_entrypoint.sh enables', async () => {
    const dir = tempDir();
    const file = await writeKeyFile(dir, '{"type":"service_account"}\n', null);
    const r = spawnSync('sh', [ENTRYPOINT, 'true'], {
      env: { PATH: process.env.PATH, CRM_DATA_DIR: dir, CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.com' },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe(`Gmail integration: ENABLED (key at ${file})\n`);
  });
});

describe('removeKeyFile', () => {
  it('removes the key and answers true; answers false when there is none', async () => {
    const dir = tempDir();
    await writeKeyFile(dir, '{}', null);
    expect(await removeKeyFile(dir)).toBe(true);
    expect(existsSync(keyPath(dir))).toBe(false);
    expect(await removeKeyFile(dir)).toBe(false);
  });

  it('removes whatever sits at the key path, a stray directory included', async () => {
    const dir = tempDir();
    mkdirSync(keyPath(dir), { recursive: true });
    writeFileSync(path.join(keyPath(dir), 'x'), 'y');
    expect(await removeKeyFile(dir)).toBe(true);
    expect(existsSync(keyPath(dir))).toBe(false);
  });
});
