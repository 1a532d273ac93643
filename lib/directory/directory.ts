// The CRM directory: investors, their domains and addresses, contacts and theirs.
// Normalisation and the writes shared by the CRUD handlers and the bulk import live here,
// so an address is checked, stored and queued for rematch the same way on every path.
import type { InStatement, Transaction } from '@libsql/client';
import { all, one, type Db, type Executor } from '../db/client.js';
import { AppError, validation } from '../core/errors.js';
import type { Config } from '../core/config.js';
import { isAddressWithin, isFreeMailDomain, isPublicSuffix, isWithinDomains, normalizeAddress, normalizeDomain } from '../mail/address.js';

// ---------------------------------------------------------------------------------------
// Normalisation: trimmed, lower case, and refused with a message that says what to give.

const LABEL = '(?!-)[a-z0-9-]{1,63}(?<!-)';
const HOSTNAME_RE = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})+$`);
const LOCAL_RE = /^(?=.{1,64}$)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

export function domainField(raw: unknown, field: string): string {
  if (typeof raw !== 'string') throw validation(field, `${field}: must be a domain name such as fund.com`);
  const shown = JSON.stringify(raw.length > 300 ? `${raw.slice(0, 300)}…` : raw);
  const t = raw.trim();
  if (!t) throw validation(field, `${field}: is empty; give a domain name such as fund.com`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    throw validation(field, `${field}: ${shown} is a URL; give the domain alone (fund.com, not https://fund.com)`);
  }
  if (t.startsWith('@')) throw validation(field, `${field}: ${shown} starts with @; give the domain without it (fund.com)`);
  if (t.includes('@')) throw validation(field, `${field}: ${shown} is an email address; put addresses in emails, domains here`);
  if (/\s/.test(t)) throw validation(field, `${field}: ${shown} contains spaces; give one domain name such as fund.com`);
  if (t.includes('/')) throw validation(field, `${field}: ${shown} has a path; give the domain alone (fund.com, not fund.com/about)`);
  const d = normalizeDomain(t);
  if (!HOSTNAME_RE.test(d)) {
    throw validation(field, `${field}: ${shown} is not a domain name; give a hostname with a dot, such as fund.com or mail.fund.com`);
  }
  return d;
}

export function addressField(raw: unknown, field: string): string {
  if (typeof raw !== 'string') throw validation(field, `${field}: must be an email address such as name@fund.com`);
  const shown = JSON.stringify(raw.length > 300 ? `${raw.slice(0, 300)}…` : raw);
  if (!raw.trim()) throw validation(field, `${field}: is empty; give an email address such as name@fund.com`);
  const a = normalizeAddress(raw);
  const at = a ? a.lastIndexOf('@') : -1;
  if (!a || at <= 0 || !LOCAL_RE.test(a.slice(0, at)) || !HOSTNAME_RE.test(a.slice(at + 1))) {
    throw validation(field, `${field}: ${shown} is not a valid email address (name@fund.com)`);
  }
  return a;
}

/** What the directory may hold, from the configuration: the workspace is never a contact. */
export interface DirectoryPolicy {
  workspaceDomains: readonly string[];
}

export const directoryPolicy = (config: Config): DirectoryPolicy => ({ workspaceDomains: config.gmail.workspaceDomains });

const workspaceRefusal = (field: string, what: string, policy: DirectoryPolicy) =>
  validation(
    field,
    `${field}: ${what} is in the firm's own workspace (${policy.workspaceDomains.join(', ')}); team mail is internal and is never tied to a contact or investor`,
  );

/** A contact's or investor's address: valid, and not one of the firm's own. */
export function externalAddress(policy: DirectoryPolicy): (raw: unknown, field: string) => string {
  return (raw, field) => {
    const a = addressField(raw, field);
    if (isAddressWithin(a, policy.workspaceDomains)) throw workspaceRefusal(field, a, policy);
    return a;
  };
}

/**
 * An investor's domain: valid, not the workspace's, and naming one organisation: a public suffix
 * (co.uk) or a free-mail provider (gmail.com) would tie strangers' mail to the investor.
 */
export function investorDomain(policy: DirectoryPolicy): (raw: unknown, field: string) => string {
  return (raw, field) => {
    const d = domainField(raw, field);
    if (isWithinDomains(d, policy.workspaceDomains)) throw workspaceRefusal(field, d, policy);
    if (isPublicSuffix(d)) {
      throw validation(field, `${field}: ${d} is a public suffix (anyone can register a name under it); give the investor's own domain, such as fund.co.uk`);
    }
    if (isFreeMailDomain(d)) {
      throw validation(field, `${field}: ${d} is a free-mail provider; add the investor's people by address (emails) instead`);
    }
    return d;
  };
}

