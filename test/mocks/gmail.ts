// Gmail and Google's token endpoint as MSW handlers on loopback origins. Happy path by default:
// the token endpoint issues access tokens (JWT-bearer for DWD, refresh_token for OAuth) and
// Gmail serves the mailboxes put into MockGmail. Tests add failures with the helpers below
// through server.use(...), and read what was asked in `requests` / `tokenRequests`.
import { createPublicKey, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { http, HttpResponse, type HttpHandler } from 'msw';
import type { FakeClock } from '../helpers/clock.js';
import type { GmailMessage } from '../../lib/gmail/types.js';

export const GMAIL_ROOT = 'http://127.0.0.1:47110/';
export const TOKEN_URL = 'http://127.0.0.1:47111/token';
export const AUTH_URL = 'http://127.0.0.1:47111/o/oauth2/v2/auth';
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const SA_CLIENT_EMAIL = 'crm-sync@fund-project.iam.gserviceaccount.com';
export const SA_CLIENT_ID = '109876543210987654321';
export const OAUTH_CLIENT_ID = 'oauth-client-1.apps.googleusercontent.com';
export const OAUTH_CLIENT_SECRET = 'oauth-client-secret-1';
export const DOMAIN = 'fund.example';

export interface ServiceAccountFixture {
  path: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

/** A throwaway service-account key (fresh RSA pair), written 0600 like the real one must be. */
export function writeServiceAccountKey(dir: string): ServiceAccountFixture {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const file = path.join(dir, 'gmail-service-account.json');
  writeFileSync(
    file,
    JSON.stringify({
      type: 'service_account',
      project_id: 'fund-project',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKeyPem,
      client_email: SA_CLIENT_EMAIL,
      client_id: SA_CLIENT_ID,
      token_uri: GOOGLE_TOKEN_URL,
    }),
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
  return { path: file, publicKeyPem, privateKeyPem };
}

/** Environment for loadConfig/makeDeps: Gmail on, pointed at the mocks. */
export function gmailEnv(opts: { keyPath?: string; authMethod?: 'dwd' | 'oauth'; extra?: Record<string, string> } = {}): Record<string, string> {
  const env: Record<string, string> = {
    CRM_GMAIL_INTEGRATION_ENABLED: 'true',
    CRM_GMAIL_AUTH_METHOD: opts.authMethod ?? 'dwd',
    CRM_GMAIL_WORKSPACE_DOMAIN: DOMAIN,
    CRM_GMAIL_API_ROOT_URL: GMAIL_ROOT,
    CRM_GOOGLE_TOKEN_URL: TOKEN_URL,
    CRM_GOOGLE_AUTH_URL: AUTH_URL,
  };
  if (opts.keyPath) env.CRM_GMAIL_SA_KEY_PATH = opts.keyPath;
  if ((opts.authMethod ?? 'dwd') === 'oauth') {
    env.CRM_GMAIL_OAUTH_CLIENT_ID = OAUTH_CLIENT_ID;
    env.CRM_GMAIL_OAUTH_CLIENT_SECRET = OAUTH_CLIENT_SECRET;
    env.CRM_GMAIL_OAUTH_REDIRECT_URL = 'http://127.0.0.1:8080/api/email/oauth/callback';
  }
  return { ...env, ...opts.extra };
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** A Gmail `full`-format message with a text body and optional attachments. */
export function mockMessage(m: {
  id: string;
  threadId?: string;
  labelIds?: string[];
  internalDate?: number;
  from?: string;
  to?: string;
  subject?: string;
  messageId?: string;
  text?: string;
  attachments?: { attachmentId: string; filename: string; mimeType: string; size: number }[];
}): GmailMessage {
  const headers = [
    { name: 'From', value: m.from ?? `Someone <someone@elsewhere.example>` },
    { name: 'To', value: m.to ?? `partner@${DOMAIN}` },
    { name: 'Subject', value: m.subject ?? `Message ${m.id}` },
    { name: 'Message-ID', value: `<${m.messageId ?? `${m.id}@mail.example`}>` },
    { name: 'Date', value: new Date(m.internalDate ?? Date.parse('2026-01-10T10:00:00Z')).toUTCString() },
  ];
  const text = m.text ?? `Body of ${m.id}`;
  const parts = [
    { partId: '0', mimeType: 'text/plain', filename: '', headers: [], body: { size: Buffer.byteLength(text), data: b64url(text) } },
    ...(m.attachments ?? []).map((a, i) => ({
      partId: String(i + 1),
      mimeType: a.mimeType,
      filename: a.filename,
      headers: [{ name: 'Content-Disposition', value: `attachment; filename="${a.filename}"` }],
      body: { size: a.size, attachmentId: a.attachmentId },
    })),
  ];
  return {
    id: m.id,
    threadId: m.threadId ?? m.id,
    labelIds: m.labelIds ?? ['INBOX'],
    snippet: text.slice(0, 100),
    internalDate: String(m.internalDate ?? Date.parse('2026-01-10T10:00:00Z')),
    sizeEstimate: 1000 + Buffer.byteLength(text),
    payload: { partId: '', mimeType: 'multipart/mixed', filename: '', headers, body: { size: 0 }, parts },
  };
}

export interface MockMailbox {
  messages: GmailMessage[];
  attachments: Map<string, Buffer>;
  historyId: string;
  /** history.list from before this answers 404 (Gmail no longer keeps it). */
  oldestHistoryId: string;
  history: { id: string; messagesAdded?: { message: { id: string; threadId: string } }[]; messagesDeleted?: { message: { id: string; threadId: string } }[] }[];
}

export interface RecordedRequest {
  method: string;
  /** The Gmail method name, e.g. messages.get. */
  api: string;
  mailbox: string;
  url: string;
  token: string | undefined;
}

export interface RecordedTokenRequest {
  url: string;
  grantType: string | null;
  /** Decoded JWT claims for a jwt-bearer grant. */
  claims?: Record<string, unknown>;
  signatureValid?: boolean;
  refreshToken?: string | null;
}

function decodeAssertion(assertion: string, publicKeyPem: string | undefined): { claims: Record<string, unknown>; signatureValid?: boolean } {
  const [h, p, sig] = assertion.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (!publicKeyPem) return { claims };
  const v = createVerify('RSA-SHA256');
  v.update(`${h}.${p}`);
  return { claims, signatureValid: v.verify(createPublicKey(publicKeyPem), Buffer.from(sig, 'base64url')) };
}

export function gmailErrorBody(status: number, reason: string, message = reason) {
  return { error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: reason } };
}

/** The state behind the handlers: mailboxes, issued tokens, and a log of what was asked. */
export class MockGmail {
  readonly mailboxes = new Map<string, MockMailbox>();
  readonly refreshTokens = new Map<string, string>();
  readonly accessTokens = new Map<string, string>();
  readonly issuedAccessTokens: string[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly tokenRequests: RecordedTokenRequest[] = [];
  /** When set, JWT assertions must verify against this key, as Google checks them. */
  publicKeyPem: string | undefined;
  private tokenSeq = 0;

  constructor(opts: { publicKeyPem?: string } = {}) {
    this.publicKeyPem = opts.publicKeyPem;
  }

  mailbox(email: string, init: Partial<MockMailbox> = {}): MockMailbox {
    const box: MockMailbox = {
      messages: [],
      attachments: new Map(),
      historyId: '1000',
      oldestHistoryId: '1',
      history: [],
      ...init,
    };
    this.mailboxes.set(email.toLowerCase(), box);
    return box;
  }

  /** Gmail requests for one API method (e.g. 'messages.get'). */
  calls(api: string): RecordedRequest[] {
    return this.requests.filter((r) => r.api === api);
  }

  private issue(mailbox: string) {
    const token = `ya29.mock-${++this.tokenSeq}-${randomBytes(6).toString('hex')}`;
    this.accessTokens.set(token, mailbox.toLowerCase());
    this.issuedAccessTokens.push(token);
    return HttpResponse.json({ access_token: token, token_type: 'Bearer', expires_in: 3599 });
  }

  /** Who may read `userId`: the token's mailbox must be that user (or 'me'). */
  private authorise(request: Request, userId: string): { mailbox: string; token: string } | Response {
    const auth = request.headers.get('authorization') ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const owner = token ? this.accessTokens.get(token) : undefined;
    if (!token || !owner) {
      return HttpResponse.json(gmailErrorBody(401, 'authError', 'Invalid Credentials'), { status: 401 });
    }
    const user = userId === 'me' ? owner : userId.toLowerCase();
    if (user !== owner) return HttpResponse.json(gmailErrorBody(403, 'forbidden', 'Delegation denied'), { status: 403 });
    return { mailbox: user, token };
  }

  private record(request: Request, api: string, userId: string) {
    const auth = request.headers.get('authorization') ?? '';
    this.requests.push({
      method: request.method,
      api,
      mailbox: decodeURIComponent(userId).toLowerCase(),
      url: request.url,
      token: auth.startsWith('Bearer ') ? auth.slice(7) : undefined,
    });
  }

  private box(mailbox: string): MockMailbox | Response {
    return this.mailboxes.get(mailbox) ?? HttpResponse.json(gmailErrorBody(400, 'failedPrecondition', 'Mail service not enabled'), { status: 400 });
  }

  /**
   * Gmail answers `status` with `reason` to `api` — the first `times` requests (then the happy
   * path answers), or every request when `times` is omitted. Requests are recorded as usual.
   */
  fails(api: string, status: number, reason: string, opts: { times?: number; headers?: Record<string, string>; message?: string } = {}): HttpHandler {
    let left = opts.times ?? Infinity;
    return http.get(gmailPath(api), ({ request, params }) => {
      if (left <= 0) return undefined;
      left--;
      this.record(request, api, String(params.userId));
      return HttpResponse.json(gmailErrorBody(status, reason, opts.message), { status, headers: opts.headers });
    });
  }

  /** The connection drops for the first `times` requests to `api` (recorded: they were sent). */
  drops(api: string, times: number): HttpHandler {
    let left = times;
    return http.get(gmailPath(api), ({ request, params }) => {
      if (left <= 0) return undefined;
      left--;
      this.record(request, api, String(params.userId));
      return HttpResponse.error();
    });
  }

  /** The token endpoint answers `status` {error, error_description} (the first `times` requests, or all). */
  tokenFails(status: number, error: string, description?: string, opts: { times?: number } = {}): HttpHandler {
    let left = opts.times ?? Infinity;
    return http.post(TOKEN_URL, async ({ request }) => {
      if (left <= 0) return undefined;
      left--;
      const form = new URLSearchParams(await request.clone().text());
      this.tokenRequests.push({ url: request.url, grantType: form.get('grant_type') });
      return HttpResponse.json({ error, ...(description ? { error_description: description } : {}) }, { status });
    });
  }

  handlers(): HttpHandler[] {
    const root = `${GMAIL_ROOT}gmail/v1/users/:userId`;
    return [
      http.post(TOKEN_URL, async ({ request }) => {
        const form = new URLSearchParams(await request.text());
        const grantType = form.get('grant_type');
        const rec: RecordedTokenRequest = { url: request.url, grantType };
        this.tokenRequests.push(rec);
        if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
          const { claims, signatureValid } = decodeAssertion(form.get('assertion') ?? '', this.publicKeyPem);
          rec.claims = claims;
          rec.signatureValid = signatureValid;
          if (signatureValid === false) return HttpResponse.json({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }, { status: 400 });
          const sub = String(claims.sub ?? '').toLowerCase();
          if (!this.mailboxes.has(sub)) return HttpResponse.json({ error: 'invalid_grant', error_description: 'Invalid email or User ID' }, { status: 400 });
          return this.issue(sub);
        }
        if (grantType === 'refresh_token') {
          const refreshToken = form.get('refresh_token');
          rec.refreshToken = refreshToken;
          const mailbox = refreshToken ? this.refreshTokens.get(refreshToken) : undefined;
          if (!mailbox) return HttpResponse.json({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }, { status: 400 });
          return this.issue(mailbox);
        }
        return HttpResponse.json({ error: 'unsupported_grant_type' }, { status: 400 });
      }),
      http.get(`${root}/profile`, ({ request, params }) => {
        const userId = String(params.userId);
        this.record(request, 'getProfile', userId);
        const who = this.authorise(request, userId);
        if (who instanceof Response) return who;
        const box = this.box(who.mailbox);
        if (box instanceof Response) return box;
        return HttpResponse.json({ emailAddress: who.mailbox, messagesTotal: box.messages.length, threadsTotal: box.messages.length, historyId: box.historyId });
      }),
      http.get(`${root}/messages`, ({ request, params }) => {
        const userId = String(params.userId);
        this.record(request, 'messages.list', userId);
        const who = this.authorise(request, userId);
        if (who instanceof Response) return who;
        const box = this.box(who.mailbox);
        if (box instanceof Response) return box;
        const q = new URL(request.url).searchParams;
        const query = q.get('q') ?? '';
        const includeSpamTrash = q.get('includeSpamTrash') === 'true';
        const hidden = new Set<string>();
        if (!includeSpamTrash) hidden.add('SPAM').add('TRASH');
        if (/-in:drafts/.test(query)) hidden.add('DRAFT');
        if (/-in:chats/.test(query)) hidden.add('CHAT');
        const after = /after:(\d{4})\/(\d{1,2})\/(\d{1,2})/.exec(query);
        const afterMs = after ? Date.UTC(Number(after[1]), Number(after[2]) - 1, Number(after[3])) : undefined;
        const all = box.messages
          .filter((m) => !(m.labelIds ?? []).some((l) => hidden.has(l)))
          .filter((m) => afterMs === undefined || Number(m.internalDate) >= afterMs)
          .sort((a, b) => Number(b.internalDate) - Number(a.internalDate));
        const size = Math.min(Number(q.get('maxResults') ?? 100), 500);
        const start = Number(q.get('pageToken') ?? 0);
        const page = all.slice(start, start + size).map((m) => ({ id: m.id, threadId: m.threadId }));
        const next = start + size < all.length ? String(start + size) : undefined;
        return HttpResponse.json({ ...(page.length ? { messages: page } : {}), ...(next ? { nextPageToken: next } : {}), resultSizeEstimate: all.length });
      }),
      http.get(`${root}/messages/:id/attachments/:attachmentId`, ({ request, params }) => {
        const userId = String(params.userId);
        this.record(request, 'messages.attachments.get', userId);
        const who = this.authorise(request, userId);
        if (who instanceof Response) return who;
        const box = this.box(who.mailbox);
        if (box instanceof Response) return box;
        const bytes = box.attachments.get(`${String(params.id)}/${String(params.attachmentId)}`);
        if (!bytes || !box.messages.some((m) => m.id === params.id)) {
          return HttpResponse.json(gmailErrorBody(404, 'notFound', 'Requested entity was not found.'), { status: 404 });
        }
        return HttpResponse.json({ size: bytes.length, data: bytes.toString('base64url') });
      }),
      http.get(`${root}/messages/:id`, ({ request, params }) => {
        const userId = String(params.userId);
        this.record(request, 'messages.get', userId);
        const who = this.authorise(request, userId);
        if (who instanceof Response) return who;
        const box = this.box(who.mailbox);
        if (box instanceof Response) return box;
        const m = box.messages.find((x) => x.id === params.id);
        if (!m) return HttpResponse.json(gmailErrorBody(404, 'notFound', 'Requested entity was not found.'), { status: 404 });
        const format = new URL(request.url).searchParams.get('format') ?? 'full';
        if (format === 'minimal') return HttpResponse.json({ id: m.id, threadId: m.threadId, labelIds: m.labelIds, internalDate: m.internalDate });
        if (format === 'metadata') return HttpResponse.json({ ...m, payload: { ...m.payload, parts: undefined, body: { size: 0 } } });
        return HttpResponse.json(m);
      }),
      http.get(`${root}/history`, ({ request, params }) => {
        const userId = String(params.userId);
        this.record(request, 'history.list', userId);
        const who = this.authorise(request, userId);
        if (who instanceof Response) return who;
        const box = this.box(who.mailbox);
        if (box instanceof Response) return box;
        const q = new URL(request.url).searchParams;
        const start = BigInt(q.get('startHistoryId') ?? '0');
        if (start < BigInt(box.oldestHistoryId)) {
          return HttpResponse.json(gmailErrorBody(404, 'notFound', 'Requested entity was not found.'), { status: 404 });
        }
        const records = box.history.filter((h) => BigInt(h.id) > start);
        const size = Math.min(Number(q.get('maxResults') ?? 100), 500);
        const offset = Number(q.get('pageToken') ?? 0);
        const page = records.slice(offset, offset + size);
        const next = offset + size < records.length ? String(offset + size) : undefined;
        return HttpResponse.json({ ...(page.length ? { history: page } : {}), historyId: box.historyId, ...(next ? { nextPageToken: next } : {}) });
      }),
    ];
  }
}

/** Gmail API paths (relative to the users/:userId root) by method name, for failure overrides. */
const PATHS: Record<string, string> = {
  getProfile: '/profile',
  'messages.list': '/messages',
  'messages.get': '/messages/:id',
  'messages.attachments.get': '/messages/:id/attachments/:attachmentId',
  'history.list': '/history',
};

export function gmailPath(api: string): string {
  const p = PATHS[api];
  if (!p) throw new Error(`no mock path for Gmail method ${api}`);
  return `${GMAIL_ROOT}gmail/v1/users/:userId${p}`;
}

/**
 * Runs `work` under a FakeClock: lets I/O finish while `busy()` says requests are on the wire,
 * and jumps time to the next sleeper only when nothing is, so no answer is ever outrun by time.
 */
export async function drive<T>(clock: FakeClock, work: Promise<T>, busy: () => boolean, opts: { maxTurns?: number } = {}): Promise<T> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  const maxTurns = opts.maxTurns ?? 2_000_000;
  for (let turn = 0; !settled; turn++) {
    if (turn > maxTurns) throw new Error('drive: the work neither finished nor slept');
    await new Promise<void>((r) => setImmediate(r));
    if (settled || busy()) continue;
    const next = clock.nextWakeAt;
    if (next !== undefined) await clock.advance(Math.max(0, next - clock.now()));
  }
  return work;
}
