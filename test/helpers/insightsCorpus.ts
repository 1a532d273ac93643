// A generated corpus for the insights tests, written through the service's own writers
// (storeMessages for syncs, rematchStored for directory and exclusion changes), and the truth
// about it computed independently: a direct scan of emails, participants and copies, with
// the directory applied by this file's own simple rules (exact addresses, domains and their
// subdomains, exclusions), never through links or the activity tables.
import { expect } from 'vitest';
import { FakeClock } from './clock.js';
import { ensureTeam } from '../../lib/insights/team.js';
import { all, one, run } from '../../lib/db/client.js';
import { storeMessages, participantsOf } from '../../lib/capture/store.js';
import { Matcher, loadDirectory } from '../../lib/matching/matcher.js';
import { rematchStored } from '../../lib/matching/rematch.js';
import { openRun } from '../../lib/capture/runs.js';
import type { ParsedMessage } from '../../lib/mail/types.js';
import { createRng, type Rng } from '../../tools/gmail-emulator/index.js';
import { makeDeps, type TestDeps } from './deps.js';

export const FIRM = 'fund.example';
export const NOW = Date.parse('2026-06-01T12:00:00Z');
const DAY = 86_400_000;

export const PARTNERS = ['alice', 'bob', 'carol'].map((n) => `${n}@${FIRM}`);

export async function insightDeps(): Promise<TestDeps> {
  return makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: FIRM }, clock: new FakeClock(NOW) });
}

/** Mailboxes for the partners, and users for the first two (carol has no user). */
export async function seedTeam(deps: TestDeps): Promise<Map<string, number>> {
  const now = new Date(NOW).toISOString();
  const accounts = new Map<string, number>();
  for (const p of PARTNERS) {
    const r = await one<{ id: number }>(
      deps.db,
      "INSERT INTO email_accounts (email, auth_method, created_at, updated_at) VALUES (?, 'dwd', ?, ?) RETURNING id",
      [p, now, now],
    );
    accounts.set(p, r!.id);
  }
  for (const p of PARTNERS.slice(0, 2)) {
    await run(deps.db, "INSERT INTO users (username, email, role, password_hash, created_at, updated_at) VALUES (?, ?, 'member', 'x', ?, ?)", [p.split('@')[0]!, p, now, now]);
  }
  // As at start-up: the activity knows the team before any mail arrives, so what the tests
  // read afterwards was kept incrementally, not rebuilt by a first read.
  expect(await ensureTeam(deps.db, [FIRM])).toBe('rebuilt');
  return accounts;
}

export interface Msg {
  from: string;
  to: string[];
  cc?: string[];
  sentAt: number;
  messageId: string;
  inReplyTo?: string;
}

let gmailSeq = 0;

function parsed(m: Msg, threadId: string): ParsedMessage {
  const addr = (a: string) => ({ address: a, name: null });
  return {
    gmailId: `g${++gmailSeq}`,
    gmailThreadId: threadId,
    labelIds: ['INBOX'],
    internalDate: m.sentAt,
    messageId: m.messageId,
    dedupKey: `mid:${m.messageId.toLowerCase()}`,
    inReplyTo: m.inReplyTo ? [m.inReplyTo.toLowerCase()] : [],
    references: m.inReplyTo ? [m.inReplyTo.toLowerCase()] : [],
    subject: 'Re: fund',
    from: addr(m.from),
    to: m.to.map(addr),
    cc: (m.cc ?? []).map(addr),
    bcc: [],
    replyTo: [],
    sentAt: new Date(m.sentAt).toISOString(),
    bodyText: 'hello',
    bodyHtml: null,
    snippet: 'hello',
    pendingBodyParts: [],
    attachments: [],
    sizeEstimate: 100,
    participantCounts: null,
  };
}

