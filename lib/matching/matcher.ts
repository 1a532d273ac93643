// Ties an email's participants to investors and contacts: each email by its own participants,
// addresses folded (case, Gmail dots, +tags), a contact's or investor's address before an
// investor's domain, and an exclusion always winning. The directory is read once per run into indexes so
// matching a message costs a few map look-ups per participant.
import { foldDomain, foldNormalized, isFreeMailDomain, normalizeAddress } from '../mail/address.js';
import { all, type Executor } from '../db/client.js';

type MatchKind = 'contact_email' | 'investor_email' | 'domain';

export interface MatchLink {
  investor_id: number | null;
  contact_id: number | null;
  match_kind: MatchKind;
  confidence: number;
  /** The participant's address, normalised (lower case). */
  address: string;
}

const CONFIDENCE: Record<MatchKind, number> = {
  contact_email: 1.0,
  investor_email: 0.9,
  domain: 0.5,
};

export interface DirectorySnapshot {
  contacts: { id: number; investor_id: number | null; emails: string[] }[];
  investors: { id: number; domains: string[]; emails: string[] }[];
  exclusions: { address: string | null; domain: string | null }[];
  /** The firm's own (workspace) domains: never matched by domain. */
  internalDomains: string[];
}

/** Reads the directory (contacts, investors with domains and emails, exclusions) in four queries. */
export async function loadDirectory(db: Executor, internalDomains: string[] = []): Promise<DirectorySnapshot> {
  const contactRows = await all<{ id: number; investor_id: number | null; email: string | null }>(
    db,
    `SELECT c.id, c.investor_id, ce.email
       FROM contacts c LEFT JOIN contact_emails ce ON ce.contact_id = c.id
      ORDER BY c.id`,
  );
  const investorRows = await all<{ id: number }>(db, 'SELECT id FROM investors ORDER BY id');
  const domainRows = await all<{ investor_id: number; domain: string }>(db, 'SELECT investor_id, domain FROM investor_domains');
  const emailRows = await all<{ investor_id: number; email: string }>(db, 'SELECT investor_id, email FROM investor_emails');
  const exclusions = await all<{ address: string | null; domain: string | null }>(db, 'SELECT address, domain FROM exclusions');

  const contacts = new Map<number, DirectorySnapshot['contacts'][number]>();
  for (const r of contactRows) {
    let c = contacts.get(r.id);
    if (!c) {
      c = { id: r.id, investor_id: r.investor_id ?? null, emails: [] };
      contacts.set(r.id, c);
    }
    if (r.email) c.emails.push(r.email);
  }
  const investors = new Map<number, DirectorySnapshot['investors'][number]>();
  for (const r of investorRows) investors.set(r.id, { id: r.id, domains: [], emails: [] });
  for (const r of domainRows) investors.get(r.investor_id)?.domains.push(r.domain);
  for (const r of emailRows) investors.get(r.investor_id)?.emails.push(r.email);

  return {
    contacts: [...contacts.values()],
    investors: [...investors.values()],
    exclusions: exclusions.map((e) => ({ address: e.address ?? null, domain: e.domain ?? null })),
    internalDomains: [...internalDomains],
  };
}

interface ContactRef {
  contactId: number;
  investorId: number | null;
}

/** Everything the directory says about one folded address, found with a single look-up. */
interface AddressEntry {
  excluded: boolean;
  contacts: ContactRef[];
  investors: number[];
}

/** Everything the directory says about one domain, found with a single look-up. */
interface DomainEntry {
  excluded: boolean;
  internal: boolean;
  investors: number[];
}

export class Matcher {
  private readonly addresses = new Map<string, AddressEntry>();
  private readonly domains = new Map<string, DomainEntry>();

  constructor(dir: DirectorySnapshot) {
    const addressEntry = (raw: string): AddressEntry | null => {
      const a = normalizeAddress(raw);
      if (!a) return null;
      const key = foldNormalized(a);
      let e = this.addresses.get(key);
      if (!e) {
        e = { excluded: false, contacts: [], investors: [] };
        this.addresses.set(key, e);
      }
      return e;
    };
    const domainEntry = (raw: string): DomainEntry | null => {
      const d = foldDomain(raw);
      if (!d) return null;
      let e = this.domains.get(d);
      if (!e) {
        e = { excluded: false, internal: false, investors: [] };
        this.domains.set(d, e);
      }
      return e;
    };

    for (const x of dir.exclusions) {
      if (x.address) {
        const e = addressEntry(x.address);
        if (e) e.excluded = true;
      }
      if (x.domain) {
        const e = domainEntry(x.domain);
        if (e) e.excluded = true;
      }
    }
    for (const d of dir.internalDomains) {
      const e = domainEntry(d);
      if (e) e.internal = true;
    }
    for (const c of dir.contacts) {
      for (const email of c.emails) {
        const e = addressEntry(email);
        if (e && !e.contacts.some((r) => r.contactId === c.id)) e.contacts.push({ contactId: c.id, investorId: c.investor_id ?? null });
      }
    }
    for (const inv of dir.investors) {
      for (const email of inv.emails) {
        const e = addressEntry(email);
        if (e && !e.investors.includes(inv.id)) e.investors.push(inv.id);
      }
      for (const raw of inv.domains) {
        // A free-mail domain entered on an investor would tie every Gmail user to it.
        if (isFreeMailDomain(raw)) continue;
        const e = domainEntry(raw);
        if (e && !e.investors.includes(inv.id)) e.investors.push(inv.id);
      }
    }
  }