/** Normalise every entry of a list, naming the bad one as `field[i]`; duplicates collapse. */
export function normaliseList(raw: readonly unknown[] | undefined, field: string, each: (v: unknown, f: string) => string): string[] {
  if (raw === undefined) return [];
  return [...new Set(raw.map((v, i) => each(v, `${field}[${i}]`)))];
}

export function normaliseName(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !raw.trim()) throw validation(field, `${field}: is required and must not be empty`);
  const name = raw.trim();
  if (name.length > 200) throw validation(field, `${field}: must be at most 200 characters`);
  return name;
}

// ---------------------------------------------------------------------------------------
// Rematch queue: every change that can alter what an address matches leaves the address or
// domain here, written in the same transaction as the change.

export class RematchSet {
  readonly addresses = new Set<string>();
  readonly domains = new Set<string>();

  add(kind: 'address' | 'domain', values: Iterable<string>): void {
    const into = kind === 'address' ? this.addresses : this.domains;
    for (const v of values) into.add(v);
  }

  async flush(tx: Transaction, requestedAt: string): Promise<void> {
    const stmts: InStatement[] = [
      ...[...this.addresses].map((a) => ({ sql: 'INSERT INTO email_rematch_queue (address, requested_at) VALUES (?, ?)', args: [a, requestedAt] })),
      ...[...this.domains].map((d) => ({ sql: 'INSERT INTO email_rematch_queue (domain, requested_at) VALUES (?, ?)', args: [d, requestedAt] })),
    ];
    if (stmts.length) await tx.batch(stmts);
    this.addresses.clear();
    this.domains.clear();
  }
}

// ---------------------------------------------------------------------------------------
// The three lists hanging off investors and contacts, handled by one set of functions.

type ListName = 'investor_domains' | 'investor_emails' | 'contact_emails';

const LISTS: Record<ListName, { owner: string; value: string; kind: 'address' | 'domain' }> = {
  investor_domains: { owner: 'investor_id', value: 'domain', kind: 'domain' },
  investor_emails: { owner: 'investor_id', value: 'email', kind: 'address' },
  contact_emails: { owner: 'contact_id', value: 'email', kind: 'address' },
};

async function listValues(sql: Executor, list: ListName, ownerId: number): Promise<string[]> {
  const { owner, value } = LISTS[list];
  const got = await all<{ v: string }>(sql, `SELECT ${value} AS v FROM ${list} WHERE ${owner} = ? ORDER BY ${value}`, [ownerId]);
  return got.map((r) => r.v);
}

/** Adds what is not there yet; returns what was added (and queues it for rematch). */
export async function addValues(tx: Transaction, list: ListName, ownerId: number, values: string[], rq: RematchSet): Promise<string[]> {
  const { owner, value, kind } = LISTS[list];
  const added: string[] = [];
  for (const v of values) {
    const rs = await tx.execute({ sql: `INSERT OR IGNORE INTO ${list} (${owner}, ${value}) VALUES (?, ?)`, args: [ownerId, v] });
    if (rs.rowsAffected) added.push(v);
  }
  rq.add(kind, added);
  return added;
}

/** Makes the list exactly `values`; returns whether anything changed (queuing what did). */
export async function replaceValues(tx: Transaction, list: ListName, ownerId: number, values: string[], rq: RematchSet): Promise<boolean> {
  const { owner, value, kind } = LISTS[list];
  const current = await listValues(tx, list, ownerId);
  const removed = current.filter((v) => !values.includes(v));
  for (const v of removed) {
    await tx.execute({ sql: `DELETE FROM ${list} WHERE ${owner} = ? AND ${value} = ?`, args: [ownerId, v] });
  }
  rq.add(kind, removed);
  const added = await addValues(tx, list, ownerId, values, rq);
  return removed.length > 0 || added.length > 0;
}

/** An address belongs to at most one contact; refuse one held by another (CONFLICT, naming it). */
export async function assertContactEmailsFree(sql: Executor, emails: string[], contactId: number | null, field: string): Promise<void> {
  for (const [i, email] of emails.entries()) {
    const owner = await one<{ id: number; name: string }>(
      sql,
      'SELECT c.id, c.name FROM contact_emails e JOIN contacts c ON c.id = e.contact_id WHERE e.email = ?',
      [email],
    );
    if (owner && owner.id !== contactId) {
      const f = `${field}[${i}]`;
      throw new AppError('CONFLICT', `${f}: ${email} already belongs to contact ${owner.id} (${owner.name})`, { field: f });
    }
  }
}

