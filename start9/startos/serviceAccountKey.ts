// Validation of a pasted Google service-account key. Pure (node:crypto only) so it is unit-tested
// outside StartOS. Messages name what is wrong and never quote the key: JSON.parse's own
// messages quote the text they failed on, so they are not passed on.
import { createPrivateKey } from 'node:crypto';

export interface ServiceAccountKey {
  clientEmail: string;
  privateKeyId: string | null;
  projectId: string | null;
  /** The key as it is written to disk: the parsed object re-serialised, every field kept. */
  json: string;
}

export class ServiceAccountKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceAccountKeyError';
  }
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PEM_RE = /^-----BEGIN PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]+\n)+-----END PRIVATE KEY-----\n?$/;
// A real key is about 2.3 KB; anything far larger is not one.
const MAX_LENGTH = 64 * 1024;

const fail = (message: string): never => {
  throw new ServiceAccountKeyError(message);
};

export function parseServiceAccountKey(text: string): ServiceAccountKey {
  const trimmed = text.trim();
  if (!trimmed) fail('The service-account key is empty: paste the whole contents of the JSON key file.');
  if (trimmed.length > MAX_LENGTH) fail(`The service-account key is too long (${trimmed.length} characters): paste only the JSON key file.`);

  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return fail('The service-account key is not valid JSON: paste the whole file, from the opening { to the closing }.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return fail('The service-account key must be a JSON object, as in the key file Google gives you.');
  }
  const key = parsed as Record<string, unknown>;

  if ('installed' in key || 'web' in key) {
    fail('This is an OAuth client file, not a service-account key: create a key for the service account (IAM → Service accounts → Keys → Add key → JSON).');
  }
  if (key.type !== 'service_account') {
    const found = typeof key.type === 'string' ? `"${key.type.slice(0, 40)}"` : key.type === undefined ? 'nothing' : `a ${typeof key.type}`;
    fail(`The key's "type" must be "service_account" (found ${found}).`);
  }

  if (key.client_email === undefined) fail('The key has no "client_email".');
  if (typeof key.client_email !== 'string' || !EMAIL_RE.test(key.client_email)) {
    fail('The key\'s "client_email" must be an email address (the service account\'s, e.g. crm@project.iam.gserviceaccount.com).');
  }

  if (key.private_key === undefined) fail('The key has no "private_key".');
  if (typeof key.private_key !== 'string' || !PEM_RE.test(key.private_key)) {
    fail('The key\'s "private_key" must be a PEM private key (-----BEGIN PRIVATE KEY----- … -----END PRIVATE KEY-----).');
  }
  try {
    createPrivateKey(key.private_key as string);
  } catch {
    fail('The key\'s "private_key" is PEM-shaped but cannot be read as a private key: download a fresh key.');
  }

  const optional = (name: string): string | null => {
    const v = key[name];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') fail(`The key's "${name}" must be a string.`);
    return v as string;
  };

  return {
    clientEmail: (key.client_email as string).toLowerCase(),
    privateKeyId: optional('private_key_id'),
    projectId: optional('project_id'),
    json: JSON.stringify(key, null, 2) + '\n',
  };
}