/** Each message as a sync would store it: one copy per partner mailbox that sent or received it. */
export async function syncMessages(deps: TestDeps, accounts: Map<string, number>, msgs: Msg[]): Promise<void> {
  const matcher = new Matcher(await loadDirectory(deps.db, [FIRM]));
  const now = new Date(deps.clock.now()).toISOString();
  for (const m of msgs) {
    const holders = [m.from, ...m.to, ...(m.cc ?? [])].filter((a) => accounts.has(a));
    for (const h of new Set(holders)) {
      const p = parsed(m, `t-${m.messageId}`);
      const tx = await deps.db.transaction('write');
      try {
        await storeMessages(tx, { accountId: accounts.get(h)!, now, maxAttachmentBytes: 1 << 20 }, [{ parsed: p, links: matcher.match(participantsOf(p)) }]);
        await tx.commit();
      } finally {
        tx.close();
      }
    }
  }
}

export async function rematchAll(deps: TestDeps): Promise<void> {
  const runId = await openRun(deps.db, null, 'rematch', deps.clock.now());
  await rematchStored(deps, runId);
}

export interface InvestorSpec {
  id: number;
  domain: string;
  contacts: string[];
}

/** Conversations between the partners and the investors' people, over the two years before NOW. */
export function conversations(rng: Rng, investors: InvestorSpec[], count: number, prefix: string): Msg[] {
  const out: Msg[] = [];
  for (let t = 0; t < count; t++) {
    const inv = rng.pick(investors);
    const people = [...inv.contacts, `analyst${rng.int(1, 3)}@${inv.domain}`];
    const partner = rng.pick(PARTNERS);
    const other = rng.pick(PARTNERS);
    let at = NOW - rng.int(0, 730) * DAY - rng.int(0, 86_399) * 1000;
    const shape = rng.int(0, 9);
    const n = rng.int(1, 5);
    let prev: string | undefined;
    for (let k = 0; k < n; k++) {
      const them = rng.pick(people);
      const messageId = `${prefix}-${t}-${k}@mail.example`;
      let m: Msg;
      if (shape === 0) m = { from: partner, to: [them], sentAt: at, messageId }; // one-way out
      else if (shape === 1) m = { from: them, to: [partner], sentAt: at, messageId }; // one-way in
      else if (shape === 2 && k === 0) m = { from: `agent@placement.example`, to: [them, partner], sentAt: at, messageId }; // third party
      else if ((k + shape) % 2 === 0) m = { from: them, to: [partner], cc: rng.chance(0.3) ? [other] : [], sentAt: at, messageId };
      else m = { from: rng.chance(0.8) ? partner : other, to: [them], sentAt: at, messageId };
      if (prev) m.inReplyTo = prev;
      prev = messageId;
      out.push(m);
      at += rng.int(1, 72) * 3_600_000;
    }
  }
  return out;
}

export async function makeInvestors(deps: TestDeps, rng: Rng, n: number): Promise<InvestorSpec[]> {
  const now = new Date(NOW).toISOString();
  const out: InvestorSpec[] = [];
  for (let i = 1; i <= n; i++) {
    const domain = `inv${i}.example`;
    const inv = await one<{ id: number }>(deps.db, 'INSERT INTO investors (name, created_at, updated_at) VALUES (?, ?, ?) RETURNING id', [`Investor ${i}`, now, now]);
    await run(deps.db, 'INSERT INTO investor_domains (investor_id, domain) VALUES (?, ?)', [inv!.id, domain]);
    const contacts: string[] = [];
    for (let c = 1; c <= rng.int(1, 3); c++) {
      const address = `person${c}@${c === 2 ? 'mail.' : ''}${domain}`;
      const r = await one<{ id: number }>(deps.db, 'INSERT INTO contacts (investor_id, name, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id', [inv!.id, address, now, now]);
      await run(deps.db, 'INSERT INTO contact_emails (contact_id, email) VALUES (?, ?)', [r!.id, address]);
      contacts.push(address);
    }
    out.push({ id: inv!.id, domain, contacts });
  }
  return out;
}

export { createRng };

