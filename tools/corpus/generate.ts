// The corpus itself: a firm's mail over a year, generated lazily and deterministically from a
// seed. Conversations are produced in start order and released through a small heap in arrival
// order, so memory stays proportional to the conversations still open, not to the mailbox size.
import { createRng, type Rng } from '../gmail-emulator/rng.js';
import { DEFAULT_FIXTURES_DIR, fixtureHeaders, selectFixtures } from './fixtures.js';
import { buildMail, makeBlob, makeCsv, makePdf, makePng, sha256, type Addr, type Attachment, type Charset, type MailSpec, type TransferEncoding } from './mime.js';
import { directory, makeCast, type Cast, type Contact, type ImportInvestor, type Investor, type Partner } from './people.js';
import { isCaptured, Matcher, TruthBuilder, type AttachmentTruth, type GroundTruth, type MessageTruth } from './truth.js';
import {
  COMPANIES,
  ENCODED_SUBJECTS,
  FREEMAIL_STRANGERS,
  HTML_WRAP,
  INTERNAL_TOPICS,
  INVESTOR_TOPICS,
  LATIN1_SENTENCES,
  NEWSLETTERS,
  SENTENCES,
} from './words.js';

export interface CorpusOptions {
  /** Everything follows from it (default `crm-gmail-demo`). */
  seed?: string | number;
  /** The firm's (workspace) domain (default `fund.test`). */
  firmDomain?: string;
  /** Partners, each a mailbox (default 4, at most 12). */
  partners?: number;
  /** Investors in the directory (default 30). */
  investors?: number;
  /** Conversations to generate (default 300). Ignored when messagesPerMailbox is set. */
  conversations?: number;
  /** Benchmark size: generate until the mailboxes hold about this many copies each on average. */
  messagesPerMailbox?: number;
  /** Time of the first conversation (ISO or epoch ms; default 2025-01-06T09:00:00Z). */
  start?: string | number;
  /** Days the conversations spread over (default 350). */
  spanDays?: number;
  /** Chance that a message carries an attachment (default 0.15). */
  attachmentRate?: number;
  /**
   * Conversation lengths: `mixed` (default; mostly 1–4, a few up to 6), `long` (6–14, mean
   * about 8) or `singles` (every conversation one message), for measuring fetch strategies.
   */
  threads?: 'mixed' | 'long' | 'singles';
  /** When set, one matched message carries an attachment bigger than this many bytes. */
  attachmentCapBytes?: number | null;
  /** Real-world fixtures to deliver: true = all (default), false = none, a number = that many (seeded pick), or file names. */
  fixtures?: boolean | number | string[];
  fixturesDir?: string;
  /** The mailbox fixtures land in (default the first partner). */
  fixturesMailbox?: string;
}

/** One message for the emulator's deliver(): the same bytes to every listed mailbox. */
export interface Delivery {
  key: string;
  raw: Buffer;
  to: string[];
  /** The partner mailbox that sent it (its copy is labelled SENT and keeps Bcc), or null. */
  sender: string | null;
  labelIds: Record<string, string[]>;
  internalDate: number;
  exactBytes: boolean;
  truth: MessageTruth;
}

export interface Corpus {
  seed: string;
  firm: { name: string; domain: string };
  /** The team: one member per partner, each with a mailbox. */
  team: Partner[];
  mailboxes: string[];
  /** Body for POST /api/investors/import. */
  directory: ImportInvestor[];
  /** The cast in full (how each contact really writes, unlisted people at investor domains). */
  investors: Investor[];
  /** Why fixtures were left out, or null. */
  fixturesSkipped: string | null;
  /** Deliveries in arrival order; each call starts over and yields the same sequence. */
  deliveries(): Generator<Delivery>;
  /** Walks all deliveries and returns the ground truth (for tests that do not deliver). */
  truth(): GroundTruth;
}

const DAY = 86_400_000;
const MIN = 60_000;

