// The Gmail v1 read surface under /gmail/v1/users/{userId}/…: what each method answers for one
// mailbox, once the server has authenticated, admitted and charged the request.
import { randomBytes } from 'node:crypto';
import { Auth, type AccessGrant } from './auth.js';
import { errors, googleError } from './errors.js';
import { buildMessage } from './message.js';
import type { Clock, GmailMethod, ResolvedOptions } from './options.js';
import { parseQuery } from './query.js';
import { compareNewestFirst, SYSTEM_LABELS, type HistoryRecord, type HistoryType, type Mailbox, type Store, type StoredMessage } from './store.js';

export interface Route {
  method: GmailMethod;
  userId: string;
  ids: string[];
}

const ROUTES: [RegExp, GmailMethod][] = [
  [/^\/gmail\/v1\/users\/([^/]+)\/profile$/, 'getProfile'],
  [/^\/gmail\/v1\/users\/([^/]+)\/labels$/, 'labels.list'],
  [/^\/gmail\/v1\/users\/([^/]+)\/labels\/([^/]+)$/, 'labels.get'],
  [/^\/gmail\/v1\/users\/([^/]+)\/messages$/, 'messages.list'],
  [/^\/gmail\/v1\/users\/([^/]+)\/messages\/([^/]+)$/, 'messages.get'],
  [/^\/gmail\/v1\/users\/([^/]+)\/messages\/([^/]+)\/attachments\/([^/]+)$/, 'messages.attachments.get'],
  [/^\/gmail\/v1\/users\/([^/]+)\/threads$/, 'threads.list'],
  [/^\/gmail\/v1\/users\/([^/]+)\/threads\/([^/]+)$/, 'threads.get'],
  [/^\/gmail\/v1\/users\/([^/]+)\/history$/, 'history.list'],
];

export function matchRoute(pathname: string): Route | null {
  for (const [re, method] of ROUTES) {
    const m = re.exec(pathname);
    if (m) {
      const [userId, ...ids] = m.slice(1).map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
      return { method, userId: userId!, ids };
    }
  }
  return null;
}

const HISTORY_TYPES: readonly HistoryType[] = ['messageAdded', 'messageDeleted', 'labelAdded', 'labelRemoved'];
const SYSTEM_LABEL_VISIBILITY: Record<string, { messageListVisibility?: string; labelListVisibility?: string }> = {
  INBOX: { messageListVisibility: 'hide', labelListVisibility: 'labelShow' },
  SENT: { messageListVisibility: 'hide', labelListVisibility: 'labelShow' },
  DRAFT: { messageListVisibility: 'hide', labelListVisibility: 'labelShow' },
  SPAM: { messageListVisibility: 'hide', labelListVisibility: 'labelHide' },
  TRASH: { messageListVisibility: 'hide', labelListVisibility: 'labelHide' },
  CHAT: { messageListVisibility: 'hide', labelListVisibility: 'labelHide' },
  STARRED: { messageListVisibility: 'hide', labelListVisibility: 'labelShow' },
  UNREAD: { messageListVisibility: 'hide', labelListVisibility: 'labelShow' },
  IMPORTANT: { messageListVisibility: 'hide', labelListVisibility: 'labelShow' },
};

interface MintedId {
  email: string;
  messageId: string;
  partId: string;
  expiresAt: number;
}

/** Attachment ids are minted per messages.get and expire, as Gmail's do. */
class AttachmentIds {
  private readonly ids = new Map<string, MintedId>();
  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  mint(email: string, messageId: string, partId: string): string {
    this.prune();
    const id = `ANGjdJ${randomBytes(96).toString('base64url')}`;
    this.ids.set(id, { email, messageId, partId, expiresAt: this.clock.now() + this.ttlMs });
    return id;
  }

  lookup(id: string): MintedId | undefined {
    const m = this.ids.get(id);
    if (!m || m.expiresAt <= this.clock.now()) return undefined;
    return m;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [k, v] of this.ids) {
      if (v.expiresAt > now) break;
      this.ids.delete(k);
    }
  }
}

function intParam(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw errors.invalidArgument(`Invalid value for ${name}: ${raw}`);
  const n = Number(raw);
  if (n < 1) throw errors.invalidArgument(`Invalid value for ${name}: ${raw}`);
  // Gmail silently caps a maxResults above its maximum.
  return Math.min(n, max);
}