// ---------------------------------------------------------------------------------------
// The truth, by a direct scan

export interface Truth {
  first_at: string | null;
  last_at: string | null;
  last_inbound_at: string | null;
  last_outbound_at: string | null;
  inbound_90d: number;
  outbound_90d: number;
  inbound_365d: number;
  outbound_365d: number;
  threads: number;
  partners: Record<string, { inbound: number; outbound: number; last_at: string | null }>;
  last_two_way_at: string | null;
  exchanges_year_before: number;
}

/** Truth for every investor, from emails, participants, copies and the directory's own rows. */
export async function truthByInvestor(deps: TestDeps): Promise<Map<number, Truth>> {
  const db = deps.db;
  const exclAddr = new Set((await all<{ address: string }>(db, 'SELECT address FROM exclusions WHERE address IS NOT NULL')).map((r) => r.address));
  const exclDom = (await all<{ domain: string }>(db, 'SELECT domain FROM exclusions WHERE domain IS NOT NULL')).map((r) => r.domain);
  const under = (d: string, parent: string) => d === parent || d.endsWith(`.${parent}`);
  const excluded = (a: string) => exclAddr.has(a) || exclDom.some((d) => under(a.split('@')[1]!, d));
  const domains = await all<{ investor_id: number; domain: string }>(db, 'SELECT investor_id, domain FROM investor_domains');
  const exact = await all<{ investor_id: number; email: string }>(
    db,
    `SELECT c.investor_id, ce.email FROM contact_emails ce JOIN contacts c ON c.id = ce.contact_id WHERE c.investor_id IS NOT NULL
     UNION SELECT investor_id, email FROM investor_emails`,
  );
  const investorsOf = (a: string): number[] => {
    if (excluded(a) || a.endsWith(`@${FIRM}`)) return [];
    const ids = new Set<number>();
    for (const e of exact) if (e.email === a) ids.add(e.investor_id);
    for (const d of domains) if (under(a.split('@')[1]!, d.domain)) ids.add(d.investor_id);
    return [...ids];
  };

  const emails = await all<{ id: number; sent_at: string; thread_id: number; from_address: string }>(db, 'SELECT id, sent_at, thread_id, from_address FROM emails ORDER BY sent_at, id');
  const parts = await all<{ email_id: number; address: string }>(db, 'SELECT email_id, address FROM email_participants');
  const holders = await all<{ email_id: number; email: string }>(db, 'SELECT DISTINCT m.email_id, a.email FROM email_mailbox_messages m JOIN email_accounts a ON a.id = m.account_id');
  const partsOf = new Map<number, string[]>();
  for (const p of parts) partsOf.set(p.email_id, [...(partsOf.get(p.email_id) ?? []), p.address]);
  const holdersOf = new Map<number, string[]>();
  for (const h of holders) holdersOf.set(h.email_id, [...(holdersOf.get(h.email_id) ?? []), h.email]);

  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const d90 = day(NOW - 90 * DAY);
  const d365 = day(NOW - 365 * DAY);
  const out = new Map<number, Truth>();
  const seqs = new Map<string, { dir: 'in' | 'out'; at: string }[]>();
  const threadSets = new Map<number, Set<number>>();
  const get = (id: number): Truth => {
    let t = out.get(id);
    if (!t) {
      t = { first_at: null, last_at: null, last_inbound_at: null, last_outbound_at: null, inbound_90d: 0, outbound_90d: 0, inbound_365d: 0, outbound_365d: 0, threads: 0, partners: {}, last_two_way_at: null, exchanges_year_before: 0 };
      out.set(id, t);
    }
    return t;
  };
  for (const e of emails) {
    const involved = new Map<number, Set<string>>();
    for (const a of partsOf.get(e.id) ?? []) for (const id of investorsOf(a)) involved.set(id, (involved.get(id) ?? new Set()).add(a));
    for (const [id, people] of involved) {
      const t = get(id);
      const dir = people.has(e.from_address) ? 'in' : e.from_address.endsWith(`@${FIRM}`) ? 'out' : 'other';
      t.first_at ??= e.sent_at;
      t.last_at = e.sent_at;
      (threadSets.get(id) ?? threadSets.set(id, new Set()).get(id)!).add(e.thread_id);
      if (dir === 'other') continue;
      const dd = e.sent_at.slice(0, 10);
      const p = (a: string) => (t.partners[a] ??= { inbound: 0, outbound: 0, last_at: null });
      if (dir === 'in') {
        t.last_inbound_at = e.sent_at;
        if (dd > d90) t.inbound_90d++;
        if (dd > d365) t.inbound_365d++;
        for (const h of holdersOf.get(e.id) ?? []) {
          p(h).inbound++;
          p(h).last_at = e.sent_at;
        }
      } else {
        t.last_outbound_at = e.sent_at;
        if (dd > d90) t.outbound_90d++;
        if (dd > d365) t.outbound_365d++;
        p(e.from_address).outbound++;
        p(e.from_address).last_at = e.sent_at;
      }
      const k = `${id}|${e.thread_id}`;
      seqs.set(k, [...(seqs.get(k) ?? []), { dir, at: e.sent_at }]);
    }
  }
  for (const [id, s] of threadSets) get(id).threads = s.size;
  const exchanges = new Map<number, string[]>();
  for (const [k, seq] of seqs) {
    const id = Number(k.split('|')[0]);
    for (let i = 1; i < seq.length; i++) if (seq[i]!.dir !== seq[i - 1]!.dir) exchanges.set(id, [...(exchanges.get(id) ?? []), seq[i]!.at]);
  }
  for (const [id, ats] of exchanges) {
    const t = get(id);
    ats.sort();
    t.last_two_way_at = ats[ats.length - 1]!;
    const since = new Date(Date.parse(t.last_two_way_at) - 365 * DAY).toISOString();
    t.exchanges_year_before = ats.filter((a) => a >= since).length;
  }
  return out;
}