interface Resolved {
  seed: string;
  firmDomain: string;
  partners: number;
  investors: number;
  conversations: number | null;
  messagesPerMailbox: number | null;
  start: number;
  spanDays: number;
  attachmentRate: number;
  threads: 'mixed' | 'long' | 'singles';
  attachmentCapBytes: number | null;
  fixtures: true | number | string[] | false;
  fixturesDir: string;
  fixturesMailbox: string | null;
}

function resolve(o: CorpusOptions): Resolved {
  const start = typeof o.start === 'number' ? o.start : Date.parse(o.start ?? '2025-01-06T09:00:00Z');
  if (!Number.isFinite(start)) throw new Error(`corpus: start "${o.start}" is not a date`);
  const count = (name: string, v: number | undefined, d: number | null): number | null => {
    if (v === undefined) return d;
    if (!Number.isInteger(v) || v < 1) throw new Error(`corpus: ${name} must be a positive integer, got ${v}`);
    return v;
  };
  const threadShape = (v: CorpusOptions['threads']): 'mixed' | 'long' | 'singles' => {
    if (v === undefined) return 'mixed';
    if (v !== 'mixed' && v !== 'long' && v !== 'singles') throw new Error(`corpus: threads must be mixed, long or singles, got "${String(v)}"`);
    return v;
  };
  const rate = o.attachmentRate ?? 0.15;
  if (!(rate >= 0 && rate <= 1)) throw new Error('corpus: attachmentRate must be within [0, 1]');
  const firmDomain = (o.firmDomain ?? 'fund.test').toLowerCase();
  if (!/^[a-z0-9.-]+\.[a-z]+$/.test(firmDomain)) throw new Error(`corpus: firmDomain "${o.firmDomain}" is not a domain`);
  return {
    seed: String(o.seed ?? 'crm-gmail-demo'),
    firmDomain,
    partners: count('partners', o.partners, 4)!,
    investors: count('investors', o.investors, 30)!,
    conversations: o.messagesPerMailbox !== undefined ? null : count('conversations', o.conversations, 300),
    messagesPerMailbox: count('messagesPerMailbox', o.messagesPerMailbox, null),
    start,
    spanDays: count('spanDays', o.spanDays, 350)!,
    attachmentRate: rate,
    threads: threadShape(o.threads),
    attachmentCapBytes: o.attachmentCapBytes ?? null,
    fixtures: o.fixtures === undefined || o.fixtures === true ? true : o.fixtures,
    fixturesDir: o.fixturesDir ?? DEFAULT_FIXTURES_DIR,
    fixturesMailbox: o.fixturesMailbox?.toLowerCase() ?? null,
  };
}

export function generateCorpus(options: CorpusOptions = {}): Corpus {
  const o = resolve(options);
  const cast = makeCast(createRng(o.seed).fork('cast'), { firmDomain: o.firmDomain, partners: o.partners, investors: o.investors });
  const mailboxes = cast.partners.map((p) => p.email);
  if (o.fixturesMailbox && !mailboxes.includes(o.fixturesMailbox)) throw new Error(`corpus: fixturesMailbox ${o.fixturesMailbox} is not a partner mailbox`);
  const probe = o.fixtures === false ? { fixtures: [], skipped: null } : selectFixtures(o.fixturesDir, o.fixtures, createRng(o.seed).fork('fixtures'));
  const corpus: Corpus = {
    seed: o.seed,
    firm: { name: cast.firmName, domain: cast.firmDomain },
    team: cast.partners.map((p) => ({ ...p })),
    mailboxes,
    directory: directory(cast),
    investors: cast.investors,
    fixturesSkipped: probe.skipped,
    deliveries: () => deliveries(o, cast),
    truth() {
      const t = new TruthBuilder();
      for (const d of corpus.deliveries()) t.add(d.truth);
      return t.build();
    },
  };
  return corpus;
}

