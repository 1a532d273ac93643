// An in-memory Gmail for engine tests: mailboxes of real RFC 822 messages rendered by the
// emulator's message builder, with history, deletes, relabels, expiry and injected faults.
// It implements the GmailApi surface the engine sees, so tests run without HTTP.
import { QUOTA_COSTS } from '../../lib/gmail/costs.js';
import { buildMessage } from '../../tools/gmail-emulator/message.js';
import type { GmailApi, GmailCallStats, GmailFactory, GmailHistory, GmailMethod } from '../../lib/gmail/types.js';

interface Stored {
  id: string;
  threadId: string;
  raw: Buffer;
  labelIds: string[];
  internalDate: number;
  deleted: boolean;
}

interface Mailbox {
  email: string;
  messages: Map<string, Stored>;
  history: { id: bigint; record: GmailHistory }[];
  historyId: bigint;
  expiredBefore: bigint;
}

export type Fault = (method: GmailMethod, args: unknown[]) => void | Promise<void>;

const COST = QUOTA_COSTS.legacy;

export class FakeGmail {
  readonly boxes = new Map<string, Mailbox>();
  private seq = 1000;
  private attSeq = 0;
  /** Attachment ids minted by getMessage: id → (mailbox, message, partId). */
  private readonly attIds = new Map<string, { box: string; msg: string; partId: string }>();
  readonly calls: { email: string; method: GmailMethod }[] = [];
  fault?: (email: string, method: GmailMethod, args: unknown[]) => void | Promise<void>;
  /** The pace every client reports (units/s), as if it had adapted to Gmail's answers. */
  pace = 150;

  mailbox(email: string): Mailbox {
    let b = this.boxes.get(email);
    if (!b) {
      // Large, non-contiguous historyIds catch code that treats them as small numbers.
      b = { email, messages: new Map(), history: [], historyId: 9_007_199_254_740_993n, expiredBefore: 0n };
      this.boxes.set(email, b);
    }
    return b;
  }

  private bump(b: Mailbox, record: Omit<GmailHistory, 'id'>): void {
    b.historyId += BigInt(3 + (this.seq++ % 5));
    b.history.push({ id: b.historyId, record: { ...record, id: b.historyId.toString() } });
  }

  deliver(email: string, raw: string | Buffer, opts: { labelIds?: string[]; internalDate?: number; threadId?: string } = {}): string {
    const b = this.mailbox(email);
    const id = (this.seq++).toString(16).padStart(16, '0');
    const msg: Stored = {
      id,
      threadId: opts.threadId ?? id,
      raw: Buffer.isBuffer(raw) ? raw : Buffer.from(raw.replace(/\r?\n/g, '\r\n')),
      labelIds: opts.labelIds ?? ['INBOX'],
      internalDate: opts.internalDate ?? Date.parse('2026-01-10T10:00:00Z') + this.seq * 1000,
      deleted: false,
    };
    b.messages.set(id, msg);
    this.bump(b, { messages: [{ id, threadId: msg.threadId }], messagesAdded: [{ message: { id, threadId: msg.threadId, labelIds: msg.labelIds } }] });
    return id;
  }

  remove(email: string, id: string): void {
    const b = this.mailbox(email);
    const m = b.messages.get(id)!;
    m.deleted = true;
    this.bump(b, { messages: [{ id, threadId: m.threadId }], messagesDeleted: [{ message: { id, threadId: m.threadId } }] });
  }

  addLabels(email: string, id: string, labels: string[]): void {
    const b = this.mailbox(email);
    const m = b.messages.get(id)!;
    m.labelIds = [...new Set([...m.labelIds, ...labels])];
    this.bump(b, { messages: [{ id, threadId: m.threadId }], labelsAdded: [{ message: { id, threadId: m.threadId, labelIds: m.labelIds }, labelIds: labels }] });
  }

  removeLabels(email: string, id: string, labels: string[]): void {
    const b = this.mailbox(email);
    const m = b.messages.get(id)!;
    m.labelIds = m.labelIds.filter((l) => !labels.includes(l));
    this.bump(b, { messages: [{ id, threadId: m.threadId }], labelsRemoved: [{ message: { id, threadId: m.threadId, labelIds: m.labelIds }, labelIds: labels }] });
  }

  expireHistory(email: string): void {
    const b = this.mailbox(email);
    b.expiredBefore = b.historyId;
  }

  count(method: GmailMethod, email?: string): number {
    return this.calls.filter((c) => c.method === method && (!email || c.email === email)).length;
  }

  factory(): GmailFactory {
    return (account) => this.api(account.email);
  }

