// Drives the emulator the way production code drives Google: through @googleapis/gmail and
// google-auth-library themselves. google-auth-library signs JWTs for, and posts them to, Google's
// hard-coded token URL; a request interceptor on the client's transporter sends that one URL to
// the emulator instead.
import { gmail, type gmail_v1 } from '@googleapis/gmail';
import { JWT, OAuth2Client } from 'google-auth-library';
import type { GaxiosError } from 'gaxios';
import { startEmulator, SCOPE_READONLY, type Emulator, type EmulatorOptions, type ServiceAccountKey } from '../../tools/gmail-emulator/index.js';

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export function redirectTokenUrl(client: JWT | OAuth2Client, tokenUrl: string): void {
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(tokenUrl);
      return config;
    },
  });
}

/** A clock frozen at the real start time (JWT iat comes from the real clock), moved by advanceTime only. */
export function frozenClock(): { now(): number } {
  const t0 = Date.now();
  return { now: () => t0 };
}

export interface Harness {
  emu: Emulator;
  key: ServiceAccountKey;
  jwt(subject: string | undefined, scopes?: string[], key?: ServiceAccountKey): JWT;
  gmailFor(auth: JWT | OAuth2Client): gmail_v1.Gmail;
  /** A Gmail client for a mailbox via DWD. */
  dwd(subject: string): gmail_v1.Gmail;
  close(): Promise<void>;
}

export async function harness(opts: EmulatorOptions = {}, mailboxes: string[] = []): Promise<Harness> {
  const emu = await startEmulator({ clock: frozenClock(), ...opts });
  for (const m of mailboxes) emu.control.createMailbox(m);
  const key = emu.control.registerServiceAccount() as ServiceAccountKey;
  const h: Harness = {
    emu,
    key,
    jwt(subject, scopes = [SCOPE_READONLY], k = key) {
      const client = new JWT({ email: k.client_email, key: k.private_key, scopes, subject });
      redirectTokenUrl(client, emu.tokenUrl);
      return client;
    },
    gmailFor(auth) {
      return gmail({ version: 'v1', auth, rootUrl: emu.url, retry: false });
    },
    dwd(subject) {
      return h.gmailFor(h.jwt(subject));
    },
    close: () => emu.close(),
  };
  return h;
}

/** The rejection of a client call, for asserting on Google's error shape. */
export async function failure(p: Promise<unknown>): Promise<GaxiosError & { status?: number; response?: { status: number; data: any; headers: any } }> {
  try {
    await p;
  } catch (e) {
    return e as never;
  }
  throw new Error('expected the call to fail, it succeeded');
}

let seq = 0;
/** A small RFC 822 message; `headers` may add or override fields. */
export function mail(o: {
  from?: string;
  to?: string;
  cc?: string;
  bcc?: string;
  subject?: string;
  messageId?: string | null;
  inReplyTo?: string;
  references?: string;
  date?: string;
  body?: string;
  extra?: string[];
} = {}): string {
  const id = o.messageId === undefined ? `<m${++seq}.${Date.now()}@example.test>` : o.messageId;
  const lines = [
    `From: ${o.from ?? 'Ann Investor <ann@investor.example>'}`,
    `To: ${o.to ?? 'pat@fund.test'}`,
    ...(o.cc ? [`Cc: ${o.cc}`] : []),
    ...(o.bcc ? [`Bcc: ${o.bcc}`] : []),
    `Subject: ${o.subject ?? 'Hello'}`,
    `Date: ${o.date ?? 'Thu, 15 Jan 2026 12:00:00 +0000'}`,
    ...(id ? [`Message-ID: ${id}`] : []),
    ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`] : []),
    ...(o.references ? [`References: ${o.references}`] : []),
    'MIME-Version: 1.0',
    ...(o.extra ?? []),
  ];
  if (!o.extra?.some((l) => /^content-type:/i.test(l))) lines.push('Content-Type: text/plain; charset=utf-8');
  return `${lines.join('\r\n')}\r\n\r\n${o.body ?? 'Hello there.'}\r\n`;
}

/** A multipart/mixed message with one text part and one attachment. */
export function mailWithAttachment(o: { filename: string; bytes: Buffer; mimeType?: string; subject?: string; to?: string; messageId?: string }): string {
  const b = 'b0undary42';
  const b64 = o.bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    'From: Ann Investor <ann@investor.example>',
    `To: ${o.to ?? 'pat@fund.test'}`,
    `Subject: ${o.subject ?? 'Deck attached'}`,
    'Date: Thu, 15 Jan 2026 12:00:00 +0000',
    `Message-ID: ${o.messageId ?? `<att${++seq}@investor.example>`}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Please find the deck attached.',
    `--${b}`,
    `Content-Type: ${o.mimeType ?? 'application/pdf'}; name="${o.filename}"`,
    `Content-Disposition: attachment; filename="${o.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    `--${b}--`,
    '',
  ].join('\r\n');
}