function boolParam(params: URLSearchParams, name: string): boolean {
  const raw = params.get(name);
  if (raw === null || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw errors.invalidArgument(`Invalid value for ${name}: ${raw}`);
}

const encodeToken = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
function decodeToken(token: string, re: RegExp): RegExpExecArray {
  const m = re.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m) throw errors.invalidArgument('Invalid pageToken');
  return m;
}

export class GmailApi {
  private readonly attachmentIds: AttachmentIds;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly opts: ResolvedOptions,
  ) {
    this.attachmentIds = new AttachmentIds(clock, opts.attachmentIdTtlMs);
  }

  handle(route: Route, mb: Mailbox, grant: AccessGrant, params: URLSearchParams): unknown {
    switch (route.method) {
      case 'getProfile':
        return {
          emailAddress: mb.email,
          messagesTotal: mb.messages.size,
          threadsTotal: mb.threads.size,
          historyId: String(mb.historyId),
        };
      case 'labels.list':
        return { labels: this.labels(mb) };
      case 'labels.get':
        return this.label(mb, route.ids[0]!);
      case 'messages.list':
        return this.listMessages(mb, params);
      case 'messages.get':
        return this.getMessage(mb, grant, route.ids[0]!, params);
      case 'messages.attachments.get':
        return this.getAttachment(mb, grant, route.ids[0]!, route.ids[1]!);
      case 'threads.list':
        return this.listThreads(mb, params);
      case 'threads.get':
        return this.getThread(mb, grant, route.ids[0]!, params);
      case 'history.list':
        return this.listHistory(mb, params);
    }
  }

  private labels(mb: Mailbox): object[] {
    return [
      ...SYSTEM_LABELS.map((id) => ({ id, name: id, ...SYSTEM_LABEL_VISIBILITY[id], type: 'system' })),
      ...[...mb.userLabels.values()].map((l) => ({
        id: l.id,
        name: l.name,
        messageListVisibility: 'show',
        labelListVisibility: 'labelShow',
        type: 'user',
      })),
    ];
  }

  private label(mb: Mailbox, id: string): object {
    const label = this.labels(mb).find((l) => (l as { id: string }).id === id);
    if (!label) throw errors.notFound();
    const msgs = [...mb.messages.values()].filter((m) => m.labelIds.has(id));
    const unread = msgs.filter((m) => m.labelIds.has('UNREAD'));
    return {
      ...label,
      messagesTotal: msgs.length,
      messagesUnread: unread.length,
      threadsTotal: new Set(msgs.map((m) => m.threadId)).size,
      threadsUnread: new Set(unread.map((m) => m.threadId)).size,
    };
  }

  private filter(mb: Mailbox, params: URLSearchParams): (m: StoredMessage) => boolean {
    const query = parseQuery(params.get('q'), mb, { now: this.clock.now(), timeZone: this.opts.queryTimeZone });
    const labelIds = params.getAll('labelIds');
    const includeSpamTrash = boolParam(params, 'includeSpamTrash') || query.namesSpamOrTrash || labelIds.includes('SPAM') || labelIds.includes('TRASH');
    return (m) =>
      (includeSpamTrash || (!m.labelIds.has('SPAM') && !m.labelIds.has('TRASH'))) &&
      labelIds.every((l) => m.labelIds.has(l)) &&
      query.test(m);
  }

  private listMessages(mb: Mailbox, params: URLSearchParams): object {
    const max = intParam(params, 'maxResults', 100, 500);
    const keep = this.filter(mb, params);
    const token = params.get('pageToken');
    const after = token ? decodeToken(token, /^m(\d+)\.([0-9a-f]+)$/) : null;
    const afterKey = after ? { internalDate: Number(after[1]), id: after[2]! } : null;
    const page: StoredMessage[] = [];
    let total = 0;
    let more = false;
    for (const m of mb.sorted()) {
      if (!keep(m)) continue;
      total++;
      if (afterKey && compareNewestFirst(m, afterKey) <= 0) continue;
      if (page.length < max) page.push(m);
      else more = true;
    }
    const last = page[page.length - 1];
    return {
      ...(page.length ? { messages: page.map((m) => ({ id: m.id, threadId: m.threadId })) } : {}),
      ...(more && last ? { nextPageToken: encodeToken(`m${last.internalDate}.${last.id}`) } : {}),
      resultSizeEstimate: total,
    };
  }

  private listThreads(mb: Mailbox, params: URLSearchParams): object {
    const max = intParam(params, 'maxResults', 100, 500);
    const keep = this.filter(mb, params);
    const token = params.get('pageToken');
    const after = token ? decodeToken(token, /^t(\d+)\.([0-9a-f]+)$/) : null;
    const afterKey = after ? { internalDate: Number(after[1]), id: after[2]! } : null;
    const seen = new Set<string>();
    const page: StoredMessage[] = [];
    let more = false;
    for (const m of mb.sorted()) {
      if (seen.has(m.threadId) || !keep(m)) continue;
      seen.add(m.threadId);
      if (afterKey && compareNewestFirst(m, afterKey) <= 0) continue;
      if (page.length < max) page.push(m);
      else more = true;
    }
    const last = page[page.length - 1];
    return {
      ...(page.length
        ? {
            threads: page.map((m) => ({
              id: m.threadId,
              snippet: this.build(mb, m, false).minimal.snippet ?? '',
              historyId: String(this.threadHistoryId(mb, m.threadId)),
            })),
          }
        : {}),
      ...(more && last ? { nextPageToken: encodeToken(`t${last.internalDate}.${last.id}`) } : {}),
      resultSizeEstimate: seen.size,
    };
  }

  private threadHistoryId(mb: Mailbox, threadId: string): bigint {
    let max = 0n;
    for (const id of mb.threads.get(threadId) ?? []) {
      const h = mb.messages.get(id)!.historyId;
      if (h > max) max = h;
    }
    return max;
  }

  private build(mb: Mailbox, m: StoredMessage, mintIds: boolean, metadataHeaders?: string[]) {
    return buildMessage(
      m.raw,
      { id: m.id, threadId: m.threadId, labelIds: [...m.labelIds], internalDate: m.internalDate, historyId: String(m.historyId) },
      {
        attachmentId: mintIds ? (partId) => this.attachmentIds.mint(mb.email, m.id, partId) : () => '',
        metadataHeaders: metadataHeaders && metadataHeaders.length ? metadataHeaders : undefined,
        bodyAsAttachmentOver: this.opts.bodyAsAttachmentOver,
      },
    );
  }

  private format(params: URLSearchParams, allowed: readonly string[], grant: AccessGrant): 'full' | 'metadata' | 'minimal' | 'raw' {
    const f = (params.get('format') ?? 'full').toLowerCase();
    if (!allowed.includes(f)) throw errors.invalidArgument(`Invalid value for format: ${params.get('format')}`);
    if ((f === 'full' || f === 'raw') && !Auth.canReadContent(grant)) {
      throw googleError(403, 'forbidden', `Metadata scope doesn't allow format ${f.toUpperCase()}`);
    }
    return f as 'full' | 'metadata' | 'minimal' | 'raw';
  }

  private findMessage(mb: Mailbox, id: string): StoredMessage {
    if (!/^[0-9a-f]{1,32}$/i.test(id)) throw errors.invalidArgument('Invalid id value');
    const m = mb.messages.get(id.toLowerCase());
    if (!m) throw errors.notFound();
    return m;
  }

  private getMessage(mb: Mailbox, grant: AccessGrant, id: string, params: URLSearchParams): object {
    const format = this.format(params, ['full', 'metadata', 'minimal', 'raw'], grant);
    const m = this.findMessage(mb, id);
    return this.build(mb, m, format === 'full', params.getAll('metadataHeaders'))[format];
  }

  private getAttachment(mb: Mailbox, grant: AccessGrant, messageId: string, attachmentId: string): object {
    if (!Auth.canReadContent(grant)) throw errors.insufficientScopes();
    const m = this.findMessage(mb, messageId);
    const minted = this.attachmentIds.lookup(attachmentId);
    if (!minted || minted.email !== mb.email || minted.messageId !== m.id) {
      throw this.opts.expiredAttachmentStatus === 404 ? errors.notFound() : errors.invalidArgument('Invalid attachment token');
    }
    const bytes = this.build(mb, m, false).attachments.get(minted.partId);
    if (!bytes) throw errors.notFound();
    return { size: bytes.length, data: bytes.toString('base64url') };
  }

  private getThread(mb: Mailbox, grant: AccessGrant, id: string, params: URLSearchParams): object {
    const format = this.format(params, ['full', 'metadata', 'minimal'], grant);
    if (!/^[0-9a-f]{1,32}$/i.test(id)) throw errors.invalidArgument('Invalid id value');
    const ids = mb.threads.get(id.toLowerCase());
    if (!ids || ids.size === 0) throw errors.notFound();
    const msgs = [...ids].map((i) => mb.messages.get(i)!).sort((a, b) => compareNewestFirst(b, a));
    const headers = params.getAll('metadataHeaders');
    return {
      id: id.toLowerCase(),
      historyId: String(this.threadHistoryId(mb, id.toLowerCase())),
      messages: msgs.map((m) => this.build(mb, m, format === 'full', headers)[format]),
    };
  }

  private listHistory(mb: Mailbox, params: URLSearchParams): object {
    const startRaw = params.get('startHistoryId');
    if (!startRaw) throw errors.invalidArgument('Missing required parameter: startHistoryId');
    if (!/^\d{1,30}$/.test(startRaw)) throw errors.invalidArgument(`Invalid startHistoryId: ${startRaw}`);
    const max = intParam(params, 'maxResults', 100, 500);
    const types = params.getAll('historyTypes');
    for (const t of types) {
      if (!HISTORY_TYPES.includes(t as HistoryType)) throw errors.invalidArgument(`Invalid value for historyTypes: ${t}`);
    }
    const wanted = new Set<HistoryType>(types.length ? (types as HistoryType[]) : HISTORY_TYPES);
    const labelId = params.get('labelId');
    const token = params.get('pageToken');
    let from = BigInt(startRaw);
    if (token) from = BigInt(decodeToken(token, /^h(\d+)$/)[1]!);
    this.store.applyRetention(mb, this.opts.historyRetentionMs);
    if (BigInt(startRaw) < mb.historyFloor || from < mb.historyFloor) throw errors.notFound();
    const records = mb.history;
    let lo = 0;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (records[mid]!.id <= from) lo = mid + 1;
      else hi = mid;
    }
    const out: object[] = [];
    let lastId: bigint | null = null;
    let more = false;
    for (let i = lo; i < records.length; i++) {
      const rendered = renderRecord(records[i]!, wanted, labelId);
      if (!rendered) continue;
      if (out.length === max) {
        more = true;
        break;
      }
      out.push(rendered);
      lastId = records[i]!.id;
    }
    return {
      ...(out.length ? { history: out } : {}),
      ...(more && lastId !== null ? { nextPageToken: encodeToken(`h${lastId}`) } : {}),
      historyId: String(mb.historyId),
    };
  }
}

function renderRecord(r: HistoryRecord, wanted: Set<HistoryType>, labelId: string | null): object | null {
  if (labelId && !r.labelIds.includes(labelId) && !r.labelsAdded?.includes(labelId) && !r.labelsRemoved?.includes(labelId)) return null;
  const message = { id: r.message.id, threadId: r.message.threadId };
  const withLabels = { ...message, labelIds: [...r.labelIds] };
  const out: Record<string, unknown> = { id: String(r.id), messages: [message] };
  let any = false;
  if (r.added && wanted.has('messageAdded')) {
    out.messagesAdded = [{ message: withLabels }];
    any = true;
  }
  if (r.deleted && wanted.has('messageDeleted')) {
    out.messagesDeleted = [{ message: withLabels }];
    any = true;
  }
  if (r.labelsAdded && wanted.has('labelAdded')) {
    out.labelsAdded = [{ message: withLabels, labelIds: [...r.labelsAdded] }];
    any = true;
  }
  if (r.labelsRemoved && wanted.has('labelRemoved')) {
    out.labelsRemoved = [{ message: withLabels, labelIds: [...r.labelsRemoved] }];
    any = true;
  }
  return any ? out : null;
}
