// Relationship activity, kept in step with the mail. Registered as an email updater in
// lib/capture/changes.ts, it runs inside every mail writer's transaction with the ids whose
// visible state changed, takes back what those emails contributed before and adds what they
// contribute now. Only metadata is read (sender, sent_at, thread, links, which mailboxes hold
// a copy), so mail stored metadata-only counts like any other.
//
// Per email and entity (an investor or a contact linked to it) the direction is:
//   in    — the sender is one of the entity's addresses on that email (a link address);
//   out   — the sender is a team address (workspace domain or an enrolled mailbox);
//   other — anyone else wrote it (a third party with the entity in copy).
// Links never hold excluded or internal addresses, so exclusions reach the activity through
// the rematch that removes their links.
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Db, Executor } from '../db/client.js';
import { all, run, writeTx } from '../db/client.js';
import { normalizeAddress } from '../mail/address.js';
import { loadTeam, isTeamAddress, type Team } from './team.js';

export type Entity = 'investor' | 'contact';
type Direction = 'in' | 'out' | 'other';

const CHUNK = 500;
const HOUR_MS = 3_600_000;

const marks = (n: number): string => Array.from({ length: n }, () => '?').join(',');

interface ContribRow {
  email_id: number;
  entity: Entity;
  entity_id: number;
  direction: Direction;
  sent_at: string;
  day: string;
  thread_id: number | null;
  sender: string | null;
  people: string;
}

interface PartnerRow {
  email_id: number;
  entity: Entity;
  entity_id: number;
  partner: string;
  direction: 'in' | 'out';
  sent_at: string;
  day: string;
}

const entityKey = (entity: string, id: number): string => `${entity}|${id}`;

/** Sums of +1/−1 per aggregate row, written as one upsert per table. */
class Deltas {
  readonly daily = new Map<string, [Entity, number, string, string, number, number]>();
  readonly totals = new Map<string, [Entity, number, string, number, number]>();
  readonly people = new Map<string, [Entity, number, string, number]>();
  readonly threads = new Map<string, [Entity, number, number, number]>();
  readonly entities = new Map<string, [Entity, number]>();
  readonly threadIds = new Set<number>();

  contrib(c: ContribRow, sign: 1 | -1): void {
    this.entities.set(entityKey(c.entity, c.entity_id), [c.entity, c.entity_id]);
    if (c.thread_id !== null) {
      this.threadIds.add(c.thread_id);
      bump(this.threads, `${c.entity}|${c.entity_id}|${c.thread_id}`, [c.entity, c.entity_id, c.thread_id, 0], 3, sign);
    }
    for (const a of JSON.parse(c.people) as string[]) bump(this.people, `${c.entity}|${c.entity_id}|${a}`, [c.entity, c.entity_id, a, 0], 3, sign);
    if (c.direction === 'other') return;
    this.count(c.entity, c.entity_id, '', c.day, c.direction, sign);
  }

  partner(p: PartnerRow, sign: 1 | -1): void {
    this.count(p.entity, p.entity_id, p.partner, p.day, p.direction, sign);
  }

  private count(entity: Entity, id: number, partner: string, day: string, dir: 'in' | 'out', sign: 1 | -1): void {
    const col = dir === 'in' ? 4 : 5;
    bump(this.daily, `${entity}|${id}|${partner}|${day}`, [entity, id, partner, day, 0, 0], col, sign);
    bump(this.totals, `${entity}|${id}|${partner}`, [entity, id, partner, 0, 0], col - 1, sign);
  }
}

function bump<T extends unknown[]>(map: Map<string, T>, key: string, init: T, col: number, by: number): void {
  let row = map.get(key);
  if (!row) {
    row = init;
    map.set(key, row);
  }
  (row[col] as number) += by;
}

