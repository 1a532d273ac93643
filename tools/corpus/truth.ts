// What a correct capture of the corpus looks like: distinct messages and the mailboxes holding
// each, conversations rebuilt from Message-ID / In-Reply-To / References, and which investors and
// contacts each message should match under the service's matching rules (per email, folded
// addresses before domains, exclusions win).
import type { Cast } from './people.js';

/** Address folding: lower case; googlemail.com is gmail.com; gmail.com ignores dots; every domain ignores a +tag. */
export function foldAddress(address: string): string {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  if (at < 0) return a;
  let local = a.slice(0, at);
  let domain = a.slice(at + 1);
  if (domain === 'googlemail.com') domain = 'gmail.com';
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (domain === 'gmail.com') local = local.replace(/\./g, '');
  return `${local}@${domain}`;
}

export interface MatchResult {
  /** Investor names the message matches (any kind). */
  investors: string[];
  /** Primary emails of the contacts it matches. */
  contacts: string[];
  kinds: ('contact_email' | 'investor_email' | 'domain')[];
}

export class Matcher {
  private readonly contacts = new Map<string, { investor: string; primary: string }>();
  private readonly investorEmails = new Map<string, string>();
  private readonly domains = new Map<string, string>();
  private readonly internal: Set<string>;

  constructor(cast: Cast, freeMail: readonly string[] = ['gmail.com', 'googlemail.com', 'outlook.com', 'yahoo.com', 'hotmail.com']) {
    this.internal = new Set([cast.firmDomain.toLowerCase()]);
    const free = new Set(freeMail);
    for (const inv of cast.investors) {
      for (const c of inv.contacts) for (const e of c.emails) this.contacts.set(foldAddress(e), { investor: inv.name, primary: c.emails[0]! });
      for (const e of inv.emails) this.investorEmails.set(foldAddress(e), inv.name);
      for (const d of inv.domains) if (!free.has(d) && !this.internal.has(d)) this.domains.set(d.toLowerCase(), inv.name);
    }
  }

  match(addresses: string[]): MatchResult {
    const investors = new Set<string>();
    const contacts = new Set<string>();
    const kinds = new Set<MatchResult['kinds'][number]>();
    for (const raw of addresses) {
      const folded = foldAddress(raw);
      const domain = folded.slice(folded.lastIndexOf('@') + 1);
      if (this.internal.has(domain)) continue;
      const c = this.contacts.get(folded);
      if (c) {
        investors.add(c.investor);
        contacts.add(c.primary);
        kinds.add('contact_email');
        continue;
      }
      const ie = this.investorEmails.get(folded);
      if (ie) {
        investors.add(ie);
        kinds.add('investor_email');
        continue;
      }
      const byDomain = this.domains.get(domain);
      if (byDomain) {
        investors.add(byDomain);
        kinds.add('domain');
      }
    }
    return { investors: [...investors].sort(), contacts: [...contacts].sort(), kinds: [...kinds].sort() };
  }
}

export interface AttachmentTruth {
  filename: string;
  mimeType: string;
  size: number;
  sha256: string;
  /** Larger than the attachment cap the corpus was asked about. */
  overCap: boolean;
}

export interface MessageTruth {
  /** Corpus key: `c<conversation>.m<n>` for generated mail, `fixture:<file>` for fixtures. */
  key: string;
  /** Message-ID as written, without brackets; null when the message has none. */
  messageId: string | null;
  /**
   * Identity across mailboxes: `mid:<lower-cased Message-ID>`, or for mail without one
   * `hdr:<sha256 of the raw From, To, Cc, Subject, Date values>` — equal exactly when those
   * headers are equal, which is what the service's own hash keys on.
   */
  identity: string;
  /** The generator's conversation label (fixtures: their file). */
  conversation: string;
  kind: 'investor' | 'internal' | 'newsletter' | 'stranger' | 'fixture';
  /** Mailbox → labels of its copy. */
  mailboxes: Record<string, string[]>;
  /** Some copy sits outside Spam, Trash, Drafts and Chats, so a backfill captures it. */
  captured: boolean;
  subject: string;
  from: string | null;
  /** Addresses that count for matching (From, To, Cc, Reply-To, and Bcc where a mailbox copy shows it). */
  addresses: string[];
  sentAt: string | null;
  internalDate: number;
  inReplyTo: string | null;
  references: string[];
  matches: MatchResult;
  matched: boolean;
  /** Unmatched mail is kept without bodies, snippet or attachments. */
  metadataOnly: boolean;
  attachments: AttachmentTruth[];
}

export interface ConversationTruth {
  /** Identities of its messages, oldest first by internalDate. */
  messages: string[];
  matched: boolean;
}

export interface GroundTruth {
  /** One entry per distinct message (by identity), mailboxes merged. */
  messages: MessageTruth[];
  /** Conversations as the service should rebuild them (union of Message-ID/In-Reply-To/References links). */
  conversations: ConversationTruth[];
  /** Copies per mailbox (every delivery, Spam/Trash/Drafts included). */
  copiesPerMailbox: Record<string, number>;
}

/** Accumulates delivered messages into the ground truth; memory grows with distinct messages only. */
export class TruthBuilder {
  private readonly byIdentity = new Map<string, MessageTruth>();
  private readonly copies: Record<string, number> = {};

  add(t: MessageTruth): void {
    for (const m of Object.keys(t.mailboxes)) this.copies[m] = (this.copies[m] ?? 0) + 1;
    const existing = this.byIdentity.get(t.identity);
    if (!existing) {
      this.byIdentity.set(t.identity, { ...t, mailboxes: { ...t.mailboxes } });
      return;
    }
    for (const [m, labels] of Object.entries(t.mailboxes)) existing.mailboxes[m] = labels;
    existing.captured = existing.captured || t.captured;
  }

  build(): GroundTruth {
    const messages = [...this.byIdentity.values()];
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      while (parent.get(r) !== r) r = parent.get(r)!;
      let c = x;
      while (c !== r) {
        const next = parent.get(c)!;
        parent.set(c, r);
        c = next;
      }
      return r;
    };
    const node = (x: string): string => {
      if (!parent.has(x)) parent.set(x, x);
      return x;
    };
    const union = (a: string, b: string): void => {
      const ra = find(node(a));
      const rb = find(node(b));
      if (ra !== rb) parent.set(ra, rb);
    };
    for (const m of messages) {
      const self = node(m.messageId ? `mid:${m.messageId.toLowerCase()}` : m.identity);
      for (const r of [m.inReplyTo, ...m.references]) if (r) union(self, `mid:${r.toLowerCase()}`);
    }
    const groups = new Map<string, MessageTruth[]>();
    for (const m of messages) {
      const root = find(m.messageId ? `mid:${m.messageId.toLowerCase()}` : m.identity);
      let g = groups.get(root);
      if (!g) groups.set(root, (g = []));
      g.push(m);
    }
    const conversations = [...groups.values()].map((g) => ({
      messages: g.sort((a, b) => a.internalDate - b.internalDate).map((m) => m.identity),
      matched: g.some((m) => m.matched),
    }));
    return { messages, conversations, copiesPerMailbox: { ...this.copies } };
  }
}

const NOT_CAPTURED = new Set(['SPAM', 'TRASH', 'DRAFT', 'CHAT']);
export const isCaptured = (mailboxes: Record<string, string[]>): boolean =>
  Object.values(mailboxes).some((labels) => !labels.some((l) => NOT_CAPTURED.has(l)));
