// Reading the activity: an investor's or contact's insights, the going-cold list and a
// partner's relationships. Every query is an index seek or a range bounded by days or by
// one entity's partners, so the cost does not grow with the size of the mail store.
import type { Executor } from '../db/client.js';
import { all, one } from '../db/client.js';
import { normalizeAddress } from '../mail/address.js';
import type { Entity } from './activity.js';
import { entityStrength, partnerStrength, type Activity, type Strength } from './score.js';

const DAY_MS = 86_400_000;

interface PartnerInsight {
  user_id: number | null;
  email: string;
  inbound: number;
  outbound: number;
  last_at: string | null;
  median_reply_hours: number | null;
  score: number;
}

interface EntityInsights {
  first_at: string | null;
  last_at: string | null;
  last_inbound_at: string | null;
  last_outbound_at: string | null;
  counts: { inbound_30d: number; outbound_30d: number; inbound_90d: number; outbound_90d: number; inbound_365d: number; outbound_365d: number };
  threads: number;
  people: number;
  strength: Strength;
  partners: PartnerInsight[];
  strongest_partner: { user_id: number | null; email: string; score: number } | null;
}

/** The UTC day `days` before now; a window of N days is every day after it, today included. */
const dayBefore = (nowMs: number, days: number): string => new Date(nowMs - days * DAY_MS).toISOString().slice(0, 10);

const later = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a > b ? a : b);

/** users.email → user id, folded to the stored (lower-case) form of team addresses. */
async function usersByAddress(db: Executor): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  for (const u of await all<{ id: number; email: string }>(db, 'SELECT id, email FROM users WHERE email IS NOT NULL')) {
    const a = normalizeAddress(u.email);
    if (a) map.set(a, u.id);
  }
  return map;
}

interface Window {
  in30: number;
  out30: number;
  in90: number;
  out90: number;
  in365: number;
  out365: number;
}

async function windows(db: Executor, entity: Entity, id: number, partner: string, nowMs: number): Promise<Window> {
  const r = await one<Window>(
    db,
    `SELECT coalesce(sum(CASE WHEN day > ? THEN inbound END), 0) AS in30, coalesce(sum(CASE WHEN day > ? THEN outbound END), 0) AS out30,
            coalesce(sum(CASE WHEN day > ? THEN inbound END), 0) AS in90, coalesce(sum(CASE WHEN day > ? THEN outbound END), 0) AS out90,
            coalesce(sum(inbound), 0) AS in365, coalesce(sum(outbound), 0) AS out365
       FROM insight_daily WHERE entity = ? AND entity_id = ? AND partner = ? AND day > ?`,
    [dayBefore(nowMs, 30), dayBefore(nowMs, 30), dayBefore(nowMs, 90), dayBefore(nowMs, 90), entity, id, partner, dayBefore(nowMs, 365)],
  );
  return r!;
}

async function medianReplyHours(db: Executor, entity: Entity, id: number, partner: string): Promise<number | null> {
  const n = (await one<{ n: number }>(db, 'SELECT count(*) AS n FROM insight_replies WHERE entity = ? AND entity_id = ? AND partner = ?', [entity, id, partner]))!.n;
  if (n === 0) return null;
  // The middle one, or the mean of the middle two.
  const mid = await all<{ hours: number }>(
    db,
    'SELECT hours FROM insight_replies WHERE entity = ? AND entity_id = ? AND partner = ? ORDER BY hours LIMIT ? OFFSET ?',
    [entity, id, partner, n % 2 ? 1 : 2, Math.floor((n - 1) / 2)],
  );
  const v = mid.reduce((s, r) => s + r.hours, 0) / mid.length;
  return Math.round(v * 10) / 10;
}

interface TotalsRow {
  partner: string;
  inbound: number;
  outbound: number;
  last_in_at: string | null;
  last_out_at: string | null;
}

