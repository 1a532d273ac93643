// The HTTP face of the emulator on loopback: Google's token endpoint and consent screen, the
// Gmail v1 read API, and /__control/. Every Gmail request goes through the same pipeline as at
// Google: authenticate, take a concurrency slot, (latency, holds, injected faults), charge quota,
// answer — and the books are kept on the way.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Auth } from './auth.js';
import { controlOperation, EmulatorControl, Gates } from './control.js';
import { GmailError, errors } from './errors.js';
import { Faults } from './faults.js';
import { applyFields, parseFields } from './fields.js';
import { GmailApi, matchRoute } from './gmail.js';
import { EmulatorClock, resolveOptions, type EmulatorOptions, type GmailMethod } from './options.js';
import { Quota } from './quota.js';
import { createRng } from './rng.js';
import { Store } from './store.js';

export interface Emulator {
  /** Origin of the emulator (`http://127.0.0.1:PORT`), usable as the Gmail client's rootUrl. */
  url: string;
  /** Google's token endpoint stand-in. */
  tokenUrl: string;
  /** Google's consent screen stand-in (oauth2AuthBaseUrl). */
  authUrl: string;
  /** Base of the JSON control API. */
  controlUrl: string;
  control: EmulatorControl;
  close(): Promise<void>;
}

const MAX_BODY = 256 * 1024 * 1024;
const JSON_TYPE = 'application/json; charset=UTF-8';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, type = JSON_TYPE): number {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(bytes.length), 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate', ...headers });
  res.end(bytes);
  return bytes.length;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const opts = resolveOptions(options);
  const clock = new EmulatorClock(options.clock);
  const rng = createRng(opts.seed);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  const urls = { tokenUrl: `${origin}/token`, authUrl: `${origin}/o/oauth2/v2/auth` };

  const store = new Store(opts, clock, rng.fork('store'));
  const auth = new Auth(store, clock, opts, urls);
  const quota = new Quota(options.quota ?? {}, clock, rng.fork('quota'));
  const faults = new Faults(options.faults ?? {}, rng.fork('faults'));
  const gates = new Gates();
  const gmail = new GmailApi(store, clock, opts);
  const control = new EmulatorControl(store, auth, quota, faults, gates, clock, opts);

  async function tokenRoutes(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== 'POST') {
      send(res, 405, JSON.stringify({ error: 'invalid_request', error_description: 'The token endpoint takes POST.' }));
      return;
    }
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const latency = faults.latencyMs('token');
    if (latency > 0) await sleep(latency);
    const decision = faults.decide('token', null, clock.now());
    if (decision.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (decision.kind === 'error') {
      send(res, decision.error.status, JSON.stringify(decision.error.body), decision.error.headers);
      return;
    }
    const answer = path === '/revoke' ? auth.revoke(form) : auth.token(form, req.headers.authorization);
    const grant = path === '/revoke' ? 'revoke' : shortGrant(form.get('grant_type'));
    quota.countToken(`${grant}:${answer.status === 200 ? 'ok' : String(answer.body.error)}`);
    send(res, answer.status, JSON.stringify(answer.body));
  }

  function consentRoute(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const answer = auth.consent(url.searchParams);
    if (answer.location) {
      res.writeHead(answer.status, { Location: answer.location, 'Content-Length': '0' });
      res.end();
      return;
    }
    send(res, answer.status, answer.html ?? '', {}, 'text/html; charset=utf-8');
  }

  async function controlRoute(req: IncomingMessage, res: ServerResponse, op: string): Promise<void> {
    try {
      const raw = req.method === 'POST' ? (await readBody(req)).toString('utf8') : '';
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('control body must be a JSON object');
      const result = controlOperation(control, gates, op, body);
      send(res, 200, JSON.stringify(result ?? {}));
    } catch (e) {
      send(res, 400, JSON.stringify({ error: (e as Error).message }));
    }
  }

  async function gmailRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const route = matchRoute(url.pathname);
    const underUsers = url.pathname.startsWith('/gmail/v1/users/');
    if (!route && !(underUsers && req.method !== 'GET')) {
      send(res, 404, '<!DOCTYPE html><title>Error 404 (Not Found)!!1</title><p>The requested URL was not found on this server.', {}, 'text/html; charset=UTF-8');
      return;
    }
    let grant;
    try {
      grant = auth.authenticate(req.headers.authorization);
    } catch (e) {
      quota.countUnauthenticated();
      sendError(res, e);
      return;
    }
    if (!route) {
      // Writes (send, modify, trash …) are not emulated; a read-only token gets this from Gmail too.
      sendError(res, errors.insufficientScopes());
      return;
    }
    const email = grant.mailbox;
    let mailbox;
    try {
      if (email === null) throw route.userId === 'me' ? errors.preconditionFailed() : errors.delegationDenied(route.userId);
      if (route.userId !== 'me' && route.userId.toLowerCase() !== email) throw errors.delegationDenied(route.userId);
      mailbox = store.get(email);
      if (!mailbox.flags.hasGmail) throw errors.mailServiceNotEnabled();
      if (!Auth.canRead(grant) || req.method !== 'GET') throw errors.insufficientScopes();
    } catch (e) {
      if (email) quota.countStatus(email, sendError(res, e));
      else sendError(res, e);
      return;
    }
    const method: GmailMethod = route.method;
    quota.countCall(email, method);
    try {
      quota.enter(email);
    } catch (e) {
      quota.countStatus(email, sendError(res, e));
      return;
    }
    try {
      const latency = faults.latencyMs(method);
      if (latency > 0) await sleep(latency);
      await gates.pass(method, email);
      const decision = faults.decide(method, email, clock.now());
      if (decision.kind === 'drop') {
        quota.countStatus(email, 0);
        req.socket.destroy();
        return;
      }
      if (decision.kind === 'error') throw decision.error;
      const fieldsParam = url.searchParams.get('fields');
      const fieldTree = fieldsParam ? parseFields(fieldsParam) : null;
      quota.charge(email, method);
      const result = applyFields(gmail.handle(route, mailbox, grant, url.searchParams), fieldTree);
      const bytes = send(res, 200, JSON.stringify(result));
      quota.sent(email, method, bytes);
      quota.countStatus(email, 200);
    } catch (e) {
      const status = sendError(res, e);
      quota.countStatus(email, status);
    } finally {
      quota.release(email);
    }
  }

  function sendError(res: ServerResponse, e: unknown): number {
    if (e instanceof GmailError) {
      send(res, e.status, JSON.stringify(e.body), e.headers);
      return e.status;
    }
    const err = errors.backendError();
    send(res, 500, JSON.stringify({ ...err.body, emulatorError: String((e as Error)?.message ?? e) }));
    return 500;
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    let work: Promise<void> | void;
    if (path === '/token' || path === '/revoke') work = tokenRoutes(req, res, path);
    else if (path === '/o/oauth2/v2/auth') work = consentRoute(req, res, url);
    else if (path.startsWith('/__control/')) work = controlRoute(req, res, path.slice('/__control/'.length));
    else work = gmailRoute(req, res, url);
    Promise.resolve(work).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: String((e as Error)?.message ?? e) }));
      else res.destroy();
    });
  });

  return {
    url: origin,
    tokenUrl: urls.tokenUrl,
    authUrl: urls.authUrl,
    controlUrl: `${origin}/__control/`,
    control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function shortGrant(grant: string | null): string {
  if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') return 'jwt-bearer';
  return grant || 'none';
}
