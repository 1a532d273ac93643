// The emulator's own controls — mailboxes, mail, credentials, quota, faults, time, statistics —
// for tests in-process and, as JSON under /__control/, for a separate process (demo, runbooks).
import type { Auth, ConsentDecision, OAuthClientInfo, RegisteredPublicKey, RegisterServiceAccountOptions, ServiceAccountKey } from './auth.js';
import type { FailNextSpec, Faults } from './faults.js';
import type { EmulatorClock, FaultOptions, GmailMethod, QuotaOptions, ResolvedOptions } from './options.js';
import type { Quota, Stats } from './quota.js';
import type { DeliveredCopy, DeliverOptions, MailboxFlags, Store, UserLabel } from './store.js';

export interface MailboxInfo extends MailboxFlags {
  email: string;
  messagesTotal: number;
  threadsTotal: number;
  historyId: string;
  /** The oldest startHistoryId history.list still answers. */
  oldestHistoryId: string;
}

export interface MessageInfo {
  id: string;
  threadId: string;
  labelIds: string[];
  internalDate: number;
  historyId: string;
  /** Message-ID header, normalised (lower case, no brackets), or null. */
  messageId: string | null;
  sizeEstimate: number;
}

/** A gate that holds matching Gmail requests (after they took a concurrency slot) until released. */
export interface Hold {
  readonly id: number;
  /** Requests waiting at the gate now. */
  readonly waiting: number;
  /** Resolves once at least `n` requests wait at the gate. */
  whenWaiting(n: number): Promise<void>;
  release(): void;
}

interface HoldState {
  id: number;
  method?: GmailMethod;
  email?: string;
  waiting: number;
  released: boolean;
  release: () => void;
  gate: Promise<void>;
  watchers: { n: number; resolve: () => void }[];
}

export class Gates {
  private holds: HoldState[] = [];
  private nextId = 1;

  hold(filter: { method?: GmailMethod; email?: string } = {}): Hold {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const state: HoldState = { id: this.nextId++, method: filter.method, email: filter.email?.toLowerCase(), waiting: 0, released: false, release, gate, watchers: [] };
    this.holds.push(state);
    return {
      id: state.id,
      get waiting() {
        return state.waiting;
      },
      whenWaiting: (n) =>
        state.waiting >= n || state.released ? Promise.resolve() : new Promise<void>((resolve) => state.watchers.push({ n, resolve })),
      release: () => this.release(state.id),
    };
  }

  release(id: number): void {
    const state = this.holds.find((h) => h.id === id);
    if (!state) throw new Error(`no hold ${id}`);
    state.released = true;
    this.holds = this.holds.filter((h) => h !== state);
    state.release();
    for (const w of state.watchers) w.resolve();
  }

  waiting(id: number): number {
    const state = this.holds.find((h) => h.id === id);
    if (!state) throw new Error(`no hold ${id}`);
    return state.waiting;
  }

  /** Waits while a hold matches this request. */
  async pass(method: GmailMethod, email: string): Promise<void> {
    for (;;) {
      const h = this.holds.find((s) => (!s.method || s.method === method) && (!s.email || s.email === email));
      if (!h) return;
      h.waiting++;
      for (const w of h.watchers.filter((x) => h.waiting >= x.n)) w.resolve();
      h.watchers = h.watchers.filter((x) => h.waiting < x.n);
      await h.gate;
      h.waiting--;
    }
  }
}

export class EmulatorControl {
  constructor(
    private readonly store: Store,
    private readonly auth: Auth,
    private readonly quota: Quota,
    private readonly faults: Faults,
    private readonly gates: Gates,
    private readonly clock: EmulatorClock,
    private readonly opts: ResolvedOptions,
  ) {}

  createMailbox(email: string, flags: Partial<MailboxFlags> = {}): MailboxInfo {
    return this.info(this.store.createMailbox(email, checkFlags(flags)).email);
  }

  updateMailbox(email: string, flags: Partial<MailboxFlags>): MailboxInfo {
    const mb = this.store.get(email);
    mb.flags = { ...mb.flags, ...checkFlags(flags) };
    return this.info(mb.email);
  }

  setDwdAuthorised(email: string, authorised: boolean): MailboxInfo {
    return this.updateMailbox(email, { authorisedForDwd: authorised });
  }

  setSuspended(email: string, suspended: boolean): MailboxInfo {
    return this.updateMailbox(email, { suspended });
  }

  mailbox(email: string): MailboxInfo {
    return this.info(email);
  }

  mailboxes(): MailboxInfo[] {
    return this.store.all().map((mb) => this.info(mb.email));
  }

