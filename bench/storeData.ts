// A large store generated straight into the schema, not through Gmail: a directory of investors
// and contacts, and conversations of 3–5 messages among the firm's partners and the outside
// world, written in SQL batches. Links are what the service's own Matcher makes of each email's
// participants, so the store is one a sync could have produced and a rematch finds in order.
import type { Transaction } from '@libsql/client';
import type { Db } from '../lib/db/client.js';
import { loadDirectory, Matcher } from '../lib/matching/matcher.js';
import { createRng, type Rng } from '../tools/gmail-emulator/index.js';
import { FIRST_NAMES, HTML_WRAP, INTERNAL_TOPICS, INVESTOR_TOPICS, LAST_NAMES, SENTENCES } from '../tools/corpus/words.js';

interface StoreShape {
  emails: number;
  contacts: number;
  /** Investors; contacts are spread over them unevenly (a few large relationships, many small). */
  investors: number;
  partners: number;
  firmDomain: string;
  seed: string;
}

export interface GeneratedStore {
  emails: number;
  threads: number;
  matched: number;
  participants: number;
  links: number;
  copies: number;
  threadKeys: number;
  attachments: number;
  avgBodyTextBytes: number;
  avgBodyHtmlBytes: number;
  /** Addresses of outside senders no contact has: material for a directory change. */
  strangerAddresses: string[];
}

const DAY = 86_400_000;
const START = Date.parse('2016-01-04T09:00:00Z');
const SPAN = 10 * 365 * DAY;
const THREADS_PER_BATCH = 2_000;

interface Person {
  address: string;
  name: string;
}

type Role = 'from' | 'to' | 'cc';

interface Draft {
  from: Person;
  to: Person[];
  cc: Person[];
}

/** Sampling ranks 1..n with weight 1/rank^s. */
class Zipf {
  private readonly cumulative: Float64Array;

