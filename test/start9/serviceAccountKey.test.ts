// The pasted service-account key is checked before it is written: a service_account JSON object
// with client_email and a readable PEM private_key. Messages never quote the key.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseServiceAccountKey, ServiceAccountKeyError } from '../../start9/startos/serviceAccountKey.js';

const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const goodKey = (over: Record<string, unknown> = {}) => ({
  type: 'service_account',
  project_id: 'firm-crm',
  private_key_id: 'abc123',
  private_key: pem,
  client_email: 'Crm-Reader@firm-crm.iam.gserviceaccount.com',
  client_id: '1234567890',
  token_uri: 'https://oauth2.googleapis.com/token',
  ...over,
});

function rejects(text: string, pattern: RegExp): ServiceAccountKeyError {
  let caught: unknown;
  try {
    parseServiceAccountKey(text);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ServiceAccountKeyError);
  const err = caught as ServiceAccountKeyError;
  expect(err.message).toMatch(pattern);
  // Whatever was wrong, no piece of the private key is echoed.
  expect(err.message).not.toContain(pem.split('\n')[1]!.slice(0, 20));
  return err;
}

describe('parseServiceAccountKey', () => {
  it('accepts a Google service-account key and keeps every field', () => {
    const key = parseServiceAccountKey(JSON.stringify(goodKey(), null, 2));
    expect(key.clientEmail).toBe('crm-reader@firm-crm.iam.gserviceaccount.com');
    expect(key.privateKeyId).toBe('abc123');
    expect(key.projectId).toBe('firm-crm');
    expect(JSON.parse(key.json)).toEqual(goodKey());
    expect(key.json.endsWith('\n')).toBe(true);
  });

  it('accepts the key pasted on one line with surrounding whitespace (a masked field drops line breaks)', () => {
    const oneLine = `  ${JSON.stringify(goodKey()).replace(/\n/g, ' ')}\n`;
    expect(parseServiceAccountKey(oneLine).clientEmail).toBe('crm-reader@firm-crm.iam.gserviceaccount.com');
  });

  it('optional ids may be absent', () => {
    const { private_key_id: _a, project_id: _b, ...rest } = goodKey();
    const key = parseServiceAccountKey(JSON.stringify(rest));
    expect(key.privateKeyId).toBeNull();
    expect(key.projectId).toBeNull();
  });

  it('empty input → asks for the whole file', () => {
    rejects('   ', /empty/);
  });

  it('not JSON → says so without quoting the text', () => {
    const text = `{"private_key": "${pem.replace(/\n/g, '\\n')}", oops`;
    const err = rejects(text, /not valid JSON/);
    expect(err.message).not.toContain('oops');
  });

  it('JSON that is not an object → must be a JSON object', () => {
    rejects('["a"]', /must be a JSON object/);
    rejects('"key"', /must be a JSON object/);
  });

  it('an OAuth client file → named as such', () => {
    rejects(JSON.stringify({ installed: { client_id: 'x', client_secret: 'y' } }), /OAuth client file/);
  });

  it('type other than service_account → names the type found', () => {
    rejects(JSON.stringify(goodKey({ type: 'authorized_user' })), /"type" must be "service_account" \(found "authorized_user"\)/);
    rejects(JSON.stringify(goodKey({ type: undefined })), /found nothing/);
  });

  it('client_email missing or not an address → names client_email', () => {
    rejects(JSON.stringify(goodKey({ client_email: undefined })), /no "client_email"/);
    rejects(JSON.stringify(goodKey({ client_email: 'not-an-address' })), /"client_email" must be an email address/);
    rejects(JSON.stringify(goodKey({ client_email: 42 })), /"client_email" must be an email address/);
  });

  it('private_key missing, not PEM, or not a key → names private_key', () => {
    rejects(JSON.stringify(goodKey({ private_key: undefined })), /no "private_key"/);
    rejects(JSON.stringify(goodKey({ private_key: 'secret' })), /"private_key" must be a PEM private key/);
    const garbled = '-----BEGIN PRIVATE KEY-----\nQUJDREVGR0hJSktMTU5PUA==\n-----END PRIVATE KEY-----\n';
    rejects(JSON.stringify(goodKey({ private_key: garbled })), /cannot be read as a private key/);
  });

  it('a non-string optional id → names it', () => {
    rejects(JSON.stringify(goodKey({ private_key_id: 7 })), /"private_key_id" must be a string/);
  });

  it('far too long input → refused before parsing', () => {
    rejects(`{"x":"${'a'.repeat(70_000)}"}`, /too long/);
  });
});