export async function assertInvestorExists(sql: Executor, investorId: number | null | undefined, field = 'investor_id'): Promise<void> {
  if (investorId === null || investorId === undefined) return;
  if (!(await one(sql, 'SELECT 1 FROM investors WHERE id = ?', [investorId]))) {
    throw validation(field, `${field}: no investor with id ${investorId}`);
  }
}

// ---------------------------------------------------------------------------------------
// Reading: one query per list, the address lists gathered with json_group_array.

export interface InvestorView {
  id: number;
  name: string;
  domains: string[];
  emails: string[];
  created_at: string;
  updated_at: string;
}

export interface ContactView {
  id: number;
  name: string;
  investor_id: number | null;
  emails: string[];
  created_at: string;
  updated_at: string;
}

const INVESTOR_SELECT = `SELECT i.id, i.name, i.created_at, i.updated_at,
  (SELECT json_group_array(domain) FROM (SELECT domain FROM investor_domains WHERE investor_id = i.id ORDER BY domain)) AS domains,
  (SELECT json_group_array(email) FROM (SELECT email FROM investor_emails WHERE investor_id = i.id ORDER BY email)) AS emails
  FROM investors i`;

const CONTACT_SELECT = `SELECT c.id, c.name, c.investor_id, c.created_at, c.updated_at,
  (SELECT json_group_array(email) FROM (SELECT email FROM contact_emails WHERE contact_id = c.id ORDER BY email)) AS emails
  FROM contacts c`;

type Listed<T> = Omit<T, 'domains' | 'emails'> & { domains?: string; emails: string };

function parseLists<T>(r: Listed<T>): T {
  return { ...r, emails: JSON.parse(r.emails), ...(r.domains !== undefined ? { domains: JSON.parse(r.domains) } : {}) } as T;
}

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

export async function readInvestors(sql: Executor, filter: { id?: number; q?: string } = {}): Promise<InvestorView[]> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.id !== undefined) {
    where.push('i.id = ?');
    args.push(filter.id);
  }
  if (filter.q) {
    where.push("i.name LIKE ? ESCAPE '\\'");
    args.push(likePattern(filter.q));
  }
  const text = `${INVESTOR_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY i.name COLLATE NOCASE, i.id`;
  return (await all<Listed<InvestorView>>(sql, text, args)).map(parseLists<InvestorView>);
}

export async function readContacts(sql: Executor, filter: { id?: number; q?: string; investor_id?: number } = {}): Promise<ContactView[]> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.id !== undefined) {
    where.push('c.id = ?');
    args.push(filter.id);
  }
  if (filter.investor_id !== undefined) {
    where.push('c.investor_id = ?');
    args.push(filter.investor_id);
  }
  if (filter.q) {
    where.push("c.name LIKE ? ESCAPE '\\'");
    args.push(likePattern(filter.q));
  }
  const text = `${CONTACT_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY c.name COLLATE NOCASE, c.id`;
  return (await all<Listed<ContactView>>(sql, text, args)).map(parseLists<ContactView>);
}

export async function investorById(sql: Executor, id: number): Promise<InvestorView> {
  const [found] = await readInvestors(sql, { id });
  if (!found) throw new AppError('NOT_FOUND', `no investor with id ${id}`);
  return found;
}

export async function contactById(sql: Executor, id: number): Promise<ContactView> {
  const [found] = await readContacts(sql, { id });
  if (!found) throw new AppError('NOT_FOUND', `no contact with id ${id}`);
  return found;
}

// ---------------------------------------------------------------------------------------
// Writing records.

export async function insertInvestor(tx: Transaction, name: string, now: string): Promise<number> {
  const clash = await one<{ id: number; name: string }>(tx, 'SELECT id, name FROM investors WHERE name = ?', [name]);
  if (clash) throw new AppError('CONFLICT', `name: an investor named ${JSON.stringify(clash.name)} already exists (id ${clash.id})`, { field: 'name' });
  const rs = await tx.execute({ sql: 'INSERT INTO investors (name, created_at, updated_at) VALUES (?, ?, ?)', args: [name, now, now] });
  return Number(rs.lastInsertRowid);
}

export async function insertContact(tx: Transaction, c: { name: string; investor_id: number | null }, now: string): Promise<number> {
  const rs = await tx.execute({
    sql: 'INSERT INTO contacts (name, investor_id, created_at, updated_at) VALUES (?, ?, ?, ?)',
    args: [c.name, c.investor_id, now, now],
  });
  return Number(rs.lastInsertRowid);
}