export async function entityInsights(db: Executor, entity: Entity, id: number, nowMs: number): Promise<EntityInsights> {
  const edge = async (fn: 'min' | 'max', direction?: 'in' | 'out') =>
    (await one<{ at: string | null }>(
      db,
      `SELECT ${fn}(sent_at) AS at FROM insight_contrib WHERE entity = ? AND entity_id = ?${direction ? ' AND direction = ?' : ''}`,
      direction ? [entity, id, direction] : [entity, id],
    ))!.at;
  const totals = await all<TotalsRow>(
    db,
    'SELECT partner, inbound, outbound, last_in_at, last_out_at FROM insight_totals WHERE entity = ? AND entity_id = ? AND inbound + outbound > 0',
    [entity, id],
  );
  const team = totals.find((t) => t.partner === '') ?? { partner: '', inbound: 0, outbound: 0, last_in_at: null, last_out_at: null };
  const w = await windows(db, entity, id, '', nowMs);
  const threads = (await one<{ n: number }>(db, 'SELECT count(*) AS n FROM insight_threads WHERE entity = ? AND entity_id = ? AND n > 0', [entity, id]))!.n;
  const people = (await one<{ n: number }>(db, 'SELECT count(*) AS n FROM insight_people WHERE entity = ? AND entity_id = ? AND n > 0', [entity, id]))!.n;
  const users = await usersByAddress(db);

  const partners: PartnerInsight[] = [];
  for (const t of totals) {
    if (t.partner === '') continue;
    const pw = await windows(db, entity, id, t.partner, nowMs);
    const activity: Activity = { inbound: t.inbound, outbound: t.outbound, lastInAt: t.last_in_at, lastOutAt: t.last_out_at, inbound365: pw.in365, outbound365: pw.out365 };
    partners.push({
      user_id: users.get(t.partner) ?? null,
      email: t.partner,
      inbound: t.inbound,
      outbound: t.outbound,
      last_at: later(t.last_in_at, t.last_out_at),
      median_reply_hours: await medianReplyHours(db, entity, id, t.partner),
      score: partnerStrength(activity, nowMs).score,
    });
  }
  partners.sort((a, b) => b.score - a.score || b.inbound + b.outbound - (a.inbound + a.outbound) || (a.email < b.email ? -1 : 1));

  const activity: Activity = { inbound: team.inbound, outbound: team.outbound, lastInAt: team.last_in_at, lastOutAt: team.last_out_at, inbound365: w.in365, outbound365: w.out365 };
  const best = partners[0];
  return {
    first_at: await edge('min'),
    last_at: await edge('max'),
    last_inbound_at: team.last_in_at,
    last_outbound_at: team.last_out_at,
    counts: { inbound_30d: w.in30, outbound_30d: w.out30, inbound_90d: w.in90, outbound_90d: w.out90, inbound_365d: w.in365, outbound_365d: w.out365 },
    threads,
    people,
    strength: entityStrength(activity, people, partners.length, nowMs),
    partners,
    strongest_partner: best ? { user_id: best.user_id, email: best.email, score: best.score } : null,
  };
}

interface ColdInvestor {
  id: number;
  name: string;
  last_two_way_at: string;
  exchanges_year_before: number;
  best_partner: { user_id: number | null; email: string } | null;
}

/** At least this many two-way exchanges in the year up to the last one make a relationship "active". */
const ACTIVE_EXCHANGES = 3;

