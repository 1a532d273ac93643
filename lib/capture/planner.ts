// The fetch planner: which Gmail calls bring a set of messages in for the fewest quota units
// under the configured cost table. Gmail charges per call, not per byte, so
//   - a Gmail thread whose pending messages would cost more one by one than one threads.get
//     is fetched whole (threads.get answers every message of the thread, format full);
//   - a matched message with files is completed either by one messages.attachments.get per
//     file (with the ids the fetch just handed out, so no second messages.get) or by one
//     format=raw fetch carrying every file, whichever is cheaper. Raw is used only when the
//     message's size is known and under the attachment cap (a file over the cap is never
//     downloaded, not even inside raw) and the mailbox's daily download budget allows it.
// Ties go to the call that downloads fewer bytes. Sync (backfill and history) and rematch
// fetch through here; unmatched bodies are dropped in memory right after parsing.
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Executor } from '../db/client.js';
import { all, one, run } from '../db/client.js';
import type { Config, FetchStrategy } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { CostTable } from '../gmail/costs.js';
import { Semaphore } from '../gmail/limiter.js';
import { GmailStop, type GmailApi, type GmailMessage } from '../gmail/types.js';
import type { MatchLink, Matcher } from '../matching/matcher.js';
import { decodeBodyPart, parseGmailMessage } from '../mail/mime.js';
import { parseRawMessage } from '../mail/raw.js';
import type { ParsedMessage } from '../mail/types.js';
import { participantsOf, type ProcessedMessage, type SavedFile } from './store.js';

export interface PlanItem {
  id: string;
  threadId: string;
}

export type FetchPlan = { kind: 'thread'; threadId: string; ids: string[] } | { kind: 'messages'; ids: string[] };

/** Group by Gmail thread and choose, per thread, the call(s) that cost fewest units. */
export function planFetches(items: readonly PlanItem[], costs: CostTable, opts: { threads: boolean }): FetchPlan[] {
  const byThread = new Map<string, string[]>();
  for (const it of items) {
    const list = byThread.get(it.threadId);
    if (list) {
      if (!list.includes(it.id)) list.push(it.id);
    } else byThread.set(it.threadId, [it.id]);
  }
  const plans: FetchPlan[] = [];
  const singles: string[] = [];
  for (const [threadId, ids] of byThread) {
    if (opts.threads && threadId && costs['threads.get'] < ids.length * costs['messages.get']) plans.push({ kind: 'thread', threadId, ids });
    else singles.push(...ids);
  }
  if (singles.length) plans.push({ kind: 'messages', ids: singles });
  return plans;
}

/**
 * A raw answer is held about four and a half times while decoded (the JSON text, the parsed
 * base64url string, the bytes, their latin1 text, the files cut from it), where a file fetched
 * alone streams into one buffer: above this size the units raw saves are not worth the memory,
 * and files come one attachments.get each.
 */
export const RAW_MAX_BYTES = 4 * 1024 * 1024;

/** How a matched message's files (and body parts Gmail sent as attachment ids) are fetched. */
export function planFiles(opts: {
  parts: number;
  sizeEstimate: number | null;
  maxBytes: number;
  budgetLeft: number;
  costs: CostTable;
}): 'raw' | 'parts' | 'none' {
  if (opts.parts === 0) return 'none';
  const rawOk =
    opts.sizeEstimate !== null &&
    opts.sizeEstimate > 0 &&
    opts.sizeEstimate <= Math.min(opts.maxBytes, RAW_MAX_BYTES) &&
    opts.sizeEstimate <= opts.budgetLeft;
  if (rawOk && opts.costs['messages.get'] < opts.parts * opts.costs['messages.attachments.get']) return 'raw';
  return 'parts';
}

export interface FetchOutcome {
  fetched: ProcessedMessage[];
  /** Ids settled without a stored copy: gone from Gmail, or in a label never captured. */
  dropped: string[];
  /** Files saved while fetching (their rows land `saved` with the page). */
  filesSaved: number;
}

