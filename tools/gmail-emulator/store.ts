// The mailboxes: messages with their per-mailbox Gmail ids, threads, labels and history.
// Everything here belongs to one mailbox, as in Gmail: the same email delivered to two
// mailboxes gets two ids, two thread ids and a history record in each.
import type { Rng } from './rng.js';
import { receiverCopy, summarise } from './headers.js';
import type { Clock, ResolvedOptions } from './options.js';

export const SYSTEM_LABELS = [
  'INBOX',
  'SENT',
  'DRAFT',
  'SPAM',
  'TRASH',
  'UNREAD',
  'STARRED',
  'IMPORTANT',
  'CHAT',
  'CATEGORY_PERSONAL',
  'CATEGORY_SOCIAL',
  'CATEGORY_PROMOTIONS',
  'CATEGORY_UPDATES',
  'CATEGORY_FORUMS',
] as const;

const SYSTEM_LABEL_SET = new Set<string>(SYSTEM_LABELS);

export interface MailboxFlags {
  /** Whether the service account may impersonate this mailbox (Admin console DWD entry). */
  authorisedForDwd: boolean;
  /** A suspended user: tokens are refused and existing ones stop working. */
  suspended: boolean;
  /** False: tokens are issued but Gmail answers 400 failedPrecondition "Mail service not enabled". */
  hasGmail: boolean;
}

export interface StoredMessage {
  id: string;
  threadId: string;
  labelIds: Set<string>;
  internalDate: number;
  historyId: bigint;
  raw: Buffer;
  rfcId: string | null;
  refs: string[];
  subjectKey: string;
}

export type HistoryType = 'messageAdded' | 'messageDeleted' | 'labelAdded' | 'labelRemoved';

export interface HistoryRecord {
  id: bigint;
  at: number;
  message: { id: string; threadId: string };
  /** The message's labels right after the change. */
  labelIds: string[];
  added?: true;
  deleted?: true;
  labelsAdded?: string[];
  labelsRemoved?: string[];
}

export interface UserLabel {
  id: string;
  name: string;
}

export class Mailbox {
  readonly messages = new Map<string, StoredMessage>();
  readonly threads = new Map<string, Set<string>>();
  /** Message-ID → Gmail ids holding it in this mailbox. */
  readonly byRfcId = new Map<string, Set<string>>();
  /** Message-ID → Gmail ids whose In-Reply-To/References name it (a reply that came before its parent). */
  readonly referencedBy = new Map<string, Set<string>>();
  readonly history: HistoryRecord[] = [];
  readonly userLabels = new Map<string, UserLabel>();
  historyId: bigint;
  /** The oldest startHistoryId that history.list still answers. */
  historyFloor: bigint;
  private sortedCache: StoredMessage[] | null = null;

  constructor(
    readonly email: string,
    public flags: MailboxFlags,
    startHistoryId: bigint,
  ) {
    this.historyId = startHistoryId;
    this.historyFloor = startHistoryId;
  }

  /** Newest first by internalDate, then by id, as messages.list orders them. */
  sorted(): StoredMessage[] {
    if (!this.sortedCache) {
      this.sortedCache = [...this.messages.values()].sort(compareNewestFirst);
    }
    return this.sortedCache;
  }

  invalidate(): void {
    this.sortedCache = null;
  }

  hasLabel(id: string): boolean {
    return SYSTEM_LABEL_SET.has(id) || this.userLabels.has(id);
  }
}