export async function goingCold(db: Executor, days: number, nowMs: number): Promise<ColdInvestor[]> {
  const cutoff = new Date(nowMs - days * DAY_MS).toISOString();
  const rows = await all<{ id: number; name: string; last_two_way_at: string; exchanges_year_before: number }>(
    db,
    `SELECT s.entity_id AS id, i.name, s.last_two_way_at, s.exchanges_year_before
       FROM insight_summary s JOIN investors i ON i.id = s.entity_id
      WHERE s.entity = 'investor' AND s.last_two_way_at < ? AND s.exchanges_year_before >= ?
      ORDER BY s.last_two_way_at DESC, s.entity_id`,
    [cutoff, ACTIVE_EXCHANGES],
  );
  const users = await usersByAddress(db);
  const best = new Map<number, TotalsRow>();
  for (let i = 0; i < rows.length; i += 500) {
    const ids = rows.slice(i, i + 500).map((r) => r.id);
    const partners = await all<TotalsRow & { entity_id: number }>(
      db,
      `SELECT entity_id, partner, inbound, outbound, last_in_at, last_out_at FROM insight_totals
        WHERE entity = 'investor' AND entity_id IN (${ids.map(() => '?').join(',')}) AND partner <> ''`,
      ids,
    );
    for (const p of partners) {
      const cur = best.get(p.entity_id);
      if (!cur || betterReach(p, cur)) best.set(p.entity_id, p);
    }
  }
  return rows.map((r) => {
    const b = best.get(r.id);
    return { ...r, best_partner: b ? { user_id: users.get(b.partner) ?? null, email: b.partner } : null };
  });
}

/**
 * Best placed to reach out again: the partner with the most two-way history (the smaller of
 * their two directions), then the most mail, then the most recent.
 */
function betterReach(a: TotalsRow, b: TotalsRow): boolean {
  const ma = Math.min(a.inbound, a.outbound);
  const mb = Math.min(b.inbound, b.outbound);
  if (ma !== mb) return ma > mb;
  if (a.inbound + a.outbound !== b.inbound + b.outbound) return a.inbound + a.outbound > b.inbound + b.outbound;
  const la = later(a.last_in_at, a.last_out_at) ?? '';
  const lb = later(b.last_in_at, b.last_out_at) ?? '';
  if (la !== lb) return la > lb;
  return a.partner < b.partner;
}

interface PartnerRelationship {
  id: number;
  name: string;
  score: number;
  inbound: number;
  outbound: number;
  last_at: string | null;
}

/** The investors one team address knows, strongest first. */
export async function partnerRelationships(db: Executor, partner: string, nowMs: number, limit: number): Promise<PartnerRelationship[]> {
  const rows = await all<TotalsRow & { id: number; name: string }>(
    db,
    `SELECT t.entity_id AS id, i.name, t.partner, t.inbound, t.outbound, t.last_in_at, t.last_out_at
       FROM insight_totals t JOIN investors i ON i.id = t.entity_id
      WHERE t.partner = ? AND t.entity = 'investor' AND t.inbound + t.outbound > 0`,
    [partner],
  );
  const recent = new Map<number, { in365: number; out365: number }>();
  for (const r of await all<{ id: number; in365: number; out365: number }>(
    db,
    `SELECT entity_id AS id, sum(inbound) AS in365, sum(outbound) AS out365 FROM insight_daily
      WHERE partner = ? AND entity = 'investor' AND day > ? GROUP BY entity_id`,
    [partner, dayBefore(nowMs, 365)],
  )) {
    recent.set(r.id, r);
  }
  const out = rows.map((r) => {
    const w = recent.get(r.id);
    const activity: Activity = { inbound: r.inbound, outbound: r.outbound, lastInAt: r.last_in_at, lastOutAt: r.last_out_at, inbound365: w?.in365 ?? 0, outbound365: w?.out365 ?? 0 };
    return { id: r.id, name: r.name, score: partnerStrength(activity, nowMs).score, inbound: r.inbound, outbound: r.outbound, last_at: later(r.last_in_at, r.last_out_at) };
  });
  out.sort((a, b) => b.score - a.score || (b.last_at ?? '').localeCompare(a.last_at ?? '') || a.id - b.id);
  return out.slice(0, limit);
}

/** The entity's id and name, or null when there is no such investor or contact. */
export async function entityName(db: Executor, entity: Entity, id: number): Promise<string | null> {
  const table = entity === 'investor' ? 'investors' : 'contacts';
  return (await one<{ name: string }>(db, `SELECT name FROM ${table} WHERE id = ?`, [id]))?.name ?? null;
}