class Heap<T> {
  private items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

interface Queued {
  d: Delivery;
  seq: number;
}

function* deliveries(o: Resolved, cast: Cast): Generator<Delivery> {
  const root = createRng(o.seed);
  const matcher = new Matcher(cast);
  const fixturesBox = o.fixturesMailbox ?? cast.partners[0]!.email;
  if (o.fixtures !== false) {
    const { fixtures } = selectFixtures(o.fixturesDir, o.fixtures, root.fork('fixtures'));
    let i = 0;
    for (const f of fixtures) {
      const h = fixtureHeaders(f.raw);
      const plausible = h.date !== null && h.date >= Date.UTC(1990, 0, 1) && h.date < o.start;
      const internalDate = plausible ? h.date! + 60_000 : o.start - DAY - i * MIN;
      i++;
      const labels = { [fixturesBox]: ['INBOX'] };
      const matches = matcher.match(h.addresses);
      const matched = matches.investors.length > 0;
      yield {
        key: `fixture:${f.file}`,
        raw: f.raw,
        to: [fixturesBox],
        sender: null,
        labelIds: labels,
        internalDate,
        exactBytes: true,
        truth: {
          key: `fixture:${f.file}`,
          messageId: h.messageId,
          identity: h.identity,
          conversation: `fixture:${f.file}`,
          kind: 'fixture',
          mailboxes: labels,
          captured: true,
          subject: h.subject,
          from: h.from,
          addresses: h.addresses,
          sentAt: h.date === null ? null : new Date(h.date).toISOString(),
          internalDate,
          inReplyTo: h.inReplyTo,
          references: h.references,
          matches,
          matched,
          metadataOnly: !matched,
          attachments: [],
        },
      };
    }
  }

  const gen = new ConversationMaker(o, cast, matcher, root.fork('conversations'));
  const heap = new Heap<Queued>((a, b) => a.d.internalDate < b.d.internalDate || (a.d.internalDate === b.d.internalDate && a.seq < b.seq));
  let seq = 0;
  const perConversationEstimate = o.threads === 'singles' ? 1.5 : o.threads === 'long' ? 14 : 4;
  const total = o.conversations ?? Math.ceil((o.messagesPerMailbox! * cast.partners.length) / perConversationEstimate);
  const gap = (o.spanDays * DAY) / total;
  let copies = 0;
  for (let i = 0; ; i++) {
    if (o.conversations !== null ? i >= o.conversations : copies >= o.messagesPerMailbox! * cast.partners.length) break;
    const t0 = o.start + Math.floor(i * gap + gen.rng.next() * gap * 0.5);
    while (heap.size && heap.peek()!.d.internalDate < t0) yield heap.pop()!.d;
    for (const d of gen.conversation(i, t0)) {
      copies += d.to.length;
      heap.push({ d, seq: seq++ });
    }
  }
  while (heap.size) yield heap.pop()!.d;
}

interface Planned {
  spec: MailSpec;
  mailboxes: Record<string, string[]>;
  sender: string | null;
  internalDate: number;
  kind: MessageTruth['kind'];
  attachments: Attachment[];
}

const PARTNER_TZ = [-300, -240];
const CONTACT_TZ = [-480, -300, 0, 60, 120, 330, 540];

class ConversationMaker {
  readonly rng: Rng;
  private sharedFile: Attachment | null = null;
  private usedShared = 0;
  private bigDone = false;

  constructor(
    private readonly o: Resolved,
    private readonly cast: Cast,
    private readonly matcher: Matcher,
    rng: Rng,
  ) {
    this.rng = rng;
  }

  conversation(i: number, t0: number): Delivery[] {
    const rng = this.rng.fork(`c${i}`);
    const forced = (n: number): boolean => i === n;
    let plan: Planned[];
    const r = rng.next();
    if (forced(9)) plan = this.draftOrChat(rng, t0, 'DRAFT');
    else if (forced(11)) plan = this.draftOrChat(rng, t0, 'CHAT');
    else if (forced(6) || (i > 12 && r < 0.15)) plan = this.internal(rng, t0);
    else if (forced(8) || forced(10) || (i > 12 && r < 0.27)) plan = this.newsletter(rng, t0, forced(10));
    else if (forced(12) || (i > 12 && r < 0.32)) plan = this.stranger(rng, t0);
    else plan = this.investor(rng, i, t0, forced(7) || (i > 12 && r < 0.38));
    return plan.map((p, n) => this.finish(`c${i}.m${n}`, `c${i}`, p, rng));
  }