async function upsert(tx: Executor, head: string, conflict: string, rows: unknown[][]): Promise<void> {
  if (!rows.length) return;
  const width = rows[0]!.length;
  const one = `(${marks(width)})`;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    await run(tx, `${head} VALUES ${chunk.map(() => one).join(',')} ${conflict}`, chunk.flat() as never[]);
  }
}

/** The email updater: bring the activity of these emails in line with their current rows. */
export async function updateActivity(tx: Executor, emailIds: number[]): Promise<void> {
  const team = await loadTeam(tx);
  // Emails left dirty by a cascade (see insight_dirty) ride along with the first writer after it.
  const dirty = (await all<{ email_id: number }>(tx, 'SELECT email_id FROM insight_dirty LIMIT ?', [DIRTY_BATCH])).map((r) => r.email_id);
  const ids = dirty.length ? [...new Set([...emailIds, ...dirty])] : emailIds;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    await updateChunk(tx, chunk, team);
    // Links this very writer removed marked their emails dirty; they are settled now.
    await run(tx, `DELETE FROM insight_dirty WHERE email_id IN (${marks(chunk.length)})`, chunk);
  }
}

const DIRTY_BATCH = 2_000;

/** Settle every dirty email (an insights read calls this first). Cheap when there are none. */
export async function settleDirty(db: Db): Promise<number> {
  let n = 0;
  while ((await all(db, 'SELECT 1 FROM insight_dirty LIMIT 1')).length) {
    n += await writeTx(db, async (tx) => {
      const ids = (await all<{ email_id: number }>(tx, 'SELECT email_id FROM insight_dirty LIMIT ?', [DIRTY_BATCH])).map((r) => r.email_id);
      await updateActivity(tx, ids);
      return ids.length;
    });
    // As in recomputeAll: a turn per batch answers requests and frees the driver's statements.
    await yieldTurn();
  }
  return n;
}

async function updateChunk(tx: Executor, ids: number[], team: Team): Promise<void> {
  const m = marks(ids.length);
  const d = new Deltas();

  const oldContrib = await all<ContribRow>(tx, `SELECT * FROM insight_contrib WHERE email_id IN (${m})`, ids);
  const oldPartners = await all<PartnerRow>(tx, `SELECT * FROM insight_partner_mail WHERE email_id IN (${m})`, ids);
  for (const c of oldContrib) d.contrib(c, -1);
  for (const p of oldPartners) d.partner(p, -1);
  if (oldContrib.length) await run(tx, `DELETE FROM insight_contrib WHERE email_id IN (${m})`, ids);
  if (oldPartners.length) await run(tx, `DELETE FROM insight_partner_mail WHERE email_id IN (${m})`, ids);

  const { contrib, partners } = await currentContributions(tx, ids, team);
  for (const c of contrib) d.contrib(c, 1);
  for (const p of partners) d.partner(p, 1);
  await upsert(
    tx,
    'INSERT INTO insight_contrib (email_id, entity, entity_id, direction, sent_at, day, thread_id, sender, people)',
    '',
    contrib.map((c) => [c.email_id, c.entity, c.entity_id, c.direction, c.sent_at, c.day, c.thread_id, c.sender, c.people]),
  );
  await upsert(
    tx,
    'INSERT INTO insight_partner_mail (email_id, entity, entity_id, partner, direction, sent_at, day)',
    '',
    partners.map((p) => [p.email_id, p.entity, p.entity_id, p.partner, p.direction, p.sent_at, p.day]),
  );

  const nonZero = <T extends unknown[]>(rows: Iterable<T>, cols: number[]) => [...rows].filter((r) => cols.some((c) => r[c] !== 0));
  await upsert(
    tx,
    'INSERT INTO insight_daily (entity, entity_id, partner, day, inbound, outbound)',
    'ON CONFLICT(entity, entity_id, partner, day) DO UPDATE SET inbound = inbound + excluded.inbound, outbound = outbound + excluded.outbound',
    nonZero(d.daily.values(), [4, 5]),
  );
  await upsert(
    tx,
    'INSERT INTO insight_totals (entity, entity_id, partner, inbound, outbound)',
    'ON CONFLICT(entity, entity_id, partner) DO UPDATE SET inbound = inbound + excluded.inbound, outbound = outbound + excluded.outbound',
    [...d.totals.values()],
  );
  await upsert(tx, 'INSERT INTO insight_people (entity, entity_id, address, n)', 'ON CONFLICT(entity, entity_id, address) DO UPDATE SET n = n + excluded.n', nonZero(d.people.values(), [3]));
  await upsert(tx, 'INSERT INTO insight_threads (entity, entity_id, thread_id, n)', 'ON CONFLICT(entity, entity_id, thread_id) DO UPDATE SET n = n + excluded.n', nonZero(d.threads.values(), [3]));

  // The last message each way cannot be taken back by a delta: read it again from the index.
  await refreshLast(tx, [...d.totals.values()].map(([entity, id, partner]) => [entity, id, partner]));

  const touched = await recomputeThreads(tx, [...d.threadIds]);
  for (const [k, v] of d.entities) touched.set(k, v);
  await refreshSummary(tx, [...touched.values()]);
}