export async function touch(tx: Transaction, table: 'investors' | 'contacts', id: number, now: string): Promise<void> {
  await tx.execute({ sql: `UPDATE ${table} SET updated_at = ? WHERE id = ?`, args: [now, id] });
}

/** The addresses and domains whose matches change when this investor (and so its contacts' link) goes. */
export async function queueInvestorAddresses(sql: Executor, investorId: number, rq: RematchSet): Promise<void> {
  rq.add('domain', await listValues(sql, 'investor_domains', investorId));
  rq.add('address', await listValues(sql, 'investor_emails', investorId));
  const contactEmails = await all<{ email: string }>(
    sql,
    'SELECT e.email FROM contact_emails e JOIN contacts c ON c.id = e.contact_id WHERE c.investor_id = ?',
    [investorId],
  );
  rq.add('address', contactEmails.map((r) => r.email));
}

// ---------------------------------------------------------------------------------------
// Upsert, as the import does it: investors by name (any case), contacts by address; adds,
// never removes or moves.

export interface InvestorRecord {
  name: string;
  domains: string[];
  emails: string[];
  contacts: { name?: string; emails: string[] }[];
}

export interface Touched {
  investors: Set<number>;
  contacts: Set<number>;
}

/**
 * Apply one record. `fieldOf` turns a path inside the record (`contacts[0].emails`) into the
 * name the caller shows for it (`[3].contacts[0].emails`, `row 4: contact_email`).
 */
export async function upsertInvestorRecord(
  tx: Transaction,
  rec: InvestorRecord,
  ctx: { now: string; rq: RematchSet; touched: Touched; fieldOf: (path: string) => string },
): Promise<void> {
  const { now, rq, touched } = ctx;
  const existing = await one<{ id: number }>(tx, 'SELECT id FROM investors WHERE name = ?', [rec.name]);
  const investorId = existing?.id ?? (await insertInvestor(tx, rec.name, now));
  let changed = !existing;
  changed = (await addValues(tx, 'investor_domains', investorId, rec.domains, rq)).length > 0 || changed;
  changed = (await addValues(tx, 'investor_emails', investorId, rec.emails, rq)).length > 0 || changed;
  if (changed) {
    if (existing) await touch(tx, 'investors', investorId, now);
    touched.investors.add(investorId);
  }

  for (const [i, c] of rec.contacts.entries()) {
    const field = ctx.fieldOf(`contacts[${i}]`);
    const owners = new Map<number, string>();
    for (const email of c.emails) {
      const o = await one<{ contact_id: number }>(tx, 'SELECT contact_id FROM contact_emails WHERE email = ?', [email]);
      if (o) owners.set(o.contact_id, email);
    }
    if (owners.size > 1) {
      const held = [...owners].map(([id, email]) => `${email} (contact ${id})`).join(', ');
      throw validation(field, `${field}: its addresses belong to different contacts: ${held}; merge them first`);
    }
    const [ownerId] = [...owners.keys()];
    if (ownerId === undefined) {
      const found =
        c.emails.length === 0 && c.name
          ? await one<{ id: number }>(tx, 'SELECT id FROM contacts WHERE investor_id = ? AND name = ? COLLATE NOCASE', [investorId, c.name])
          : undefined;
      if (found) continue;
      const id = await insertContact(tx, { name: c.name ?? c.emails[0]!, investor_id: investorId }, now);
      await addValues(tx, 'contact_emails', id, c.emails, rq);
      touched.contacts.add(id);
      continue;
    }
    const current = (await one<{ name: string; investor_id: number | null }>(tx, 'SELECT name, investor_id FROM contacts WHERE id = ?', [ownerId]))!;
    let contactChanged = false;
    if (c.name && c.name !== current.name) {
      await tx.execute({ sql: 'UPDATE contacts SET name = ? WHERE id = ?', args: [c.name, ownerId] });
      contactChanged = true;
    }
    // A contact already at an investor stays there: an import adds and never takes away, so
    // the same file imported twice changes nothing. Moving a contact is an explicit PATCH.
    if (current.investor_id === null) {
      await tx.execute({ sql: 'UPDATE contacts SET investor_id = ? WHERE id = ?', args: [investorId, ownerId] });
      // Its addresses now lead to an investor: every one of them matches differently.
      rq.add('address', await listValues(tx, 'contact_emails', ownerId));
      contactChanged = true;
    }
    if ((await addValues(tx, 'contact_emails', ownerId, c.emails, rq)).length) contactChanged = true;
    if (contactChanged) {
      await touch(tx, 'contacts', ownerId, now);
      touched.contacts.add(ownerId);
    }
  }
}