  /** Links for one email's participants (From, To, Cc, Bcc, Reply-To), duplicates removed. */
  match(participants: readonly { address: string }[]): MatchLink[] {
    const out: MatchLink[] = [];
    let seen: Set<string> | null = null;
    for (const p of participants) {
      const address = normalizeAddress(p.address);
      if (!address) continue;
      for (const link of this.linksFor(address)) {
        // Most emails produce zero or one link; the duplicate check only costs when there are more.
        if (out.length) {
          seen ??= new Set(out.map(linkKey));
          const key = linkKey(link);
          if (seen.has(key)) continue;
          seen.add(key);
        }
        out.push(link);
      }
    }
    return out;
  }

  private linksFor(address: string): MatchLink[] {
    const folded = foldNormalized(address);
    const entry = this.addresses.get(folded);
    if (entry?.excluded) return [];
    const domain = folded.slice(folded.lastIndexOf('@') + 1);

    let excluded = false;
    let internal = false;
    let domainInvestors: number[] | null = null;
    // The domain and each parent (mail.eu.acme.com, eu.acme.com, acme.com, com).
    for (let at = 0; ; ) {
      const d = this.domains.get(at === 0 ? domain : domain.slice(at));
      if (d) {
        if (d.excluded) excluded = true;
        if (d.internal) internal = true;
        if (d.investors.length) domainInvestors = domainInvestors ? domainInvestors.concat(d.investors) : d.investors;
      }
      const dot = domain.indexOf('.', at);
      if (dot < 0) break;
      at = dot + 1;
    }
    // The firm's own addresses never match at all, whatever an older directory row says:
    // otherwise one contact entry would make partners-only mail readable.
    if (excluded || internal) return [];

    const links: MatchLink[] = [];
    if (entry) {
      for (const c of entry.contacts) {
        links.push({ investor_id: c.investorId, contact_id: c.contactId, match_kind: 'contact_email', confidence: CONFIDENCE.contact_email, address });
      }
      for (const id of entry.investors) {
        links.push({ investor_id: id, contact_id: null, match_kind: 'investor_email', confidence: CONFIDENCE.investor_email, address });
      }
    }
    if (domainInvestors && !isFreeMailDomain(domain)) {
      for (const id of domainInvestors) {
        // An exact match already ties this address to the investor; a weaker duplicate adds nothing.
        if (links.some((l) => l.investor_id === id)) continue;
        links.push({ investor_id: id, contact_id: null, match_kind: 'domain', confidence: CONFIDENCE.domain, address });
      }
    }
    return links;
  }
}

function linkKey(l: MatchLink): string {
  return `${l.investor_id ?? ''}|${l.contact_id ?? ''}|${l.match_kind}|${l.address}`;
}

/**
 * The stored participants of these emails, by email, a chunk at a time, for those whose
 * is_matched is `matched`: what a Matcher judges when a directory change is weighed before it
 * is made (how much it would expose, or withdraw).
 */
export async function* storedParticipants(db: Executor, emailIds: readonly number[], matched: 0 | 1): AsyncGenerator<Map<number, { address: string }[]>> {
  const CHUNK = 500;
  for (let i = 0; i < emailIds.length; i += CHUNK) {
    const c = emailIds.slice(i, i + CHUNK);
    const parts = await all<{ email_id: number; address: string }>(
      db,
      `SELECT p.email_id, p.address FROM email_participants p JOIN emails e ON e.id = p.email_id
        WHERE e.is_matched = ? AND p.email_id IN (${c.map(() => '?').join(',')})`,
      [matched, ...c],
    );
    const byEmail = new Map<number, { address: string }[]>();
    for (const p of parts) {
      const list = byEmail.get(p.email_id);
      if (list) list.push(p);
      else byEmail.set(p.email_id, [p]);
    }
    yield byEmail;
  }
}