  private info(email: string): MailboxInfo {
    const mb = this.store.get(email);
    this.store.applyRetention(mb, this.opts.historyRetentionMs);
    return {
      email: mb.email,
      ...mb.flags,
      messagesTotal: mb.messages.size,
      threadsTotal: mb.threads.size,
      historyId: String(mb.historyId),
      oldestHistoryId: String(mb.historyFloor),
    };
  }

  createLabel(email: string, name: string): UserLabel {
    return this.store.createLabel(email, name);
  }

  /** One RFC 822 message to several mailboxes; each copy gets its own Gmail id and thread id. */
  deliver(raw: Buffer | string, opts: DeliverOptions): Record<string, DeliveredCopy> {
    return this.store.deliver(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw, opts);
  }

  messages(email: string): MessageInfo[] {
    return this.store.get(email).sorted().map((m) => ({
      id: m.id,
      threadId: m.threadId,
      labelIds: [...m.labelIds],
      internalDate: m.internalDate,
      historyId: String(m.historyId),
      messageId: m.rfcId,
      sizeEstimate: m.raw.length,
    }));
  }

  deleteMessage(email: string, id: string): void {
    this.store.deleteMessage(email, id);
  }

  trash(email: string, id: string): MessageInfo {
    this.store.trash(email, id);
    return this.messageInfo(email, id);
  }

  untrash(email: string, id: string): MessageInfo {
    this.store.untrash(email, id);
    return this.messageInfo(email, id);
  }

  modifyLabels(email: string, id: string, change: { add?: string[]; remove?: string[] }): MessageInfo {
    this.store.modifyLabels(email, id, change);
    return this.messageInfo(email, id);
  }

  private messageInfo(email: string, id: string): MessageInfo {
    return this.messages(email).find((m) => m.id === id)!;
  }

  /**
   * Forgets history of one mailbox (or all): records before `before` (epoch ms on the emulator
   * clock) and/or up to `throughHistoryId`; a `before` at or after now forgets everything.
   */
  expireHistory(email: string | null, opts: { before?: number; throughHistoryId?: string }): void {
    if (opts.before === undefined && opts.throughHistoryId === undefined) throw new Error('expireHistory: give before or throughHistoryId');
    if (opts.before !== undefined && !Number.isFinite(opts.before)) throw new Error('expireHistory: before must be epoch milliseconds');
    if (opts.throughHistoryId !== undefined && !/^\d{1,30}$/.test(String(opts.throughHistoryId))) {
      throw new Error('expireHistory: throughHistoryId must be a decimal string');
    }
    for (const mb of email ? [this.store.get(email)] : this.store.all()) this.store.expireHistory(mb.email, opts);
  }

  setHistoryRetention(ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) throw new Error('setHistoryRetention: ms must be positive');
    this.opts.historyRetentionMs = ms;
  }

  registerServiceAccount(opts: RegisterServiceAccountOptions = {}): ServiceAccountKey | RegisteredPublicKey {
    return this.auth.registerServiceAccount(opts);
  }

  setServiceAccountDwd(clientEmail: string, dwd: boolean): void {
    this.auth.setServiceAccountDwd(clientEmail, dwd);
  }

  registerOAuthClient(opts: { client_id?: string; client_secret?: string; redirect_uris: string[] }): OAuthClientInfo {
    return this.auth.registerOAuthClient(opts);
  }

  setNextConsent(decision: ConsentDecision): void {
    this.auth.setNextConsent(decision);
  }

  revokeRefreshTokens(opts: { email?: string; token?: string; client_id?: string }): number {
    return this.auth.revokeRefreshTokens(opts);
  }

  revokeAccessTokens(opts: { email?: string } = {}): number {
    return this.auth.revokeAccessTokens(opts);
  }

  setQuota(opts: QuotaOptions): void {
    this.quota.configure(opts);
  }

  setFaults(opts: FaultOptions): void {
    this.faults.configure(opts);
  }

  failNext(spec: FailNextSpec): void {
    if (spec.email) this.store.get(spec.email);
    this.faults.failNext(spec);
  }

  clearFailNext(): void {
    this.faults.clearPending();
  }

  hold(filter: { method?: GmailMethod; email?: string } = {}): Hold {
    return this.gates.hold(filter);
  }

  inFlight(email: string): number {
    return this.quota.inFlight(this.store.get(email).email);
  }

  stats(): Stats {
    return this.quota.stats();
  }

  resetStats(): void {
    this.quota.resetStats();
  }

  now(): number {
    return this.clock.now();
  }

  advanceTime(ms: number): number {
    this.clock.advance(ms);
    return this.clock.now();
  }
}