  private finish(key: string, conversation: string, p: Planned, rng: Rng): Delivery {
    const raw = buildMail(p.spec, rng.hex(16));
    const sender = p.sender;
    const addresses = [p.spec.from, ...p.spec.to, ...(p.spec.cc ?? []), ...(p.spec.replyTo ?? []), ...(sender ? (p.spec.bcc ?? []) : [])].map((a) =>
      a.address.toLowerCase(),
    );
    const matches = this.matcher.match(addresses);
    const matched = matches.investors.length > 0;
    const cap = this.o.attachmentCapBytes;
    const attachments: AttachmentTruth[] = p.attachments.map((a) => ({
      filename: a.filename,
      mimeType: a.mimeType,
      size: a.bytes.length,
      sha256: sha256(a.bytes),
      overCap: cap !== null && a.bytes.length > cap,
    }));
    const identity = p.spec.messageId ? `mid:${p.spec.messageId.toLowerCase()}` : fixtureHeaders(raw).identity;
    return {
      key,
      raw,
      to: Object.keys(p.mailboxes),
      sender,
      labelIds: p.mailboxes,
      internalDate: p.internalDate,
      exactBytes: false,
      truth: {
        key,
        messageId: p.spec.messageId,
        identity,
        conversation,
        kind: p.kind,
        mailboxes: p.mailboxes,
        captured: isCaptured(p.mailboxes),
        subject: p.spec.subject,
        from: p.spec.from.address.toLowerCase(),
        addresses: [...new Set(addresses)],
        sentAt: new Date(p.spec.date).toISOString(),
        internalDate: p.internalDate,
        inReplyTo: p.spec.inReplyTo ?? null,
        references: p.spec.references ?? [],
        matches,
        matched,
        metadataOnly: !matched,
        attachments,
      },
    };
  }

  // --- people and ids -------------------------------------------------------------------

  private partnerAddr(p: Partner): Addr {
    return { name: p.name, address: p.email };
  }

  private contactAddr(c: Contact): Addr {
    return { name: c.name, address: c.writesFrom };
  }

  private messageId(rng: Rng, from: string, t: number): string {
    const domain = from.split('@')[1]!.toLowerCase();
    const b64 = (n: number): string => rng.bytes(n).toString('base64').replace(/[/=]/g, '').slice(0, n);
    if (domain === this.cast.firmDomain || domain === 'gmail.com' || domain === 'googlemail.com') {
      return `CA${rng.chance(0.5) ? '+' : ''}${b64(36)}@mail.gmail.com`;
    }
    if (rng.chance(0.5)) {
      const pod = rng.pick(['BN6PR11MB', 'DM5PR04MB', 'AM0PR10MB', 'SA1PR12MB']);
      return `${rng.hex(8).toUpperCase()}${rng.hex(8).toUpperCase()}@${pod}${rng.int(1000, 9999)}.namprd11.prod.outlook.com`;
    }
    return `${t.toString(36)}.${rng.hex(12)}@${domain}`;
  }

  private labelsFor(rng: Rng, email: string, sender: string | null, inbox: string[] = ['CATEGORY_PERSONAL']): string[] {
    if (email === sender) return ['SENT'];
    const labels = ['INBOX', ...inbox];
    if (rng.chance(0.5)) labels.push('UNREAD');
    if (rng.chance(0.2)) labels.push('IMPORTANT');
    if (rng.chance(0.05)) labels.push('STARRED');
    return labels;
  }