const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** A mailbox's format=raw byte budget for today, spent in memory and written with each page. */
export class DownloadBudget {
  private used = 0;
  private unsaved = 0;
  private constructor(
    readonly accountId: number,
    readonly day: string,
    readonly limit: number,
  ) {}

  static async load(db: Executor, accountId: number, now: number, limit: number): Promise<DownloadBudget> {
    const b = new DownloadBudget(accountId, utcDay(now), limit);
    const row = await one<{ bytes: number }>(db, 'SELECT bytes FROM email_download_budget WHERE account_id = ? AND day = ?', [accountId, b.day]);
    b.used = row?.bytes ?? 0;
    return b;
  }

  get left(): number {
    return Math.max(0, this.limit - this.used);
  }

  spend(bytes: number): void {
    this.used += bytes;
    this.unsaved += bytes;
  }

  async save(tx: Executor): Promise<void> {
    if (!this.unsaved) return;
    await run(
      tx,
      `INSERT INTO email_download_budget (account_id, day, bytes) VALUES (?, ?, ?)
       ON CONFLICT(account_id, day) DO UPDATE SET bytes = bytes + excluded.bytes`,
      [this.accountId, this.day, this.unsaved],
    );
    this.unsaved = 0;
  }
}

export interface FetcherOptions {
  db: Executor;
  config: Config;
  costs: CostTable;
  gmail: GmailApi;
  /** Asked at each message: the sync swaps its matcher when the directory changes mid-run. */
  matcher: Pick<Matcher, 'match'>;
  budget: DownloadBudget;
  log: Logger;
  /** Labels whose mail is never captured by this fetch. */
  skipLabels: readonly string[];
  /** Writes a file under its hash, claimed until the page that names it commits. */
  keep: BlobKeeper;
  /** A message that cannot be decoded is reported here and settled without a copy. */
  onFailure?: (gmailId: string, reason: string) => void;
  /** Told the attachment ids of a matched message, so the attachment step need not fetch it again. */
  onAttachmentIds?: (gmailId: string, parsed: ParsedMessage) => void;
  strategy?: FetchStrategy;
  /**
   * Claims emails' files for this run before they are downloaded, one call per fetch
   * (blobs.claimContents); answers the keys this run holds. A key left out: another
   * mailbox's run holds the same email and is fetching its files now, so this copy goes
   * without them; its rows stay `pending` until the claimant's copy or the attachment step
   * saves them.
   */
  claimContent?: (dedupKeys: string[]) => Promise<Set<string>>;
}

// Downloads are bounded by their expected bytes across the whole process: every mailbox's
// fetch and attachment step shares one bound, since the memory target is the process's and
// mailboxes sync in parallel. A file streams into one buffer of its size; a raw answer (at most
// RAW_MAX_BYTES) counts RAW_MEMORY_FACTOR times its size, as it is held that many times while
// decoded. One download larger than the bound still goes, alone.
const BYTES_IN_FLIGHT = 48 * 1024 * 1024;
const RAW_MEMORY_FACTOR = 4.5;

/** Admits downloads while their expected bytes fit under a bound; never starves a large one. */
/**
 * Files fetched with their message are written before the row that names them commits; the
 * keeper claims each one (blobs.ts) so a purge or a sweep meanwhile cannot delete it.
 */
export type BlobKeeper = (bytes: Buffer) => Promise<string>;

export class ByteGate {
  private used = 0;
  private readonly waiting: { bytes: number; go: () => void }[] = [];
  constructor(readonly max: number) {}

  async acquire(bytes: number): Promise<() => void> {
    const n = Math.max(0, bytes);
    if (!(this.waiting.length === 0 && (this.used === 0 || this.used + n <= this.max))) {
      await new Promise<void>((go) => this.waiting.push({ bytes: n, go }));
    } else this.used += n;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      // First come, first served: the head waits until it fits (or runs alone).
      while (this.waiting.length) {
        const head = this.waiting[0]!;
        if (this.used !== 0 && this.used + head.bytes > this.max) break;
        this.waiting.shift();
        this.used += head.bytes;
        head.go();
      }
    };
  }
}

