import { createHmac } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createKeyFile,
  decryptSecret,
  encryptSecret,
  ensureSecretKey,
  masterKey,
  secretKeyPath,
  SecretDecryptError,
  SecretKeyError,
  signValue,
  verifySignature,
} from '../../lib/auth/secrets.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-secrets-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const KEY_A = 'a'.repeat(64);
const KEY_B = '0123456789abcdef'.repeat(4);

describe('encryptSecret / decryptSecret', () => {
  it('round-trips, in a versioned format, with a fresh IV each time', () => {
    const src = { dataDir, secretKeyHex: KEY_A };
    const plain = '1//0gRefreshToken-ünïcode';
    const a = encryptSecret(src, plain);
    const b = encryptSecret(src, plain);
    expect(a).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(Buffer.from(a.split(':')[1]!, 'base64')).toHaveLength(12);
    expect(a).not.toBe(b);
    expect(a).not.toContain(plain);
    expect(decryptSecret(src, a)).toBe(plain);
    expect(decryptSecret({ dataDir, secretKeyHex: KEY_A }, b)).toBe(plain);
  });

  it('a ciphertext, tag or IV altered by one bit is refused', () => {
    const src = { dataDir, secretKeyHex: KEY_A };
    const sealed = encryptSecret(src, 'refresh-token');
    for (const part of [1, 2, 3]) {
      const parts = sealed.split(':');
      const bytes = Buffer.from(parts[part]!, 'base64');
      bytes[0]! ^= 1;
      parts[part] = bytes.toString('base64');
      expect(() => decryptSecret(src, parts.join(':'))).toThrow(SecretDecryptError);
    }
    expect(() => decryptSecret(src, sealed.replace(/^v1/, 'v2'))).toThrow(/v1 format/);
    expect(() => decryptSecret(src, 'v1:AAAA:BBBB')).toThrow(SecretDecryptError);
  });

  it('a secret sealed under another key is refused, not garbled', () => {
    const sealed = encryptSecret({ dataDir, secretKeyHex: KEY_A }, 'refresh-token');
    expect(() => decryptSecret({ dataDir, secretKeyHex: KEY_B }, sealed)).toThrow(/another secret key/);
  });
});

describe('signValue / verifySignature', () => {
  it('accepts its own signature and refuses altered data, an altered signature, or another key’s signature', () => {
    const a = { dataDir, secretKeyHex: KEY_A };
    const b = { dataDir, secretKeyHex: KEY_B };
    const sig = signValue(a, 'payload');
    expect(verifySignature(a, 'payload', sig)).toBe(true);
    expect(verifySignature(a, 'payloaD', sig)).toBe(false);
    expect(verifySignature(a, 'payload', sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA'))).toBe(false);
    expect(verifySignature(a, 'payload', `${sig}!`)).toBe(false);
    expect(verifySignature(b, 'payload', sig)).toBe(false);
  });

  it('signatures use an HKDF-derived subkey, never the raw master key', () => {
    const a = { dataDir, secretKeyHex: KEY_A };
    const raw = createHmac('sha256', masterKey(a)).update('x').digest('base64url');
    expect(signValue(a, 'x')).not.toBe(raw);
  });
});

describe('the secret key', () => {
  it('CRM_SECRET_KEY is used as given and no key file is written', () => {
    const src = { dataDir, secretKeyHex: KEY_B };
    expect(masterKey(src).toString('hex')).toBe(KEY_B);
    ensureSecretKey(src);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('without CRM_SECRET_KEY a key is generated once into secrets/secret.key (file 0600, directory 0700) and reused', () => {
    const first = masterKey({ dataDir });
    const file = secretKeyPath(dataDir);
    expect(file).toBe(path.join(dataDir, 'secrets', 'secret.key'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.toString('hex'));
    expect(first).toHaveLength(32);
    const sealed = encryptSecret({ dataDir }, 'refresh-token');
    // A second start (a new config object) reads the same key back.
    expect(masterKey({ dataDir }).equals(first)).toBe(true);
    expect(decryptSecret({ dataDir }, sealed)).toBe('refresh-token');
    expect(readdirSync(path.dirname(file))).toEqual(['secret.key']);
  });

  it('two processes creating the key at once agree on one key: the second keeps the first one’s', () => {
    const file = secretKeyPath(dataDir);
    mkdirSync(path.dirname(file), { mode: 0o700 });
    expect(createKeyFile(file, KEY_A)).toBe(KEY_A);
    expect(createKeyFile(file, KEY_B)).toBe(KEY_A);
    expect(readdirSync(path.dirname(file))).toEqual(['secret.key']);
  });

  it('a key file readable by group or others is refused with a message saying how to fix it', () => {
    const file = secretKeyPath(dataDir);
    mkdirSync(path.dirname(file), { mode: 0o700 });
    writeFileSync(file, `${KEY_A}\n`, { mode: 0o600 });
    chmodSync(file, 0o640);
    expect(() => masterKey({ dataDir })).toThrow(SecretKeyError);
    expect(() => masterKey({ dataDir })).toThrow(`run chmod 600 ${file}`);
    chmodSync(file, 0o604);
    expect(() => masterKey({ dataDir })).toThrow(/group or others \(mode 604\)/);
    chmodSync(file, 0o600);
    expect(masterKey({ dataDir }).toString('hex')).toBe(KEY_A);
  });

  it('a malformed key file is refused, never replaced', () => {
    const file = secretKeyPath(dataDir);
    mkdirSync(path.dirname(file), { mode: 0o700 });
    writeFileSync(file, 'not-a-key\n', { mode: 0o600 });
    expect(() => masterKey({ dataDir })).toThrow(/malformed \(expected 64 hex characters\)/);
    expect(readFileSync(file, 'utf8')).toBe('not-a-key\n');
  });
});