/** Only the known flags, each a boolean (the HTTP control passes whole request bodies). */
function checkFlags(flags: Partial<MailboxFlags>): Partial<MailboxFlags> {
  const out: Partial<MailboxFlags> = {};
  for (const key of ['authorisedForDwd', 'suspended', 'hasGmail'] as const) {
    const v = flags[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new Error(`${key} must be a boolean`);
    out[key] = v;
  }
  return out;
}

type Json = Record<string, unknown>;

function str(body: Json, name: string): string {
  const v = body[name];
  if (typeof v !== 'string' || !v) throw new Error(`${name} (string) is required`);
  return v;
}

function bool(body: Json, name: string): boolean {
  const v = body[name];
  if (typeof v !== 'boolean') throw new Error(`${name} (boolean) is required`);
  return v;
}

/** The control surface as JSON operations: POST /__control/<op> with a JSON object body. */
export function controlOperation(c: EmulatorControl, gates: Gates, op: string, body: Json): unknown {
  switch (op) {
    case 'createMailbox':
      return c.createMailbox(str(body, 'email'), body as Partial<MailboxFlags>);
    case 'updateMailbox':
      return c.updateMailbox(str(body, 'email'), body as Partial<MailboxFlags>);
    case 'setDwdAuthorised':
      return c.setDwdAuthorised(str(body, 'email'), bool(body, 'authorised'));
    case 'setSuspended':
      return c.setSuspended(str(body, 'email'), bool(body, 'suspended'));
    case 'mailbox':
      return c.mailbox(str(body, 'email'));
    case 'mailboxes':
      return c.mailboxes();
    case 'createLabel':
      return c.createLabel(str(body, 'email'), str(body, 'name'));
    case 'deliver': {
      const raw =
        typeof body.rawBase64 === 'string' ? Buffer.from(body.rawBase64, 'base64') : typeof body.raw === 'string' ? Buffer.from(body.raw, 'utf8') : null;
      if (!raw) throw new Error('deliver needs rawBase64 (base64 bytes) or raw (UTF-8 text)');
      return c.deliver(raw, body as unknown as DeliverOptions);
    }
    case 'messages':
      return c.messages(str(body, 'email'));
    case 'deleteMessage':
      c.deleteMessage(str(body, 'email'), str(body, 'id'));
      return {};
    case 'trash':
      return c.trash(str(body, 'email'), str(body, 'id'));
    case 'untrash':
      return c.untrash(str(body, 'email'), str(body, 'id'));
    case 'modifyLabels':
      return c.modifyLabels(str(body, 'email'), str(body, 'id'), body as { add?: string[]; remove?: string[] });
    case 'expireHistory':
      c.expireHistory(typeof body.email === 'string' ? body.email : null, body as { before?: number; throughHistoryId?: string });
      return {};
    case 'setHistoryRetention':
      c.setHistoryRetention(Number(body.ms));
      return {};
    case 'registerServiceAccount':
      return c.registerServiceAccount(body as RegisterServiceAccountOptions);
    case 'setServiceAccountDwd':
      c.setServiceAccountDwd(str(body, 'client_email'), bool(body, 'dwd'));
      return {};
    case 'registerOAuthClient':
      return c.registerOAuthClient(body as { redirect_uris: string[] });
    case 'setNextConsent':
      c.setNextConsent(body as unknown as ConsentDecision);
      return {};
    case 'revokeRefreshTokens':
      return { revoked: c.revokeRefreshTokens(body) };
    case 'revokeAccessTokens':
      return { revoked: c.revokeAccessTokens(body) };
    case 'setQuota':
      c.setQuota(body as QuotaOptions);
      return {};
    case 'setFaults':
      c.setFaults(body as FaultOptions);
      return {};
    case 'failNext':
      c.failNext(body as unknown as FailNextSpec);
      return {};
    case 'clearFailNext':
      c.clearFailNext();
      return {};
    case 'hold':
      return { holdId: c.hold(body as { method?: GmailMethod; email?: string }).id };
    case 'held':
      return { waiting: gates.waiting(Number(body.holdId)) };
    case 'release':
      gates.release(Number(body.holdId));
      return {};
    case 'inFlight':
      return { inFlight: c.inFlight(str(body, 'email')) };
    case 'stats':
      return c.stats();
    case 'resetStats':
      c.resetStats();
      return {};
    case 'now':
      return { now: c.now() };
    case 'advanceTime':
      return { now: c.advanceTime(Number(body.ms)) };
    default:
      throw new Error(`unknown control operation "${op}"`);
  }
}
