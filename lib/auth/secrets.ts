// The service's own secret key and what it protects: stored refresh tokens (AES-256-GCM)
// and signed OAuth states (HMAC-SHA256). One master key, from CRM_SECRET_KEY or generated
// once into $CRM_DATA_DIR/secrets/secret.key; HKDF derives a separate subkey per purpose so
// a signature can never be replayed as a ciphertext key or the other way round.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../core/config.js';
import { AppError } from '../core/errors.js';

/** Where the master key comes from: the two config fields that decide it. */
type SecretKeySource = Pick<Config, 'dataDir' | 'secretKeyHex'>;

/** The key file is missing its safeguards or is not a key: the service must not guess. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

/**
 * Run `work`, turning a SecretKeyError (key file unsafe or not a key) into a 500 that names
 * the problem: at request time it is the operator's to fix, not the caller's. Works for
 * plain and async work alike.
 */
export function withSecretKey<T>(work: () => T): T {
  const asAppError = (err: unknown): unknown => (err instanceof SecretKeyError ? new AppError('INTERNAL', err.message, { cause: err }) : err);
  let out: T;
  try {
    out = work();
  } catch (err) {
    throw asAppError(err);
  }
  if (out instanceof Promise) {
    return out.catch((err: unknown) => {
      throw asAppError(err);
    }) as T;
  }
  return out;
}

/** A stored secret could not be decrypted: tampered with, truncated, or sealed under another key. */
export class SecretDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretDecryptError';
  }
}

const KEY_HEX_RE = /^[0-9a-fA-F]{64}$/;
const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Additional data binds ciphertexts to this use, so a blob sealed for something else with the
// same key is refused rather than decrypted.
const AAD = Buffer.from('crm-gmail:stored-secret:v1');

interface SecretKeys {
  encryption: Buffer;
  signing: Buffer;
}

export const secretKeyPath = (dataDir: string): string => path.join(dataDir, 'secrets', 'secret.key');

const cache = new WeakMap<SecretKeySource, SecretKeys>();

/** The derived keys for this config; the key file is read (or created) once per config object. */
function secretKeys(src: SecretKeySource): SecretKeys {
  let keys = cache.get(src);
  if (!keys) {
    keys = deriveKeys(masterKey(src));
    cache.set(src, keys);
  }
  return keys;
}

/** Load or create the master key now, so a bad key file stops the start with a clear message. */
export function ensureSecretKey(src: SecretKeySource): void {
  secretKeys(src);
}

export function masterKey(src: SecretKeySource): Buffer {
  if (src.secretKeyHex !== undefined) {
    if (!KEY_HEX_RE.test(src.secretKeyHex)) throw new SecretKeyError('CRM_SECRET_KEY must be 64 hex characters');
    return Buffer.from(src.secretKeyHex, 'hex');
  }
  return Buffer.from(readOrCreateKeyFile(secretKeyPath(src.dataDir)), 'hex');
}

function deriveKeys(master: Buffer): SecretKeys {
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
  return { encryption: sub('crm-gmail/aes-256-gcm/v1'), signing: sub('crm-gmail/hmac-sha256/v1') };
}

/** The key in `file` as hex; created (mode 0600, directory 0700) when there is none yet. */
function readOrCreateKeyFile(file: string): string {
  try {
    return readKeyFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  return createKeyFile(file, randomBytes(32).toString('hex'));
}

/**
 * Publish `candidateHex` at `file` unless a key is already there, and return whichever key won.
 * The key is written to a private temp file first and then hard-linked into place: link(2)
 * fails when the name exists, so two processes starting at once agree on one key, and no
 * reader ever sees a half-written file.
 */
export function createKeyFile(file: string, candidateHex: string): string {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${candidateHex}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      // Another process won the race; its key is the key.
    } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') {
      // Filesystems without hard links: exclusive create still lets only one writer win.
      createExclusive(file, candidateHex);
    } else {
      throw err;
    }
  } finally {
    unlinkSync(tmp);
  }
  return readKeyFile(file);
}

function createExclusive(file: string, hex: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    writeSync(fd, `${hex}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readKeyFile(file: string): string {
  const st = statSync(file);
  if (!st.isFile()) throw new SecretKeyError(`secret key ${file} is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new SecretKeyError(
      `secret key ${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${file}`,
    );
  }
  const hex = readFileSync(file, 'utf8').trim();
  if (!KEY_HEX_RE.test(hex)) {
    throw new SecretKeyError(
      `secret key ${file} is malformed (expected 64 hex characters); restore it from backup — deleting it makes stored refresh tokens unreadable and every OAuth mailbox must consent again`,
    );
  }
  return hex.toLowerCase();
}

/** `v1:<iv>:<tag>:<ciphertext>` (base64), AES-256-GCM with a random 12-byte IV. */
export function encryptSecret(src: SecretKeySource, plain: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secretKeys(src).encryption, iv);
  cipher.setAAD(AAD);
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [FORMAT, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
}

export function decryptSecret(src: SecretKeySource, sealed: string): string {
  const parts = sealed.split(':');
  if (parts.length !== 4 || parts[0] !== FORMAT) {
    throw new SecretDecryptError(`stored secret is not in the ${FORMAT} format`);
  }
  const iv = Buffer.from(parts[1]!, 'base64');
  const tag = Buffer.from(parts[2]!, 'base64');
  const ct = Buffer.from(parts[3]!, 'base64');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new SecretDecryptError('stored secret is truncated');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', secretKeys(src).encryption, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(AAD);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptError('stored secret failed authentication: it was altered or sealed under another secret key');
  }
}

/** HMAC-SHA256 of `data` under the signing subkey, base64url. */
export function signValue(src: SecretKeySource, data: string): string {
  return createHmac('sha256', secretKeys(src).signing).update(data, 'utf8').digest('base64url');
}

export function verifySignature(src: SecretKeySource, data: string, signature: string): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(signature)) return false;
  const expected = Buffer.from(signValue(src, data), 'base64url');
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