/** What each email contributes now, from its current rows; nothing for an email that is gone. */
async function currentContributions(tx: Executor, ids: number[], team: Team): Promise<{ contrib: ContribRow[]; partners: PartnerRow[] }> {
  const m = marks(ids.length);
  const emails = await all<{ id: number; sent_at: string; thread_id: number | null; from_address: string | null }>(
    tx,
    `SELECT id, sent_at, thread_id, from_address FROM emails WHERE id IN (${m})`,
    ids,
  );
  const links = await all<{ email_id: number; investor_id: number | null; contact_id: number | null; address: string }>(
    tx,
    `SELECT email_id, investor_id, contact_id, address FROM email_investor_links WHERE email_id IN (${m})`,
    ids,
  );
  const holders = await all<{ email_id: number; email: string }>(
    tx,
    `SELECT DISTINCT m.email_id, a.email FROM email_mailbox_messages m JOIN email_accounts a ON a.id = m.account_id WHERE m.email_id IN (${m})`,
    ids,
  );
  const linksOf = new Map<number, typeof links>();
  for (const l of links) {
    const list = linksOf.get(l.email_id) ?? [];
    list.push(l);
    linksOf.set(l.email_id, list);
  }
  const holdersOf = new Map<number, Set<string>>();
  for (const h of holders) {
    const a = normalizeAddress(h.email);
    if (!a) continue;
    const set = holdersOf.get(h.email_id) ?? new Set<string>();
    set.add(a);
    holdersOf.set(h.email_id, set);
  }

  const contrib: ContribRow[] = [];
  const partners: PartnerRow[] = [];
  for (const e of emails) {
    const ls = linksOf.get(e.id);
    if (!ls) continue;
    const people = new Map<string, { entity: Entity; id: number; addresses: Set<string> }>();
    const add = (entity: Entity, id: number, address: string) => {
      const k = entityKey(entity, id);
      let p = people.get(k);
      if (!p) {
        p = { entity, id, addresses: new Set() };
        people.set(k, p);
      }
      const a = normalizeAddress(address);
      if (a) p.addresses.add(a);
    };
    for (const l of ls) {
      if (l.investor_id !== null) add('investor', l.investor_id, l.address);
      if (l.contact_id !== null) add('contact', l.contact_id, l.address);
    }
    const from = normalizeAddress(e.from_address);
    const fromTeam = from !== null && isTeamAddress(team, from);
    const day = e.sent_at.slice(0, 10);
    for (const p of people.values()) {
      const direction: Direction = from !== null && p.addresses.has(from) ? 'in' : fromTeam ? 'out' : 'other';
      contrib.push({
        email_id: e.id,
        entity: p.entity,
        entity_id: p.id,
        direction,
        sent_at: e.sent_at,
        day,
        thread_id: e.thread_id,
        sender: direction === 'out' ? from : null,
        people: JSON.stringify([...p.addresses].sort()),
      });
      const involved = direction === 'out' ? [from!] : direction === 'in' ? [...(holdersOf.get(e.id) ?? [])] : [];
      for (const partner of involved) {
        partners.push({ email_id: e.id, entity: p.entity, entity_id: p.id, partner, direction: direction as 'in' | 'out', sent_at: e.sent_at, day });
      }
    }
  }
  return { contrib, partners };
}