export function coldSet(truth: Map<number, Truth>, days: number): number[] {
  const cutoff = new Date(NOW - days * DAY).toISOString();
  return [...truth.entries()]
    .filter(([, t]) => t.last_two_way_at !== null && t.last_two_way_at < cutoff && t.exchanges_year_before >= 3)
    .sort(([ia, a], [ib, b]) => (a.last_two_way_at! < b.last_two_way_at! ? 1 : a.last_two_way_at! > b.last_two_way_at! ? -1 : ia - ib))
    .map(([id]) => id);
}

/** Every derived row, zero-count rows left out (a delta may leave them; they mean nothing). */
export async function snapshotActivity(deps: TestDeps): Promise<Record<string, unknown[]>> {
  const q = async (sql: string) => (await all(deps.db, sql)).map((r) => JSON.stringify(r));
  return {
    contrib: await q('SELECT * FROM insight_contrib ORDER BY email_id, entity, entity_id'),
    partners: await q('SELECT * FROM insight_partner_mail ORDER BY email_id, entity, entity_id, partner'),
    daily: await q('SELECT * FROM insight_daily WHERE inbound <> 0 OR outbound <> 0 ORDER BY entity, entity_id, partner, day'),
    totals: await q('SELECT * FROM insight_totals WHERE inbound <> 0 OR outbound <> 0 ORDER BY entity, entity_id, partner'),
    people: await q('SELECT * FROM insight_people WHERE n <> 0 ORDER BY entity, entity_id, address'),
    threads: await q('SELECT * FROM insight_threads WHERE n <> 0 ORDER BY entity, entity_id, thread_id'),
    replies: await q('SELECT * FROM insight_replies ORDER BY entity, entity_id, thread_id, email_id, partner'),
    exchanges: await q('SELECT * FROM insight_exchanges ORDER BY entity, entity_id, thread_id, email_id'),
    summary: await q('SELECT * FROM insight_summary ORDER BY entity, entity_id'),
  };
}
