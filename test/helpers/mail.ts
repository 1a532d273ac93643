// Mail fixtures for tests of capture, attachments and rematch: RFC 822 messages built as bytes,
// a fake mailbox implementing GmailApi (Gmail-shaped `full` payloads via the emulator's
// buildMessage, ephemeral attachment ids, call records, failure injection), and the env that
// turns the integration on.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getAccount, type AccountRow } from '../../lib/capture/accounts.js';
import { one } from '../../lib/db/client.js';
import type { Deps } from '../../lib/core/deps.js';
import type { GmailApi, GmailCallStats, GmailFactory, GmailMessage, ListHistoryResult, ListMessagesResult } from '../../lib/gmail/types.js';
import { FakeClock } from './clock.js';
import { createGmailFactory, type PacedGmailApi } from '../../lib/gmail/client.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import type { SyncSummary } from '../../lib/capture/sync.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../tools/gmail-emulator/index.js';
import { buildMessage } from '../../tools/gmail-emulator/message.js';
import { makeDeps, type TestDeps } from './deps.js';
import { drive } from '../mocks/gmail.js';

export const WORKSPACE = 'fund.example';

/**
 * A key file the client never reads (tests that use it never reach Google). It lives in the
 * repository; the start check wants it unreadable by group and others, so it is tightened here.
 */
function unusedKeyFile(): string {
  const file = path.resolve(import.meta.dirname, '../fixtures/unused-sa-key.json');
  chmodSync(file, 0o600);
  return file;
}

/** Environment with the Gmail integration on (DWD, a private key file that is never used). */
export function gmailEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    CRM_GMAIL_INTEGRATION_ENABLED: 'true',
    CRM_GMAIL_AUTH_METHOD: 'dwd',
    CRM_GMAIL_WORKSPACE_DOMAIN: WORKSPACE,
    CRM_GMAIL_SA_KEY_PATH: unusedKeyFile(),
    ...extra,
  };
}

export interface FileSpec {
  filename: string;
  mimeType?: string;
  content: Buffer;
  inline?: boolean;
}

export interface MailSpec {
  from: string;
  to: string[];
  cc?: string[];
  subject: string;
  messageId: string;
  date: string;
  text?: string;
  html?: string;
  inReplyTo?: string;
  files?: FileSpec[];
}