/** The one bound on download bytes in flight in this process (see BYTES_IN_FLIGHT). */
export const downloadBytes = new ByteGate(BYTES_IN_FLIGHT);

export class Fetcher {
  private readonly bytes = downloadBytes;
  // File downloads inside a fetch keep to CRM_GMAIL_ATTACH_CONCURRENCY like the attachment step.
  private readonly files: Semaphore;
  private readonly strategy: FetchStrategy;

  constructor(private readonly o: FetcherOptions) {
    this.strategy = o.strategy ?? o.config.gmail.fetchStrategy;
    this.files = new Semaphore(o.config.gmail.attachConcurrency);
  }

  /**
   * Fetch, decode and match these messages by plan; bodies of unmatched mail never leave here.
   * Three steps, so the database is asked once per fetch rather than once per message: fetch
   * and match every message; find which matched ones still need content (bodies Gmail sent as
   * attachment ids, files) that no other copy brought in, and claim their files in one write;
   * then complete those.
   */
  async fetch(items: readonly PlanItem[]): Promise<FetchOutcome> {
    const planned = this.strategy === 'planner';
    const plans = planFetches(items, this.o.costs, { threads: planned && typeof this.o.gmail.getThread === 'function' });
    const out: FetchOutcome = { fetched: [], dropped: [], filesSaved: 0 };
    const read: { id: string; p: ProcessedMessage }[] = [];
    const take = (id: string, p: ProcessedMessage | null) => {
      if (p) read.push({ id, p });
      else out.dropped.push(id);
    };
    await Promise.all(
      plans.map(async (plan) => {
        if (plan.kind === 'messages') {
          await Promise.all(plan.ids.map(async (id) => take(id, await this.read(id, await this.o.gmail.getMessage(id, 'full')))));
          return;
        }
        const thread = await this.o.gmail.getThread!(plan.threadId);
        const byId = new Map<string, GmailMessage>();
        for (const m of thread?.messages ?? []) if (m.id) byId.set(m.id, m);
        // A message that left the thread (or a thread gone) is asked for on its own.
        await Promise.all(plan.ids.map(async (id) => take(id, await this.read(id, byId.get(id) ?? (await this.o.gmail.getMessage(id, 'full'))))));
      }),
    );
    // Matched messages with something left to fetch (the rest are complete as they came).
    const open = read.filter(({ p }) => p.links.length > 0 && (p.parsed.attachments.length > 0 || p.parsed.pendingBodyParts.length > 0));
    // Another mailbox's copy may already have brought an email's content in: store keeps
    // that, so fetching bodies or files again would only spend units.
    const have = await contentStored(this.o.db, open.map(({ p }) => p.parsed.dedupKey));
    const incomplete = open.filter(({ p }) => {
      if (!have.has(p.parsed.dedupKey)) return true;
      p.parsed.pendingBodyParts = [];
      return false;
    });
    const max = this.o.config.gmail.maxAttachmentBytes;
    const wantsFiles = (parsed: ParsedMessage) => planned && parsed.attachments.some((a) => a.attachmentId && a.size <= max);
    const claimKeys = incomplete.filter(({ p }) => wantsFiles(p.parsed)).map(({ p }) => p.parsed.dedupKey);
    const claimed = claimKeys.length && this.o.claimContent ? await this.o.claimContent(claimKeys) : new Set(claimKeys);
    await Promise.all(
      incomplete.map(async ({ id, p }) => {
        if (p.parsed.attachments.length) this.o.onAttachmentIds?.(id, p.parsed);
        const files = await this.complete(id, p.parsed, claimed.has(p.parsed.dedupKey));
        out.filesSaved += files.size;
        if (files.size) p.files = files;
      }),
    );
    for (const { p } of read) out.fetched.push(p);
    return out;
  }