export function compareNewestFirst(a: { internalDate: number; id: string }, b: { internalDate: number; id: string }): number {
  if (a.internalDate !== b.internalDate) return b.internalDate - a.internalDate;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export interface DeliverOptions {
  /** Mailboxes that receive a copy (addresses of mailboxes created before). */
  to: string[];
  /** The mailbox that sent it (its copy gets SENT and keeps Bcc); default: the mailbox in `to` whose address is the From address. */
  sender?: string | null;
  /** Labels per mailbox; default INBOX + UNREAD for receivers, SENT for the sender. */
  labelIds?: Record<string, string[]>;
  /** Arrival time in epoch ms; default now on the emulator clock. */
  internalDate?: number;
  /** Store the bytes exactly as given in every mailbox (no Delivered-To, Bcc kept). */
  exactBytes?: boolean;
}

export interface DeliveredCopy {
  id: string;
  threadId: string;
  historyId: string;
}

export class Store {
  private readonly mailboxes = new Map<string, Mailbox>();
  private idCounter = 0;
  private userLabelCounter = 0;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly clock: Clock,
    private readonly rng: Rng,
  ) {}

  createMailbox(email: string, flags: Partial<MailboxFlags> = {}): Mailbox {
    const key = normaliseEmail(email);
    if (this.mailboxes.has(key)) throw new Error(`mailbox ${key} already exists`);
    // Each mailbox starts at its own history id, as real mailboxes do.
    const start = this.opts.historyIdStart + BigInt(this.rng.int(0, 900_000));
    const mb = new Mailbox(
      key,
      { authorisedForDwd: flags.authorisedForDwd ?? true, suspended: flags.suspended ?? false, hasGmail: flags.hasGmail ?? true },
      start,
    );
    this.mailboxes.set(key, mb);
    return mb;
  }

  find(email: string): Mailbox | undefined {
    return this.mailboxes.get(normaliseEmail(email));
  }

  get(email: string): Mailbox {
    const mb = this.find(email);
    if (!mb) throw new Error(`no mailbox ${email}; create it first`);
    return mb;
  }

  all(): Mailbox[] {
    return [...this.mailboxes.values()];
  }

  createLabel(email: string, name: string): UserLabel {
    const mb = this.get(email);
    if (!name.trim()) throw new Error('label name must not be empty');
    for (const l of mb.userLabels.values()) if (l.name === name) return l;
    const label = { id: `Label_${++this.userLabelCounter}`, name };
    mb.userLabels.set(label.id, label);
    return label;
  }

  deliver(raw: Buffer, opts: DeliverOptions): Record<string, DeliveredCopy> {
    if (!Buffer.isBuffer(raw) || raw.length === 0) throw new Error('deliver: raw must be a non-empty Buffer');
    if (!Array.isArray(opts.to) || opts.to.length === 0) throw new Error('deliver: `to` must list at least one mailbox');
    const targets = [...new Set(opts.to.map((e) => this.get(e).email))];
    const summary = summarise(raw);
    const fromAddress = summary.from ? /<?([^\s<>"]+@[^\s<>"]+)>?\s*$/.exec(summary.from)?.[1]?.toLowerCase() : undefined;
    const sender =
      opts.sender === null ? null : opts.sender ? this.get(opts.sender).email : targets.find((t) => t === fromAddress) ?? null;
    if (sender && !targets.includes(sender)) targets.push(sender);
    const internalDate = opts.internalDate ?? this.clock.now();
    if (!Number.isFinite(internalDate)) throw new Error('deliver: internalDate must be epoch milliseconds');
    for (const [email, labels] of Object.entries(opts.labelIds ?? {})) {
      const mb = this.get(email);
      if (!targets.includes(mb.email)) throw new Error(`deliver: labelIds given for ${email}, which is not in \`to\``);
      for (const l of labels) if (!mb.hasLabel(l)) throw new Error(`deliver: unknown label ${l} in ${email}`);
    }
    const labelFor = (email: string): string[] => {
      const given = Object.entries(opts.labelIds ?? {}).find(([k]) => normaliseEmail(k) === email)?.[1];
      if (given) return given;
      return email === sender ? ['SENT'] : ['INBOX', 'UNREAD'];
    };
    const result: Record<string, DeliveredCopy> = {};
    for (const email of targets) {
      const mb = this.get(email);
      const bytes = opts.exactBytes || email === sender ? raw : receiverCopy(raw, email);
      const msg = this.add(mb, bytes, summary, labelFor(email), internalDate);
      result[email] = { id: msg.id, threadId: msg.threadId, historyId: String(msg.historyId) };
    }
    return result;
  }

  private add(mb: Mailbox, raw: Buffer, summary: ReturnType<typeof summarise>, labels: string[], internalDate: number): StoredMessage {
    const id = this.newMessageId(mb, internalDate);
    const threadId = this.threadFor(mb, summary) ?? id;
    const msg: StoredMessage = {
      id,
      threadId,
      labelIds: new Set(labels),
      internalDate,
      historyId: 0n,
      raw,
      rfcId: summary.messageId,
      refs: summary.refs,
      subjectKey: summary.subjectKey,
    };
    mb.messages.set(id, msg);
    let thread = mb.threads.get(threadId);
    if (!thread) mb.threads.set(threadId, (thread = new Set()));
    thread.add(id);
    if (msg.rfcId) addTo(mb.byRfcId, msg.rfcId, id);
    for (const r of msg.refs) addTo(mb.referencedBy, r, id);
    mb.invalidate();
    this.record(mb, msg, { added: true });
    return msg;
  }

  /** Gmail's rule: a message joins the thread of a message it references (or that references it) when the subjects agree. */
  private threadFor(mb: Mailbox, s: ReturnType<typeof summarise>): string | null {
    const fits = (other: StoredMessage | undefined): other is StoredMessage =>
      !!other && (!this.opts.threadBySubject || other.subjectKey === s.subjectKey);
    for (const ref of [...s.refs].reverse()) {
      for (const gid of mb.byRfcId.get(ref) ?? []) {
        const other = mb.messages.get(gid);
        if (fits(other)) return other.threadId;
      }
    }
    if (s.messageId) {
      for (const gid of mb.referencedBy.get(s.messageId) ?? []) {
        const other = mb.messages.get(gid);
        if (fits(other)) return other.threadId;
      }
    }
    return null;
  }

  private newMessageId(mb: Mailbox, internalDate: number): string {
    // Gmail ids are 16 hex digits that grow with arrival time; ours do too.
    for (;;) {
      const counter = BigInt(this.idCounter++ & 0xfffff);
      const ms = BigInt(Math.max(0, Math.floor(internalDate)));
      const id = ((ms << 20n) | counter).toString(16).padStart(16, '0');
      if (!mb.messages.has(id)) return id;
    }
  }

  private nextHistoryId(mb: Mailbox): bigint {
    // Not contiguous: real history ids jump, and code must not assume +1.
    mb.historyId += BigInt(this.rng.int(1, 9));
    return mb.historyId;
  }

  private record(mb: Mailbox, msg: StoredMessage, change: Partial<Pick<HistoryRecord, 'added' | 'deleted' | 'labelsAdded' | 'labelsRemoved'>>): void {
    const id = this.nextHistoryId(mb);
    msg.historyId = id;
    mb.history.push({
      id,
      at: this.clock.now(),
      message: { id: msg.id, threadId: msg.threadId },
      labelIds: [...msg.labelIds],
      ...change,
    });
  }

  message(email: string, id: string): StoredMessage {
    const msg = this.get(email).messages.get(id);
    if (!msg) throw new Error(`no message ${id} in ${email}`);
    return msg;
  }

  modifyLabels(email: string, id: string, change: { add?: string[]; remove?: string[] }): StoredMessage {
    const mb = this.get(email);
    const msg = this.message(email, id);
    for (const l of [...(change.add ?? []), ...(change.remove ?? [])]) {
      if (!mb.hasLabel(l)) throw new Error(`unknown label ${l} in ${email}`);
    }
    const added = (change.add ?? []).filter((l) => !msg.labelIds.has(l));
    const removed = (change.remove ?? []).filter((l) => msg.labelIds.has(l) && !added.includes(l));
    if (added.length === 0 && removed.length === 0) return msg;
    for (const l of added) msg.labelIds.add(l);
    for (const l of removed) msg.labelIds.delete(l);
    this.record(mb, msg, {
      ...(added.length ? { labelsAdded: added } : {}),
      ...(removed.length ? { labelsRemoved: removed } : {}),
    });
    return msg;
  }

  /** Moving to Trash is a labelAdded of TRASH (and INBOX leaves), as in Gmail. */
  trash(email: string, id: string): StoredMessage {
    return this.modifyLabels(email, id, { add: ['TRASH'], remove: ['INBOX', 'SPAM'] });
  }

  untrash(email: string, id: string): StoredMessage {
    return this.modifyLabels(email, id, { remove: ['TRASH'] });
  }

  /** A hard delete: the message is gone and history shows messagesDeleted. */
  deleteMessage(email: string, id: string): void {
    const mb = this.get(email);
    const msg = this.message(email, id);
    mb.messages.delete(id);
    const thread = mb.threads.get(msg.threadId);
    thread?.delete(id);
    if (thread && thread.size === 0) mb.threads.delete(msg.threadId);
    if (msg.rfcId) removeFrom(mb.byRfcId, msg.rfcId, id);
    for (const r of msg.refs) removeFrom(mb.referencedBy, r, id);
    mb.invalidate();
    this.record(mb, msg, { deleted: true });
  }

  /**
   * Forget history: records before `before` (epoch ms) and/or up to `throughHistoryId`. A `before`
   * at or after now forgets everything, so any earlier startHistoryId answers 404.
   */
  expireHistory(email: string, opts: { before?: number; throughHistoryId?: string | bigint }): void {
    const mb = this.get(email);
    const through = opts.throughHistoryId === undefined ? null : BigInt(opts.throughHistoryId);
    const everything = opts.before !== undefined && opts.before >= this.clock.now();
    while (mb.history.length) {
      const r = mb.history[0]!;
      const old = everything || (opts.before !== undefined && r.at < opts.before) || (through !== null && r.id <= through);
      if (!old) break;
      mb.history.shift();
      if (r.id > mb.historyFloor) mb.historyFloor = r.id;
    }
    if (everything) mb.historyFloor = mb.historyId;
    if (through !== null && through > mb.historyFloor) mb.historyFloor = through > mb.historyId ? mb.historyId : through;
  }

  /** Drops history older than the retention window; called before history is read. */
  applyRetention(mb: Mailbox, retentionMs: number): void {
    this.expireHistory(mb.email, { before: this.clock.now() - retentionMs });
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  set?.delete(value);
  if (set && set.size === 0) map.delete(key);
}

function normaliseEmail(email: string): string {
  const e = String(email ?? '').trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) throw new Error(`not an email address: "${email}"`);
  return e;
}