  private mailboxesOf(spec: MailSpec, sender: string | null, rng: Rng, inbox?: string[]): Record<string, string[]> {
    const partnerEmails = new Set(this.cast.partners.map((p) => p.email));
    const out: Record<string, string[]> = {};
    for (const a of [spec.from, ...spec.to, ...(spec.cc ?? []), ...(spec.bcc ?? [])]) {
      const e = a.address.toLowerCase();
      if (partnerEmails.has(e) && !out[e]) out[e] = this.labelsFor(rng, e, sender, inbox);
    }
    return out;
  }

  // --- bodies -----------------------------------------------------------------------------

  private fill(template: string, rng: Rng, inv?: Investor): string {
    return template
      .replace('{q}', String(rng.int(1, 4)))
      .replace('{n}', String(rng.int(2, 99)))
      .replace('{year}', String(rng.pick([2024, 2025])))
      .replace('{company}', rng.pick(COMPANIES))
      .replace('{investor}', inv?.name ?? rng.pick(this.cast.investors).name)
      .replace('{firm}', this.cast.firmName)
      .replace('{day}', String(rng.int(2, 28)));
  }

  private body(rng: Rng, signer: string, quoted?: string): { text: string; html?: string; charset: Charset; encoding: TransferEncoding } {
    const style = rng.next();
    let charset: Charset = 'utf-8';
    let encoding: TransferEncoding = '7bit';
    let sentences: string[];
    if (style < 0.1) {
      charset = 'iso-8859-1';
      encoding = 'quoted-printable';
      sentences = Array.from({ length: rng.int(2, 3) }, () => rng.pick(LATIN1_SENTENCES));
    } else {
      sentences = Array.from({ length: rng.int(2, 5) }, () => this.fill(rng.pick(SENTENCES), rng));
      if (style < 0.2) encoding = 'base64';
      else if (style < 0.35) encoding = 'quoted-printable';
    }
    const greeting = rng.pick(['Hi,', 'Hello,', 'Dear all,', 'Thanks,']);
    const safeSigner = charset === 'iso-8859-1' ? signer.replace(/[^\x00-\xff]/g, '?') : signer;
    let text = `${greeting}\n\n${sentences.join(' ')}\n\nBest,\n${safeSigner}\n`;
    if (quoted) text += `\n> ${quoted.replace(/[^\x00-\x7f]/g, '').split('\n').slice(0, 3).join('\n> ')}\n`;
    if (encoding === '7bit' && /[^\x00-\x7f]/.test(text)) encoding = 'quoted-printable';
    const html = rng.chance(0.2) ? HTML_WRAP(`<p>${greeting}</p><p>${sentences.join(' ')}</p><p>Best,<br>${safeSigner}</p>`) : undefined;
    return { text, html, charset, encoding };
  }

  private maybeAttachments(rng: Rng, subject: string, forceShared: boolean, forceBig: boolean): Attachment[] {
    const out: Attachment[] = [];
    if (forceShared) {
      this.sharedFile ??= { filename: 'Fund-III-LPA-summary.pdf', mimeType: 'application/pdf', bytes: makePdf(this.rng.fork('shared-file'), 'LPA summary', 9000) };
      this.usedShared++;
      out.push(this.sharedFile);
    }
    if (forceBig && this.o.attachmentCapBytes !== null && !this.bigDone) {
      this.bigDone = true;
      out.push({ filename: 'data-room-export.zip', mimeType: 'application/zip', bytes: makeBlob(rng, this.o.attachmentCapBytes + 64 * 1024) });
    }
    if (!out.length && rng.chance(this.o.attachmentRate)) {
      const k = rng.next();
      if (k < 0.6) {
        const name = `${subject.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'document'}.pdf`;
        out.push({ filename: name, mimeType: 'application/pdf', bytes: makePdf(rng, subject, rng.int(2000, 30000)) });
      } else if (k < 0.85) {
        out.push({ filename: `chart-${rng.int(1, 9)}.png`, mimeType: 'image/png', bytes: makePng(rng) });
      } else {
        out.push({ filename: 'cashflows.csv', mimeType: 'text/csv', bytes: makeCsv(rng, rng.int(5, 40)) });
      }
    }
    return out;
  }