  api(email: string): GmailApi {
    const self = this;
    const stats: GmailCallStats = { quotaUnits: 0, calls: 0, retries: 0, rateLimited: 0, bytes: 0 };
    const call = async (method: GmailMethod, args: unknown[]) => {
      self.calls.push({ email, method });
      stats.calls++;
      stats.quotaUnits += COST[method];
      await self.fault?.(email, method, args);
    };
    const box = () => self.mailbox(email);
    return {
      email,
      stats,
      get paceUnitsSec() {
        return self.pace;
      },
      async getProfile() {
        await call('getProfile', []);
        const b = box();
        return { emailAddress: email, historyId: b.historyId.toString(), messagesTotal: [...b.messages.values()].filter((m) => !m.deleted).length };
      },
      async listMessages(opts) {
        await call('messages.list', [opts]);
        const hidden = opts.includeSpamTrash ? [] : ['SPAM', 'TRASH'];
        const all = [...box().messages.values()]
          .filter((m) => !m.deleted && !m.labelIds.some((l) => hidden.includes(l)))
          .filter((m) => !(opts.q ?? '').includes('-in:drafts') || !m.labelIds.includes('DRAFT'))
          .filter((m) => !(opts.q ?? '').includes('-in:chats') || !m.labelIds.includes('CHAT'))
          .sort((a, b) => b.internalDate - a.internalDate || (a.id < b.id ? 1 : -1));
        const start = opts.pageToken ? Number(opts.pageToken) : 0;
        const page = all.slice(start, start + opts.maxResults);
        const next = start + opts.maxResults < all.length ? String(start + opts.maxResults) : undefined;
        return { messages: page.map((m) => ({ id: m.id, threadId: m.threadId })), nextPageToken: next };
      },
      async getMessage(id, format = 'full') {
        await call('messages.get', [id]);
        const m = box().messages.get(id);
        if (!m || m.deleted) return null;
        const built = buildMessage(m.raw, { id: m.id, threadId: m.threadId, labelIds: m.labelIds, internalDate: m.internalDate, historyId: box().historyId.toString() }, {
          attachmentId: (partId) => {
            const aid = `att-${++self.attSeq}`;
            self.attIds.set(aid, { box: email, msg: id, partId });
            return aid;
          },
        });
        if (format === 'raw') {
          stats.bytes += m.raw.length;
          return built.raw;
        }
        stats.bytes += JSON.stringify(built.full).length;
        return built.full;
      },
      async getAttachment(messageId, attachmentId) {
        await call('messages.attachments.get', [messageId, attachmentId]);
        const ref = self.attIds.get(attachmentId);
        const m = box().messages.get(messageId);
        if (!ref || !m || m.deleted || ref.msg !== messageId) return null;
        const built = buildMessage(m.raw, { id: m.id, threadId: m.threadId, labelIds: m.labelIds, internalDate: m.internalDate, historyId: '1' });
        return built.attachments.get(ref.partId) ?? null;
      },
      async listHistory(opts) {
        await call('history.list', [opts]);
        const b = box();
        const start = BigInt(opts.startHistoryId);
        if (start < b.expiredBefore) return null;
        const records = b.history.filter((h) => h.id > start).map((h) => h.record);
        const offset = opts.pageToken ? Number(opts.pageToken) : 0;
        const pageSize = 3;
        const page = records.slice(offset, offset + pageSize);
        const next = offset + pageSize < records.length ? String(offset + pageSize) : undefined;
        return { history: page, nextPageToken: next, historyId: b.historyId.toString() };
      },
    };
  }
}

let n = 0;
/** A minimal RFC 822 message. */
export function eml(o: { from: string; to: string[]; cc?: string[]; bcc?: string[]; subject: string; messageId?: string | null; inReplyTo?: string; references?: string[]; date?: string; body?: string; attachment?: { filename: string; content: string; type?: string } }): string {
  const mid = o.messageId === undefined ? `<m${++n}.${Date.now()}@mail.test>` : o.messageId;
  const lines = [
    `From: ${o.from}`,
    `To: ${o.to.join(', ')}`,
    ...(o.cc?.length ? [`Cc: ${o.cc.join(', ')}`] : []),
    ...(o.bcc?.length ? [`Bcc: ${o.bcc.join(', ')}`] : []),
    `Subject: ${o.subject}`,
    `Date: ${o.date ?? 'Sat, 10 Jan 2026 10:00:00 +0000'}`,
    ...(mid ? [`Message-ID: ${mid}`] : []),
    ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`] : []),
    ...(o.references?.length ? [`References: ${o.references.join(' ')}`] : []),
    'MIME-Version: 1.0',
  ];
  const body = o.body ?? `Hello about ${o.subject}`;
  if (!o.attachment) return [...lines, 'Content-Type: text/plain; charset=utf-8', '', body, ''].join('\r\n');
  const b = 'BOUNDARY42';
  return [
    ...lines,
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    `--${b}`,
    `Content-Type: ${o.attachment.type ?? 'application/pdf'}; name="${o.attachment.filename}"`,
    `Content-Disposition: attachment; filename="${o.attachment.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(o.attachment.content).toString('base64'),
    `--${b}--`,
    '',
  ].join('\r\n');
}