  /** Decode and match one fetched message; unmatched, its content is dropped here. */
  private async read(id: string, msg: GmailMessage | null | undefined): Promise<ProcessedMessage | null> {
    if (!msg) return null;
    if ((msg.labelIds ?? []).some((l) => this.o.skipLabels.includes(l))) return null;
    let parsed: ParsedMessage;
    let links: MatchLink[];
    try {
      parsed = parseGmailMessage(msg);
      links = this.o.matcher.match(participantsOf(parsed));
    } catch (err) {
      // One hostile message never stops its page: it is recorded and skipped.
      this.o.onFailure?.(id, `cannot be parsed: ${errText(err)}`);
      return null;
    }
    // Parsing a page is CPU work: let timers and requests in between messages.
    await yieldTurn();
    if (links.length === 0) withhold(parsed);
    return { parsed, links };
  }

  /** Bodies Gmail sent as attachment ids and, under the planner, the message's files. */
  private async complete(id: string, parsed: ParsedMessage, filesClaimed: boolean): Promise<Map<string, SavedFile>> {
    const saved = new Map<string, SavedFile>();
    const max = this.o.config.gmail.maxAttachmentBytes;
    const wanted = this.strategy === 'planner' && filesClaimed ? parsed.attachments.filter((a) => a.attachmentId && a.size <= max) : [];
    const how = planFiles({
      parts: wanted.length + parsed.pendingBodyParts.length,
      sizeEstimate: parsed.sizeEstimate,
      maxBytes: max,
      budgetLeft: this.o.budget.left,
      costs: this.o.costs,
    });
    if (how === 'raw' && (await this.viaRaw(id, parsed, wanted.map((a) => a.partId), saved))) return saved;
    await fillBodies(this.o.gmail, id, parsed);
    for (const a of wanted) {
      const release = await this.files.acquire();
      const releaseBytes = await this.bytes.acquire(a.size);
      try {
        const bytes = await this.o.gmail.getAttachment(id, a.attachmentId!, { expectedBytes: a.size, maxBytes: max });
        if (!bytes || bytes.length > max) continue;
        saved.set(a.partId, { sha256: await this.o.keep(bytes), size: bytes.length });
      } catch (err) {
        // The attachment step tries again later; only a refusal of the mailbox stops here.
        if (err instanceof GmailStop) throw err;
        this.o.log.warn({ event: 'sync.file_deferred', gmail_id: id, part_id: a.partId, error: errText(err) }, 'a file is left for the attachment step');
      } finally {
        releaseBytes();
        release();
      }
    }
    return saved;
  }

  /** One raw fetch for bodies and files; false when it did not work out (the caller goes part by part). */
  private async viaRaw(id: string, parsed: ParsedMessage, partIds: string[], saved: Map<string, SavedFile>): Promise<boolean> {
    const max = this.o.config.gmail.maxAttachmentBytes;
    const release = await this.bytes.acquire((parsed.sizeEstimate ?? 0) * RAW_MEMORY_FACTOR);
    try {
      this.o.budget.spend(parsed.sizeEstimate ?? 0);
      const msg = await this.o.gmail.getMessage(id, 'raw');
      if (!msg) return false;
      let fromRaw: ReturnType<typeof parseRawMessage> | null = parseRawMessage(msg, { maxBytes: max });
      // Bodies come from raw only where full had left them out; the rest stays as full gave it.
      if (parsed.pendingBodyParts.length) {
        for (const p of parsed.pendingBodyParts) {
          if (p.mimeType === 'text/plain' && parsed.bodyText === null) parsed.bodyText = fromRaw.parsed.bodyText;
          if (p.mimeType === 'text/html' && parsed.bodyHtml === null) parsed.bodyHtml = fromRaw.parsed.bodyHtml;
        }
        parsed.pendingBodyParts = [];
      }
      for (const partId of partIds) {
        const want = parsed.attachments.find((a) => a.partId === partId)!;
        const bytes = fromRaw.files.get(partId);
        // A part whose bytes do not agree with what full said is left to the attachment step.
        if (!bytes || bytes.length !== want.size || bytes.length > max) continue;
        saved.set(partId, { sha256: await this.o.keep(bytes), size: bytes.length });
      }
      fromRaw = null;
      return true;
    } catch (err) {
      if (err instanceof GmailStop) throw err;
      this.o.log.warn({ event: 'sync.raw_failed', gmail_id: id, error: errText(err) }, 'raw fetch failed; fetching part by part');
      return false;
    } finally {
      release();
    }
  }
}