  // --- conversation kinds -------------------------------------------------------------------

  private investor(rng: Rng, i: number, t0: number, multi: boolean): Planned[] {
    const inv = rng.pick(this.cast.investors.filter((x) => x.contacts.length));
    const partners = rng.shuffle([...this.cast.partners]);
    const lead = partners[0]!;
    const ccPartner = partners.length > 1 && (rng.chance(0.35) || i === 1 || i === 2) ? partners[1]! : null;
    const contacts = rng.shuffle([...inv.contacts]).slice(0, rng.chance(0.3) ? 2 : 1);
    const externals: Addr[] = contacts.map((c) => this.contactAddr(c));
    if (inv.unlisted.length && rng.chance(0.5)) externals.push(...inv.unlisted);
    if (multi) {
      const other = rng.pick(this.cast.investors.filter((x) => x !== inv && x.contacts.length));
      externals.push(this.contactAddr(other.contacts[0]!));
    }
    const encoded = i === 1 || rng.chance(0.08) ? rng.pick(ENCODED_SUBJECTS) : null;
    const subject = encoded ? encoded.text : this.fill(rng.pick(INVESTOR_TOPICS), rng, inv);
    const count =
      this.o.threads === 'singles'
        ? 1
        : this.o.threads === 'long'
          ? 6 + Math.min(8, Math.floor(-Math.log(1 - rng.next() * 0.999) * 2.5))
          : i === 2 || i === 3
            ? 3
            : 1 + Math.min(5, Math.floor(-Math.log(1 - rng.next() * 0.999) * 1.4));
    const replyFirst = count >= 2 && (i === 2 || rng.chance(0.08));
    const plan: Planned[] = [];
    let t = t0;
    let externalTurn = rng.chance(0.6);
    const chain: string[] = [];
    let prevText = '';
    for (let n = 0; n < count; n++) {
      const internalOnly = n > 0 && ccPartner !== null && rng.chance(0.15);
      let from: Addr;
      let to: Addr[];
      let cc: Addr[] = [];
      let bcc: Addr[] = [];
      let sender: string | null = null;
      let tz: number;
      if (internalOnly) {
        const [a, b] = rng.chance(0.5) ? [lead, ccPartner!] : [ccPartner!, lead];
        from = this.partnerAddr(a);
        to = [this.partnerAddr(b)];
        sender = a.email;
        tz = rng.pick(PARTNER_TZ);
      } else if (externalTurn) {
        from = externals[rng.int(0, Math.min(externals.length, contacts.length) - 1)]!;
        to = [this.partnerAddr(lead)];
        cc = [...externals.filter((x) => x !== from), ...(ccPartner ? [this.partnerAddr(ccPartner)] : [])];
        tz = rng.pick(CONTACT_TZ);
      } else {
        const me = ccPartner && rng.chance(0.3) ? ccPartner : lead;
        const other = me === lead ? ccPartner : lead;
        from = this.partnerAddr(me);
        to = [externals[0]!];
        cc = [...externals.slice(1), ...(other ? [this.partnerAddr(other)] : [])];
        sender = me.email;
        tz = rng.pick(PARTNER_TZ);
        const bccCandidate = partners.find((p) => p !== lead && p !== ccPartner);
        if (bccCandidate && rng.chance(0.06)) bcc = [this.partnerAddr(bccCandidate)];
      }
      if (!internalOnly) externalTurn = !externalTurn;
      t = n === 0 ? t : t + rng.int(20 * MIN, 2 * DAY);
      const noId = (i === 4 && n === 0) || rng.chance(0.02);
      const messageId = noId ? null : this.messageId(rng, from.address, t);
      const body = this.body(rng, from.name ?? from.address, prevText);
      const forceShared = (i === 3 || i === 5) && n === 0;
      const forceBig = i === 5 && n === 0;
      const attachments = internalOnly && rng.chance(0.7) ? [] : this.maybeAttachments(rng, subject, forceShared, forceBig);
      const spec: MailSpec = {
        from,
        to,
        cc,
        bcc,
        subject: n === 0 ? subject : `${rng.pick(['Re: ', 'RE: ', 'Re: ', 'AW: '])}${subject}`,
        subjectEncoding: encoded ? { charset: encoded.charset, q: encoded.charset === 'iso-8859-1' } : undefined,
        date: t,
        tzOffsetMin: tz,
        messageId,
        inReplyTo: chain.length ? chain[chain.length - 1] : null,
        references: chain.slice(-10),
        ...body,
        attachments,
      };
      const mailboxes = this.mailboxesOf(spec, sender, rng);
      // Now and then a recipient throws the message away (Trash): captured only through another copy.
      const recipients = Object.keys(mailboxes).filter((m) => m !== sender);
      if (recipients.length && rng.chance(0.03)) mailboxes[rng.pick(recipients)] = ['TRASH'];
      plan.push({ spec, mailboxes, sender, internalDate: t + rng.int(2_000, 90_000), kind: internalOnly ? 'internal' : 'investor', attachments });
      if (messageId) chain.push(messageId);
      prevText = body.text;
    }
    if (replyFirst) {
      // The root reaches the mailboxes after the first reply (a delayed or re-sent original).
      plan[0]!.internalDate = plan[1]!.internalDate + rng.int(1 * MIN, 30 * MIN);
    }
    return plan;
  }

