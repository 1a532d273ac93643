// The control API from another process: the same operations as EmulatorControl, over
// POST /__control/<op>, each answering a Promise.
import type { OAuthClientInfo, RegisteredPublicKey, RegisterServiceAccountOptions, ServiceAccountKey, ConsentDecision } from './auth.js';
import type { MailboxInfo, MessageInfo } from './control.js';
import type { FailNextSpec } from './faults.js';
import type { FaultOptions, GmailMethod, QuotaOptions } from './options.js';
import type { Stats } from './quota.js';
import type { DeliveredCopy, DeliverOptions, MailboxFlags, UserLabel } from './store.js';

export class ControlClient {
  private readonly base: string;

  /** `url` is the emulator's origin or its control URL. */
  constructor(url: string) {
    const u = new URL(url);
    this.base = `${u.origin}/__control/`;
  }

  async call<T>(op: string, body: object = {}): Promise<T> {
    const res = await fetch(this.base + op, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    const data = text ? JSON.parse(text) : {};
    if (!res.ok) throw new Error(`emulator control ${op}: ${data.error ?? res.status}`);
    return data as T;
  }

  createMailbox(email: string, flags: Partial<MailboxFlags> = {}): Promise<MailboxInfo> {
    return this.call('createMailbox', { email, ...flags });
  }
  updateMailbox(email: string, flags: Partial<MailboxFlags>): Promise<MailboxInfo> {
    return this.call('updateMailbox', { email, ...flags });
  }
  setDwdAuthorised(email: string, authorised: boolean): Promise<MailboxInfo> {
    return this.call('setDwdAuthorised', { email, authorised });
  }
  setSuspended(email: string, suspended: boolean): Promise<MailboxInfo> {
    return this.call('setSuspended', { email, suspended });
  }
  mailbox(email: string): Promise<MailboxInfo> {
    return this.call('mailbox', { email });
  }
  mailboxes(): Promise<MailboxInfo[]> {
    return this.call('mailboxes');
  }
  createLabel(email: string, name: string): Promise<UserLabel> {
    return this.call('createLabel', { email, name });
  }
  deliver(raw: Buffer | string, opts: DeliverOptions): Promise<Record<string, DeliveredCopy>> {
    const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    return this.call('deliver', { ...opts, rawBase64: bytes.toString('base64') });
  }
  messages(email: string): Promise<MessageInfo[]> {
    return this.call('messages', { email });
  }
  async deleteMessage(email: string, id: string): Promise<void> {
    await this.call('deleteMessage', { email, id });
  }
  trash(email: string, id: string): Promise<MessageInfo> {
    return this.call('trash', { email, id });
  }
  untrash(email: string, id: string): Promise<MessageInfo> {
    return this.call('untrash', { email, id });
  }
  modifyLabels(email: string, id: string, change: { add?: string[]; remove?: string[] }): Promise<MessageInfo> {
    return this.call('modifyLabels', { email, id, ...change });
  }
  async expireHistory(email: string | null, opts: { before?: number; throughHistoryId?: string }): Promise<void> {
    await this.call('expireHistory', { ...(email ? { email } : {}), ...opts });
  }
  async setHistoryRetention(ms: number): Promise<void> {
    await this.call('setHistoryRetention', { ms });
  }
  registerServiceAccount(opts: RegisterServiceAccountOptions = {}): Promise<ServiceAccountKey | RegisteredPublicKey> {
    return this.call('registerServiceAccount', opts);
  }
  async setServiceAccountDwd(clientEmail: string, dwd: boolean): Promise<void> {
    await this.call('setServiceAccountDwd', { client_email: clientEmail, dwd });
  }
  registerOAuthClient(opts: { client_id?: string; client_secret?: string; redirect_uris: string[] }): Promise<OAuthClientInfo> {
    return this.call('registerOAuthClient', opts);
  }
  async setNextConsent(decision: ConsentDecision): Promise<void> {
    await this.call('setNextConsent', decision);
  }
  async revokeRefreshTokens(opts: { email?: string; token?: string; client_id?: string }): Promise<number> {
    return (await this.call<{ revoked: number }>('revokeRefreshTokens', opts)).revoked;
  }
  async revokeAccessTokens(opts: { email?: string } = {}): Promise<number> {
    return (await this.call<{ revoked: number }>('revokeAccessTokens', opts)).revoked;
  }
  async setQuota(opts: QuotaOptions): Promise<void> {
    await this.call('setQuota', opts);
  }
  async setFaults(opts: FaultOptions): Promise<void> {
    await this.call('setFaults', opts);
  }
  async failNext(spec: FailNextSpec): Promise<void> {
    await this.call('failNext', spec);
  }
  async clearFailNext(): Promise<void> {
    await this.call('clearFailNext');
  }
  /** Holds matching Gmail requests until `release(holdId)`. */
  async hold(filter: { method?: GmailMethod; email?: string } = {}): Promise<number> {
    return (await this.call<{ holdId: number }>('hold', filter)).holdId;
  }
  async held(holdId: number): Promise<number> {
    return (await this.call<{ waiting: number }>('held', { holdId })).waiting;
  }
  async release(holdId: number): Promise<void> {
    await this.call('release', { holdId });
  }
  async inFlight(email: string): Promise<number> {
    return (await this.call<{ inFlight: number }>('inFlight', { email })).inFlight;
  }
  stats(): Promise<Stats> {
    return this.call('stats');
  }
  async resetStats(): Promise<void> {
    await this.call('resetStats');
  }
  async now(): Promise<number> {
    return (await this.call<{ now: number }>('now')).now;
  }
  async advanceTime(ms: number): Promise<number> {
    return (await this.call<{ now: number }>('advanceTime', { ms })).now;
  }
}