/** Of these emails, those stored matched with their bodies (by another mailbox's copy, or before). */
async function contentStored(db: Executor, dedupKeys: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  const keys = [...new Set(dedupKeys)];
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const rows = await all<{ dedup_key: string }>(
      db,
      `SELECT dedup_key FROM emails WHERE dedup_key IN (${chunk.map(() => '?').join(',')})
          AND is_matched = 1 AND snippet IS NOT NULL AND (body_text IS NOT NULL OR body_html IS NOT NULL)`,
      chunk,
    );
    for (const r of rows) out.add(r.dedup_key);
  }
  return out;
}

/** Unmatched mail is metadata-only: nothing of its content is kept past this point. */
export function withhold(parsed: ParsedMessage): void {
  parsed.bodyText = null;
  parsed.bodyHtml = null;
  parsed.snippet = null;
  parsed.attachments = [];
  parsed.pendingBodyParts = [];
}

/** Fetch the body parts Gmail delivered as attachment ids (the message stays as full gave it otherwise). */
export async function fillBodies(gmail: GmailApi, gmailId: string, parsed: ParsedMessage): Promise<void> {
  for (const part of parsed.pendingBodyParts) {
    const bytes = await gmail.getAttachment(gmailId, part.attachmentId);
    if (!bytes) continue;
    const text = decodeBodyPart(bytes, part.charset);
    if (part.mimeType === 'text/plain' && parsed.bodyText === null) parsed.bodyText = text;
    if (part.mimeType === 'text/html' && parsed.bodyHtml === null) parsed.bodyHtml = text;
  }
  parsed.pendingBodyParts = [];
}

export interface Withheld {
  parsed: ParsedMessage;
  /** Files that came with the fetch, by part id (written under their hash already). */
  files: Map<string, SavedFile>;
}

/**
 * A withheld message's content, for rematch and exclusion restore. Its size is known from the
 * capture, so when it is under the attachment cap and the day's download budget allows, one
 * format=raw fetch brings bodies and every file for the units of one messages.get (instead of
 * messages.get, then the attachment step's messages.get and one attachments.get per file).
 * Otherwise messages.get full, with body parts completed, and files left to the attachment step.
 */
export async function fetchWithheld(
  gmail: GmailApi,
  gmailId: string,
  o: { sizeEstimate: number | null; config: Config; budget?: DownloadBudget; log: Logger; keep: BlobKeeper },
): Promise<Withheld | null> {
  const max = o.config.gmail.maxAttachmentBytes;
  const size = o.sizeEstimate;
  const rawOk = o.config.gmail.fetchStrategy === 'planner' && o.budget && size !== null && size > 0 && size <= max && size <= o.budget.left;
  if (rawOk) {
    try {
      o.budget!.spend(size!);
      const msg = await gmail.getMessage(gmailId, 'raw');
      if (!msg) return null;
      const { parsed, files: bytes } = parseRawMessage(msg, { maxBytes: max });
      const files = new Map<string, SavedFile>();
      for (const a of parsed.attachments) {
        const b = bytes.get(a.partId);
        if (!b || a.size > max) continue;
        files.set(a.partId, { sha256: await o.keep(b), size: b.length });
      }
      return { parsed, files };
    } catch (err) {
      if (err instanceof GmailStop) throw err;
      o.log.warn({ event: 'rematch.raw_failed', gmail_id: gmailId, error: errText(err) }, 'raw fetch failed; fetching the message in full');
    }
  }
  const msg = await gmail.getMessage(gmailId, 'full');
  if (!msg) return null;
  const parsed = parseGmailMessage(msg);
  await fillBodies(gmail, gmailId, parsed);
  return { parsed, files: new Map() };
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 300);