const LAST_SQL = (dir: 'in' | 'out') => `CASE WHEN t.partner = ''
    THEN (SELECT max(sent_at) FROM insight_contrib c WHERE c.entity = t.entity AND c.entity_id = t.entity_id AND c.direction = '${dir}')
    ELSE (SELECT max(sent_at) FROM insight_partner_mail p WHERE p.entity = t.entity AND p.entity_id = t.entity_id AND p.partner = t.partner AND p.direction = '${dir}') END`;

/** last_in_at / last_out_at of these (entity, id, partner) rows, each an index seek. */
async function refreshLast(tx: Executor, keys: [Entity, number, string][]): Promise<void> {
  for (let i = 0; i < keys.length; i += CHUNK) {
    const chunk = keys.slice(i, i + CHUNK);
    await run(
      tx,
      `WITH k(entity, entity_id, partner) AS (VALUES ${chunk.map(() => '(?, ?, ?)').join(',')})
       UPDATE insight_totals AS t SET last_in_at = ${LAST_SQL('in')}, last_out_at = ${LAST_SQL('out')}
        WHERE (t.entity, t.entity_id, t.partner) IN (SELECT entity, entity_id, partner FROM k)`,
      chunk.flat(),
    );
  }
}

interface ThreadMessage {
  entity: Entity;
  entity_id: number;
  thread_id: number;
  email_id: number;
  direction: 'in' | 'out';
  sent_at: string;
  sender: string | null;
}

/**
 * Reply times and two-way exchanges of whole threads, recomputed from the thread's messages.
 * Returns the entities whose exchanges may have changed.
 */
async function recomputeThreads(tx: Executor, threadIds: number[]): Promise<Map<string, [Entity, number]>> {
  const entities = new Map<string, [Entity, number]>();
  for (let i = 0; i < threadIds.length; i += CHUNK) {
    const ids = threadIds.slice(i, i + CHUNK);
    const m = marks(ids.length);
    for (const r of await all<{ entity: Entity; entity_id: number }>(tx, `SELECT DISTINCT entity, entity_id FROM insight_exchanges WHERE thread_id IN (${m})`, ids)) {
      entities.set(entityKey(r.entity, r.entity_id), [r.entity, r.entity_id]);
    }
    await run(tx, `DELETE FROM insight_replies WHERE thread_id IN (${m})`, ids);
    await run(tx, `DELETE FROM insight_exchanges WHERE thread_id IN (${m})`, ids);
    const rows = await all<ThreadMessage>(
      tx,
      `SELECT entity, entity_id, thread_id, email_id, direction, sent_at, sender FROM insight_contrib
        WHERE thread_id IN (${m}) AND direction <> 'other' ORDER BY entity, entity_id, thread_id, sent_at, email_id`,
      ids,
    );
    const replies: unknown[][] = [];
    const exchanges: unknown[][] = [];
    for (let s = 0; s < rows.length; ) {
      let e = s;
      const first = rows[s]!;
      while (e < rows.length && rows[e]!.entity === first.entity && rows[e]!.entity_id === first.entity_id && rows[e]!.thread_id === first.thread_id) e++;
      const seq = rows.slice(s, e);
      s = e;
      entities.set(entityKey(first.entity, first.entity_id), [first.entity, first.entity_id]);
      for (const r of threadReplies(seq)) replies.push([first.entity, first.entity_id, first.thread_id, r.email_id, r.partner, r.hours]);
      for (const x of threadExchanges(seq)) exchanges.push([first.entity, first.entity_id, first.thread_id, x.email_id, x.at, x.partner]);
    }
    await upsert(tx, 'INSERT INTO insight_replies (entity, entity_id, thread_id, email_id, partner, hours)', '', replies);
    await upsert(tx, 'INSERT INTO insight_exchanges (entity, entity_id, thread_id, email_id, at, partner)', '', exchanges);
  }
  return entities;
}