/** A filename parameter any MIME reader decodes: quoted ASCII, else RFC 2231 UTF-8. */
function filenameParam(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name) && !/["\\]/.test(name)) return `filename="${name}"`;
  const enc = Array.from(Buffer.from(name, 'utf8'), (b) =>
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x2d || b === 0x5f
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');
  return `filename*=UTF-8''${enc}`;
}

const wrap76 = (b64: string): string => b64.replace(/.{1,76}/g, '$&\r\n');

/** RFC 822 bytes: multipart/mixed with a text (and html) body and base64 attachments. */
export function rawMessage(m: MailSpec): Buffer {
  const boundary = `b-${m.messageId.replace(/[^a-z0-9]/gi, '')}`;
  const headers = [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    ...(m.cc?.length ? [`Cc: ${m.cc.join(', ')}`] : []),
    `Subject: ${m.subject}`,
    `Message-ID: <${m.messageId}>`,
    ...(m.inReplyTo ? [`In-Reply-To: <${m.inReplyTo}>`, `References: <${m.inReplyTo}>`] : []),
    `Date: ${new Date(m.date).toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
  ];
  const parts: string[] = [];
  parts.push(['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', wrap76(Buffer.from(m.text ?? '', 'utf8').toString('base64'))].join('\r\n'));
  if (m.html !== undefined) {
    parts.push(['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64', '', wrap76(Buffer.from(m.html, 'utf8').toString('base64'))].join('\r\n'));
  }
  for (const f of m.files ?? []) {
    parts.push(
      [
        `Content-Type: ${f.mimeType ?? 'application/octet-stream'}`,
        `Content-Disposition: ${f.inline ? 'inline' : 'attachment'}; ${filenameParam(f.filename)}`,
        'Content-Transfer-Encoding: base64',
        '',
        wrap76(f.content.toString('base64')),
      ].join('\r\n'),
    );
  }
  const body = parts.map((p) => `--${boundary}\r\n${p}`).join('\r\n') + `\r\n--${boundary}--\r\n`;
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

interface Stored {
  raw: Buffer;
  threadId: string;
  labels: string[];
  internalDate: number;
}

export interface AttachmentCall {
  messageId: string;
  attachmentId: string;
  partId: string | null;
  stale: boolean;
}

/**
 * One mailbox. Every `full` fetch hands out new attachment ids and, like Gmail, the ids of
 * earlier fetches may stop working (`expireOldIds`).
 */
export class FakeMailbox implements GmailApi {
  readonly messages = new Map<string, Stored>();
  readonly getMessageCalls: string[] = [];
  readonly attachmentCalls: AttachmentCall[] = [];
  readonly stats: GmailCallStats = { quotaUnits: 0, calls: 0, retries: 0, rateLimited: 0, bytes: 0 };
  readonly paceUnitsSec = 150;
  expireOldIds = false;
  /** Called before answering attachments.get; throw to fail it. */
  onAttachment?: (call: AttachmentCall) => void;
  /** Awaited before answering attachments.get: work that must happen while a fetch is in flight. */
  beforeAttachment?: (call: AttachmentCall) => Promise<void>;
  /** Event-loop turns each attachments.get stays in flight (to observe concurrency). */
  attachmentTurns = 0;
  inFlight = 0;
  maxInFlight = 0;
  private generation = 0;
  private readonly currentGeneration = new Map<string, number>();
  private seq = 0;
  private historyId = 1000;
  private readonly history: { id: string; messagesAdded: { message: { id: string; threadId: string; labelIds: string[] } }[] }[] = [];

  constructor(readonly email: string) {}

  add(spec: MailSpec, opts: { id?: string; threadId?: string; labels?: string[] } = {}): string {
    const id = opts.id ?? `m${(++this.seq).toString(16).padStart(6, '0')}${this.email.length}`;
    this.messages.set(id, {
      raw: rawMessage(spec),
      threadId: opts.threadId ?? id,
      labels: opts.labels ?? ['INBOX'],
      internalDate: Date.parse(spec.date),
    });
    this.historyId++;
    this.history.push({ id: String(this.historyId), messagesAdded: [{ message: { id, threadId: opts.threadId ?? id, labelIds: opts.labels ?? ['INBOX'] } }] });
    return id;
  }

  /** Gmail hands out new attachment ids for this message; with expireOldIds the old ones stop working. */
  rotateIds(messageId: string): void {
    this.currentGeneration.set(messageId, ++this.generation);
  }

  private charge(units: number): void {
    this.stats.calls++;
    this.stats.quotaUnits += units;
  }

  async getProfile() {
    this.charge(1);
    return { emailAddress: this.email, historyId: String(this.historyId), messagesTotal: this.messages.size };
  }

  async listMessages(): Promise<ListMessagesResult> {
    this.charge(5);
    return { messages: [...this.messages.entries()].map(([id, m]) => ({ id, threadId: m.threadId })) };
  }

  async listHistory(opts: { startHistoryId: string }): Promise<ListHistoryResult> {
    this.charge(2);
    const from = BigInt(opts.startHistoryId);
    return { history: this.history.filter((h) => BigInt(h.id) > from), historyId: String(this.historyId) };
  }

  async getMessage(id: string, format: 'full' | 'metadata' | 'minimal' | 'raw' = 'full'): Promise<GmailMessage | null> {
    this.charge(5);
    this.getMessageCalls.push(id);
    const m = this.messages.get(id);
    if (!m) return null;
    const gen = ++this.generation;
    this.currentGeneration.set(id, gen);
    const built = buildMessage(m.raw, { id, threadId: m.threadId, labelIds: m.labels, internalDate: m.internalDate, historyId: '1000' }, {
      attachmentId: (partId) => `att.${gen}.${Buffer.from(`${id}/${partId}`).toString('base64url')}`,
    });
    if (format === 'raw') this.stats.bytes += m.raw.length;
    return format === 'raw' ? built.raw : built.full;
  }

  async getAttachment(messageId: string, attachmentId: string): Promise<Buffer | null> {
    this.charge(5);
    const m = this.messages.get(messageId);
    const match = /^att\.(\d+)\.(.+)$/.exec(attachmentId);
    const [mid, partId] = match ? Buffer.from(match[2]!, 'base64url').toString('utf8').split('/') : [null, null];
    const call: AttachmentCall = { messageId, attachmentId, partId: partId ?? null, stale: false };
    this.attachmentCalls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      for (let i = 0; i < this.attachmentTurns; i++) await new Promise((r) => setImmediate(r));
      this.onAttachment?.(call);
      await this.beforeAttachment?.(call);
    } finally {
      this.inFlight--;
    }
    call.stale = !!match && this.expireOldIds && Number(match[1]) !== this.currentGeneration.get(messageId);
    if (!m || !match || mid !== messageId || call.stale) return null;
    const built = buildMessage(m.raw, { id: messageId, threadId: m.threadId, labelIds: m.labels, internalDate: m.internalDate, historyId: '1000' });
    const bytes = built.attachments.get(partId!) ?? null;
    if (bytes) this.stats.bytes += bytes.length;
    return bytes;
  }
}

/** A Gmail factory serving the given mailboxes by address. */
export function fakeGmail(mailboxes: FakeMailbox[]): GmailFactory {
  const byEmail = new Map(mailboxes.map((m) => [m.email, m]));
  return (account) => {
    const m = byEmail.get(account.email);
    if (!m) throw new Error(`no fake mailbox ${account.email}`);
    return m;
  };
}

export async function addAccount(deps: Deps, email: string): Promise<AccountRow> {
  const now = new Date(deps.clock.now()).toISOString();
  await deps.db.execute({
    sql: "INSERT INTO email_accounts (email, auth_method, sync_enabled, state, created_at, updated_at) VALUES (?, 'dwd', 1, 'idle', ?, ?)",
    args: [email, now, now],
  });
  return getAccount(deps.db, { email });
}

/** Sync one mailbox to the end, attachments included (the production hooks). */
export async function syncMailbox(deps: Deps, email: string): Promise<SyncSummary> {
  const begun = await beginAccountSync(deps, await getAccount(deps.db, { email }));
  if (!begun.go) throw new Error(`${email} is already syncing`);
  const summary = await begun.go();
  if (summary.status !== 'succeeded') throw new Error(`sync of ${email} failed: ${summary.error}`);
  return summary;
}

export async function emailIdOf(deps: Deps, messageId: string): Promise<number> {
  const row = await one<{ id: number }>(deps.db, 'SELECT id FROM emails WHERE rfc822_message_id = ?', [messageId]);
  if (!row) throw new Error(`no email ${messageId}`);
  return row.id;
}

export interface EmulatorWorld {
  emu: Emulator;
  deps: TestDeps;
  clock: FakeClock;
  /** Run work that talks to the emulator to the end, moving the fake clock when only sleepers are left. */
  run<T>(work: Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The Gmail emulator on loopback with the production client (DWD through the emulator's token
 * endpoint, pacing, retries), the given mailboxes created, and Deps pointed at it.
 */
export async function emulatorWorld(mailboxes: string[], opts: { env?: Record<string, string>; emulator?: EmulatorOptions } = {}): Promise<EmulatorWorld> {
  // Service-account JWTs carry the real time (google-auth-library reads Date.now()), so the
  // emulator's clock starts at the real time too; it then moves only when the test moves it.
  const clock = new FakeClock(Date.now());
  const emu = await startEmulator({ clock, ...opts.emulator });
  for (const m of mailboxes) emu.control.createMailbox(m);
  const key = emu.control.registerServiceAccount();
  const dir = mkdtempSync(path.join(tmpdir(), 'crm-emu-key-'));
  const keyPath = path.join(dir, 'sa.json');
  writeFileSync(keyPath, JSON.stringify(key), { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  const clients: PacedGmailApi[] = [];
  const deps = await makeDeps({
    clock,
    env: {
      ...gmailEnv({ CRM_GMAIL_SA_KEY_PATH: keyPath, CRM_GOOGLE_TOKEN_URL: emu.tokenUrl, CRM_GMAIL_API_ROOT_URL: emu.url }),
      ...opts.env,
    },
    gmail: (d) => {
      const factory = createGmailFactory({ config: d.config, clock: d.clock, log: d.log, db: d.db, random: () => 0 });
      return (account) => {
        const c = factory(account);
        clients.push(c);
        return c;
      };
    },
  });
  return {
    emu,
    deps,
    clock,
    run: (work) => drive(clock, work, () => clients.some((c) => c.inFlight > 0)),
    close: async () => {
      await deps.cleanup();
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