  private internal(rng: Rng, t0: number): Planned[] {
    const partners = rng.shuffle([...this.cast.partners]);
    if (partners.length < 2) return this.stranger(rng, t0);
    const [a, b] = partners as [Partner, Partner];
    const c = partners[2] && rng.chance(0.3) ? partners[2] : null;
    const subject = this.fill(rng.pick(INTERNAL_TOPICS), rng);
    const count = rng.int(1, 3);
    const plan: Planned[] = [];
    const chain: string[] = [];
    let t = t0;
    for (let n = 0; n < count; n++) {
      const [me, you] = n % 2 === 0 ? [a, b] : [b, a];
      if (n > 0) t += rng.int(10 * MIN, DAY);
      const messageId = rng.chance(0.02) ? null : this.messageId(rng, me.email, t);
      const spec: MailSpec = {
        from: this.partnerAddr(me),
        to: [this.partnerAddr(you)],
        cc: c ? [this.partnerAddr(c)] : [],
        subject: n === 0 ? subject : `Re: ${subject}`,
        date: t,
        tzOffsetMin: rng.pick(PARTNER_TZ),
        messageId,
        inReplyTo: chain.length ? chain[chain.length - 1] : null,
        references: chain.slice(-10),
        ...this.body(rng, me.name),
        attachments: this.maybeAttachments(rng, subject, false, false),
      };
      const mailboxes = this.mailboxesOf(spec, me.email, rng);
      if (n === 0 && rng.chance(0.05)) mailboxes[you.email] = ['TRASH'];
      plan.push({ spec, mailboxes, sender: me.email, internalDate: t + rng.int(1_000, 20_000), kind: 'internal', attachments: spec.attachments ?? [] });
      if (messageId) chain.push(messageId);
    }
    return plan;
  }