/** For each inbound message, the hours to each partner's next outbound message after it. */
export function threadReplies(seq: readonly Pick<ThreadMessage, 'email_id' | 'direction' | 'sent_at' | 'sender'>[]): { email_id: number; partner: string; hours: number }[] {
  const out: { email_id: number; partner: string; hours: number }[] = [];
  const next = new Map<string, number>();
  for (let k = seq.length - 1; k >= 0; k--) {
    const msg = seq[k]!;
    const t = Date.parse(msg.sent_at);
    if (msg.direction === 'out') {
      if (msg.sender) next.set(msg.sender, t);
    } else {
      for (const [partner, at] of next) out.push({ email_id: msg.email_id, partner, hours: (at - t) / HOUR_MS });
    }
  }
  return out;
}

/** Messages that answer the other side: the direction flips from the message before. */
export function threadExchanges(seq: readonly Pick<ThreadMessage, 'email_id' | 'direction' | 'sent_at' | 'sender'>[]): { email_id: number; at: string; partner: string | null }[] {
  const out: { email_id: number; at: string; partner: string | null }[] = [];
  let prev: 'in' | 'out' | null = null;
  let lastSender: string | null = null;
  for (const msg of seq) {
    if (prev !== null && msg.direction !== prev) out.push({ email_id: msg.email_id, at: msg.sent_at, partner: msg.direction === 'out' ? msg.sender : lastSender });
    if (msg.direction === 'out') lastSender = msg.sender;
    prev = msg.direction;
  }
  return out;
}

/** Last two-way exchange of these entities and how many exchanges the year up to it had. */
async function refreshSummary(tx: Executor, entities: [Entity, number][]): Promise<void> {
  for (let i = 0; i < entities.length; i += CHUNK) {
    const chunk = entities.slice(i, i + CHUNK);
    const values = `VALUES ${chunk.map(() => '(?, ?)').join(',')}`;
    await run(tx, `DELETE FROM insight_summary WHERE (entity, entity_id) IN (${values})`, chunk.flat());
    await run(
      tx,
      `WITH e(entity, entity_id) AS (${values}),
            l AS (SELECT e.entity, e.entity_id, (SELECT max(at) FROM insight_exchanges x WHERE x.entity = e.entity AND x.entity_id = e.entity_id) AS at FROM e)
       INSERT INTO insight_summary (entity, entity_id, last_two_way_at, exchanges_year_before)
       SELECT l.entity, l.entity_id, l.at,
              (SELECT count(*) FROM insight_exchanges x WHERE x.entity = l.entity AND x.entity_id = l.entity_id AND x.at >= strftime('%Y-%m-%dT%H:%M:%fZ', l.at, '-365 days'))
         FROM l WHERE l.at IS NOT NULL`,
      chunk.flat(),
    );
  }
}

const DERIVED_TABLES = [
  'insight_contrib',
  'insight_partner_mail',
  'insight_daily',
  'insight_totals',
  'insight_people',
  'insight_threads',
  'insight_replies',
  'insight_exchanges',
  'insight_summary',
  'insight_dirty',
] as const;

/** Clears the derived tables (the team record stays). Run inside the caller's transaction. */
export async function clearActivity(tx: Executor): Promise<void> {
  for (const t of DERIVED_TABLES) await run(tx, `DELETE FROM ${t}`);
}