  constructor(n: number, s: number) {
    this.cumulative = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += 1 / (i + 1) ** s;
      this.cumulative[i] = total;
    }
  }

  /** A 0-based rank. */
  sample(rng: Rng): number {
    const x = rng.next() * this.cumulative[this.cumulative.length - 1]!;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Multi-row INSERTs of at most `perStatement` rows, inside the caller's transaction. */
class TableWriter {
  rows: unknown[][] = [];

  constructor(
    private readonly head: string,
    private readonly columns: number,
    private readonly tail = '',
  ) {}

  add(...values: unknown[]): void {
    this.rows.push(values);
  }

  async flush(tx: Transaction): Promise<number> {
    const n = this.rows.length;
    // SQLite allows 32,766 bound values per statement; stay well under it.
    const perStatement = Math.max(1, Math.floor(8_000 / this.columns));
    const one = `(${Array.from({ length: this.columns }, () => '?').join(',')})`;
    for (let i = 0; i < this.rows.length; i += perStatement) {
      const chunk = this.rows.slice(i, i + perStatement);
      await tx.execute({ sql: `${this.head} VALUES ${chunk.map(() => one).join(',')} ${this.tail}`, args: chunk.flat() as never[] });
    }
    this.rows = [];
    return n;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function generateStore(db: Db, shape: StoreShape): Promise<GeneratedStore> {
  const rng = createRng(shape.seed);
  const now = iso(Date.parse('2026-01-15T12:00:00Z'));
  const personName = () => `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;

  // ---- the directory
  const partners: Person[] = Array.from({ length: shape.partners }, (_, i) => ({ address: `partner${i + 1}@${shape.firmDomain}`, name: `Partner ${i + 1}` }));
  const invDomain = (i: number) => `inv${i}.example`;
  const hasMailDomain = (i: number) => i % 5 === 0;
  const contactsOf: Person[][] = Array.from({ length: shape.investors + 1 }, () => []);
  const unaffiliated: Person[] = [];
  const contactSpread = new Zipf(shape.investors, 0.6);
  {
    const tx = await db.transaction('write');
    try {
      const investors = new TableWriter('INSERT INTO investors (id, name, created_at, updated_at)', 4);
      const domains = new TableWriter('INSERT INTO investor_domains (investor_id, domain)', 2);
      const invEmails = new TableWriter('INSERT INTO investor_emails (investor_id, email)', 2);
      for (let i = 1; i <= shape.investors; i++) {
        investors.add(i, `Investor ${i} ${rng.pick(LAST_NAMES)} Partners`, now, now);
        domains.add(i, invDomain(i));
        if (hasMailDomain(i)) domains.add(i, `mail.${invDomain(i)}`);
        if (i % 7 === 0) invEmails.add(i, `ir@${invDomain(i)}`);
      }
      await investors.flush(tx);
      await domains.flush(tx);
      await invEmails.flush(tx);
      const accounts = new TableWriter('INSERT INTO email_accounts (id, email, auth_method, sync_enabled, state, created_at, updated_at)', 7);
      partners.forEach((p, k) => accounts.add(k + 1, p.address, 'dwd', 1, 'idle', now, now));
      await accounts.flush(tx);

      const contacts = new TableWriter('INSERT INTO contacts (id, investor_id, name, created_at, updated_at)', 5);
      const contactEmails = new TableWriter('INSERT INTO contact_emails (contact_id, email)', 2);
      for (let j = 1; j <= shape.contacts; j++) {
        const name = personName();
        const [first, last] = name.toLowerCase().split(' ');
        let investor: number | null;
        if (j <= shape.investors) investor = j;
        else if (rng.chance(0.1)) investor = null;
        else investor = contactSpread.sample(rng) + 1;
        let address: string;
        if (investor === null) address = `${first}.${last}${j}@adviser${j % 400}.example`;
        else if (rng.chance(0.12)) address = `${first}.${last}${j}@gmail.com`;
        else address = `${first}.${last}${j}@${hasMailDomain(investor) && rng.chance(0.3) ? 'mail.' : ''}${invDomain(investor)}`;
        contacts.add(j, investor, name, now, now);
        contactEmails.add(j, address);
        (investor === null ? unaffiliated : contactsOf[investor]!).push({ address, name });
        if (contacts.rows.length >= 5_000) {
          await contacts.flush(tx);
          await contactEmails.flush(tx);
        }
      }
      await contacts.flush(tx);
      await contactEmails.flush(tx);
      await tx.commit();
    } finally {
      tx.close();
    }
  }
  const matcher = new Matcher(await loadDirectory(db, [shape.firmDomain]));

  // ---- conversations
  const threadSpread = new Zipf(shape.investors, 1.0);
  // Investor rank → id, so that the largest relationships are not simply the smallest ids.
  const byRank = rng.shuffle(Array.from({ length: shape.investors }, (_, i) => i + 1));
  const strangers = new Set<string>();
  const pickInvestor = () => byRank[threadSpread.sample(rng)]!;
  const outsidersOf = (inv: number, count: number): Person[] => {
    const pool = contactsOf[inv]!;
    const out: Person[] = [];
    for (let k = 0; k < count; k++) {
      const r = rng.next();
      // Mostly known contacts; sometimes someone at the investor's domain the directory lacks,
      // or the investor's shared inbox.
      if (pool.length && r < 0.8) out.push(rng.pick(pool));
      else if (r < 0.93 || inv % 7 !== 0) out.push({ address: `${rng.pick(['analyst', 'ops', 'assistant', 'legal'])}${rng.int(1, 30)}@${invDomain(inv)}`, name: personName() });
      else out.push({ address: `ir@${invDomain(inv)}`, name: 'Investor Relations' });
    }
    return out;
  };
  const stranger = (): Person => {
    const address = rng.chance(0.5) ? `founder${rng.int(1, 20_000)}@gmail.com` : `news${rng.int(1, 300)}@vendor${rng.int(1, 300)}.example`;
    strangers.add(address);
    return { address, name: personName() };
  };
  const subjectFor = (topics: readonly string[]) =>
    rng
      .pick(topics)
      .replace('{q}', String(rng.int(1, 4)))
      .replace('{n}', String(rng.int(1, 40)))
      .replace('{year}', String(rng.int(2016, 2026)))
      .replace('{company}', `Company ${rng.int(1, 500)}`)
      .replace('{investor}', `Investor ${rng.int(1, shape.investors)}`)
      .replace('{firm}', 'the firm');
  const bodyText = (): string => {
    const n = rng.int(6, 14);
    const lines: string[] = [];
    for (let k = 0; k < n; k++) lines.push(rng.pick(SENTENCES).replace('{company}', `Company ${rng.int(1, 500)}`).replace('{day}', String(rng.int(1, 28))));
    return `Hi,\n\n${lines.join(' ')}\n\nBest regards`;
  };

  const emails = new TableWriter(
    `INSERT INTO emails (id, dedup_key, rfc822_message_id, thread_id, subject, from_address, from_name, sent_at, internal_date, in_reply_to,
                         references_json, is_matched, body_text, body_html, snippet, size_estimate, created_at, updated_at)`,
    18,
  );
  const threads = new TableWriter('INSERT INTO email_threads (id, subject, first_message_at, last_message_at, message_count)', 5);
  const keys = new TableWriter('INSERT INTO email_thread_keys (key, thread_id)', 2, 'ON CONFLICT(key) DO NOTHING');
  const copies = new TableWriter(
    'INSERT INTO email_mailbox_messages (account_id, gmail_message_id, gmail_thread_id, email_id, label_ids, internal_date, created_at, updated_at)',
    8,
  );
  const participants = new TableWriter('INSERT INTO email_participants (email_id, address, name, role)', 4, 'ON CONFLICT DO NOTHING');
  const links = new TableWriter('INSERT INTO email_investor_links (email_id, investor_id, contact_id, match_kind, confidence, address, created_at)', 7);
  const attachments = new TableWriter(
    'INSERT INTO email_attachments (email_id, part_id, filename, mime_type, size, sha256, state, storage_path, created_at, updated_at)',
    10,
  );

  const out: GeneratedStore = {
    emails: 0,
    threads: 0,
    matched: 0,
    participants: 0,
    links: 0,
    copies: 0,
    threadKeys: 0,
    attachments: 0,
    avgBodyTextBytes: 0,
    avgBodyHtmlBytes: 0,
    strangerAddresses: [],
  };
  let textBytes = 0;
  let htmlBytes = 0;
  const gmailCounter = partners.map(() => 0);
  let emailId = 0;
  let threadId = 0;

  const flush = async () => {
    const tx = await db.transaction('write');
    try {
      // Parents before children: the foreign keys hold at every statement.
      out.threads += await threads.flush(tx);
      out.emails += await emails.flush(tx);
      out.threadKeys += await keys.flush(tx);
      out.copies += await copies.flush(tx);
      out.participants += await participants.flush(tx);
      out.links += await links.flush(tx);
      out.attachments += await attachments.flush(tx);
      await tx.commit();
    } finally {
      tx.close();
    }
    // The driver frees a statement's native memory in a finalizer that runs on a later turn of
    // the event loop; all the work here is promise continuations, so without this turn the
    // statements of every batch pile up (about 10 KB per email, gigabytes at 1,000,000).
    await nextTurn();
  };

  while (emailId < shape.emails) {
    threadId++;
    const r = rng.next();
    const kind = r < 0.62 ? 'investor' : r < 0.68 ? 'coinvest' : r < 0.73 ? 'adviser' : r < 0.88 ? 'internal' : 'outside';
    const inThread = rng.shuffle([...partners]).slice(0, rng.chance(0.35) ? 2 : 1);
    let outside: Person[] = [];
    if (kind === 'investor') outside = outsidersOf(pickInvestor(), rng.int(1, 3));
    else if (kind === 'coinvest') outside = [...outsidersOf(pickInvestor(), 1), ...outsidersOf(pickInvestor(), 1)];
    else if (kind === 'adviser') outside = [unaffiliated.length ? rng.pick(unaffiliated) : stranger()];
    else if (kind === 'outside') outside = [stranger()];
    const n = Math.min(rng.int(3, 5), shape.emails - emailId);
    const subject = subjectFor(kind === 'internal' ? INTERNAL_TOPICS : INVESTOR_TOPICS);
    let at = START + Math.floor(rng.next() * SPAN);
    const first = at;
    const ids: string[] = [];
    const gmailThread = new Map<number, string>();
    let lastText = '';

    for (let k = 0; k < n; k++) {
      emailId++;
      if (k > 0) at += rng.int(20, 48 * 60) * 60_000;
      const partnersOnly = kind === 'internal' || (outside.length > 0 && k > 0 && rng.chance(0.15));
      let draft: Draft;
      if (partnersOnly) {
        const sender = inThread[0]!;
        const others = partners.filter((p) => p !== sender);
        const to = inThread.length > 1 ? [inThread[1]!] : [rng.pick(others)];
        draft = { from: sender, to, cc: [] };
      } else if (k % 2 === 0) {
        const sender = outside[(k / 2) % outside.length]!;
        draft = { from: sender, to: [inThread[0]!], cc: [...inThread.slice(1), ...outside.filter((p) => p !== sender)] };
      } else {
        draft = { from: inThread[0]!, to: outside.slice(0, 2), cc: [...inThread.slice(1), ...outside.slice(2)] };
      }
      const senderDomain = draft.from.address.slice(draft.from.address.indexOf('@') + 1);
      const messageId = `t${threadId}.m${k}.${rng.hex(8)}@${senderDomain}`;
      const roles: [Role, Person][] = [['from', draft.from], ...draft.to.map((p): [Role, Person] => ['to', p]), ...draft.cc.map((p): [Role, Person] => ['cc', p])];
      const found = matcher.match(roles.map(([, p]) => p));
      const matched = found.length > 0;
      const subj = k === 0 ? subject : `Re: ${subject}`;
      let text: string | null = null;
      let html: string | null = null;
      if (matched) {
        const own = bodyText();
        text = k > 0 && lastText ? `${own}\n\nOn ${iso(at - 3_600_000).slice(0, 10)}, someone wrote:\n> ${lastText.slice(0, 600).replace(/\n/g, '\n> ')}` : own;
        html = HTML_WRAP(`<p>${own.replace(/\n\n/g, '</p><p>')}</p>${k > 0 && lastText ? `<blockquote>${lastText.slice(0, 600)}</blockquote>` : ''}`);
        lastText = own;
        textBytes += text.length;
        htmlBytes += html.length;
        out.matched++;
      }
      emails.add(
        emailId,
        `mid:${messageId.toLowerCase()}`,
        messageId,
        threadId,
        subj,
        draft.from.address,
        draft.from.name,
        iso(at),
        iso(at),
        ids.length ? ids[ids.length - 1] : null,
        JSON.stringify(ids.slice(-4)),
        matched ? 1 : 0,
        text,
        html,
        text ? text.slice(0, 120) : null,
        2_000 + (text?.length ?? 800) + (html?.length ?? 1_200),
        now,
        now,
      );
      ids.push(messageId);
      keys.add(`mid:${messageId.toLowerCase()}`, threadId);
      const seenRole = new Set<string>();
      for (const [role, p] of roles) {
        const key = `${role}|${p.address}`;
        if (seenRole.has(key)) continue;
        seenRole.add(key);
        participants.add(emailId, p.address, p.name, role);
      }
      for (const l of found) links.add(emailId, l.investor_id, l.contact_id, l.match_kind, l.confidence, l.address, now);
      if (matched && rng.chance(0.12)) {
        const sha = rng.hex(64);
        attachments.add(emailId, '2', `document-${emailId}.pdf`, 'application/pdf', rng.int(20_000, 2_000_000), sha, 'saved', `attachments/${sha.slice(0, 2)}/${sha}`, now, now);
      }
      // Every partner on the message holds a copy in their mailbox.
      const holders = new Set<number>();
      for (const [, p] of roles) {
        const idx = partners.indexOf(p);
        if (idx >= 0) holders.add(idx);
      }
      for (const idx of holders) {
        const gmailId = (0x18a0000000000 + ++gmailCounter[idx]! * 13).toString(16).padStart(16, '0');
        if (!gmailThread.has(idx)) {
          gmailThread.set(idx, gmailId);
          keys.add(`gm:${idx + 1}:${gmailId}`, threadId);
        }
        const labels = partners[idx] === draft.from ? ['SENT'] : rng.chance(0.3) ? ['INBOX', 'UNREAD'] : ['INBOX'];
        copies.add(idx + 1, gmailId, gmailThread.get(idx)!, emailId, JSON.stringify(labels), iso(at), now, now);
      }
    }
    threads.add(threadId, subject, iso(first), iso(at), n);
    if (threadId % THREADS_PER_BATCH === 0) await flush();
  }
  await flush();
  // Rows went in directly, not through the change hook: derive the relationship thread
  // activity the way migration 0004 does for a store that predates it.
  for (const [table, column] of [
    ['email_investor_threads', 'investor_id'],
    ['email_contact_threads', 'contact_id'],
  ] as const) {
    await db.execute(`INSERT INTO ${table} (${column}, thread_id, last_message_at)
      SELECT DISTINCT l.${column}, e.thread_id, coalesce(t.last_message_at, '')
        FROM email_investor_links l JOIN emails e ON e.id = l.email_id AND e.is_matched = 1 JOIN email_threads t ON t.id = e.thread_id
       WHERE l.${column} IS NOT NULL
      ON CONFLICT DO NOTHING`);
  }
  out.avgBodyTextBytes = out.matched ? textBytes / out.matched : 0;
  out.avgBodyHtmlBytes = out.matched ? htmlBytes / out.matched : 0;
  out.strangerAddresses = [...strangers].sort();
  return out;
}