  private newsletter(rng: Rng, t0: number, withoutMessageId: boolean): Planned[] {
    const nl = rng.pick(NEWSLETTERS);
    const recipients = rng.shuffle([...this.cast.partners]).slice(0, withoutMessageId ? Math.min(2, this.cast.partners.length) : rng.int(1, this.cast.partners.length));
    const subject = this.fill(rng.pick(nl.subjects), rng);
    const spam = !withoutMessageId && rng.chance(0.1);
    const sentences = Array.from({ length: 4 }, () => this.fill(rng.pick(SENTENCES), rng));
    const spec: MailSpec = {
      from: { name: nl.name, address: nl.address },
      to: recipients.map((p) => this.partnerAddr(p)),
      subject,
      date: t0,
      tzOffsetMin: 0,
      messageId: withoutMessageId || rng.chance(0.03) ? null : `${rng.hex(24)}@mta.${nl.address.split('@')[1]}`,
      text: `${subject}\n\n${sentences.join('\n\n')}\n\nUnsubscribe: https://${nl.address.split('@')[1]}/u\n`,
      html: HTML_WRAP(`<h1>${subject}</h1>${sentences.map((s) => `<p>${s}</p>`).join('')}`),
      charset: 'utf-8',
      encoding: 'quoted-printable',
      extraHeaders: [['List-Unsubscribe', `<https://${nl.address.split('@')[1]}/u>`]],
    };
    const mailboxes: Record<string, string[]> = {};
    for (const p of recipients) {
      mailboxes[p.email] = spam ? ['SPAM'] : this.labelsFor(rng, p.email, null, [rng.pick(['CATEGORY_PROMOTIONS', 'CATEGORY_UPDATES'])]);
    }
    return [{ spec, mailboxes, sender: null, internalDate: t0 + rng.int(1_000, 60_000), kind: 'newsletter', attachments: [] }];
  }

  private stranger(rng: Rng, t0: number): Planned[] {
    const partner = rng.pick(this.cast.partners);
    const stranger: Addr = { name: null, address: `${rng.pick(FREEMAIL_STRANGERS)}${rng.int(1, 999)}@gmail.com` };
    const subject = rng.pick(['Quick question', 'Introduction', 'Pitch deck', 'Coffee next week?']);
    const first: MailSpec = {
      from: stranger,
      to: [this.partnerAddr(partner)],
      subject,
      date: t0,
      tzOffsetMin: rng.pick(CONTACT_TZ),
      messageId: this.messageId(rng, stranger.address, t0),
      ...this.body(rng, 'Sent from my phone'),
      attachments: this.maybeAttachments(rng, subject, false, false),
    };
    const plan: Planned[] = [
      { spec: first, mailboxes: this.mailboxesOf(first, null, rng), sender: null, internalDate: t0 + rng.int(1_000, 60_000), kind: 'stranger', attachments: first.attachments ?? [] },
    ];
    if (rng.chance(0.4)) {
      const t = t0 + rng.int(HOUR, DAY);
      const reply: MailSpec = {
        from: this.partnerAddr(partner),
        to: [stranger],
        subject: `Re: ${subject}`,
        date: t,
        tzOffsetMin: rng.pick(PARTNER_TZ),
        messageId: this.messageId(rng, partner.email, t),
        inReplyTo: first.messageId,
        references: [first.messageId!],
        ...this.body(rng, partner.name),
      };
      plan.push({ spec: reply, mailboxes: this.mailboxesOf(reply, partner.email, rng), sender: partner.email, internalDate: t + 3_000, kind: 'stranger', attachments: [] });
    }
    return plan;
  }

  private draftOrChat(rng: Rng, t0: number, label: 'DRAFT' | 'CHAT'): Planned[] {
    const partners = rng.shuffle([...this.cast.partners]);
    const me = partners[0]!;
    const inv = rng.pick(this.cast.investors.filter((x) => x.contacts.length));
    const to = label === 'CHAT' && partners[1] ? this.partnerAddr(partners[1]) : this.contactAddr(inv.contacts[0]!);
    const spec: MailSpec = {
      from: this.partnerAddr(me),
      to: [to],
      subject: label === 'DRAFT' ? `Draft: ${this.fill(rng.pick(INVESTOR_TOPICS), rng, inv)}` : 'Chat',
      date: t0,
      tzOffsetMin: rng.pick(PARTNER_TZ),
      messageId: this.messageId(rng, me.email, t0),
      ...this.body(rng, me.name),
    };
    return [{ spec, mailboxes: { [me.email]: [label] }, sender: me.email, internalDate: t0, kind: label === 'CHAT' ? 'internal' : 'investor', attachments: [] }];
  }
}

const HOUR = 3_600_000;
