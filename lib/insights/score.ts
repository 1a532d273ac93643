// The strength score: four parts of 0–25 points, each with the one line that explains it, and
// a cap for one-way mail. docs/insights.md states the same rules for operators; keep the two
// in step.

interface Part {
  name: 'recency' | 'frequency' | 'reciprocity' | 'breadth' | 'one_way_cap';
  value: number;
  reason: string;
}

export interface Strength {
  score: number;
  parts: Part[];
}

export interface Activity {
  /** All time. */
  inbound: number;
  outbound: number;
  lastInAt: string | null;
  lastOutAt: string | null;
  /** The last 365 days. */
  inbound365: number;
  outbound365: number;
}

export const ONE_WAY_CAP = 15;
const DAY_MS = 86_400_000;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const daysAgo = (at: string, nowMs: number) => Math.max(0, Math.floor((nowMs - Date.parse(at)) / DAY_MS));

function recencyPart(a: Activity, nowMs: number): Part {
  if (!a.lastInAt || !a.lastOutAt) {
    const missing = !a.lastInAt && !a.lastOutAt ? 'no mail either way' : !a.lastInAt ? 'no inbound mail' : 'no outbound mail';
    return { name: 'recency', value: 0, reason: missing };
  }
  const dIn = daysAgo(a.lastInAt, nowMs);
  const dOut = daysAgo(a.lastOutAt, nowMs);
  // Both directions must be recent: the older of the two decides.
  const d = Math.max(dIn, dOut);
  const value = d <= 30 ? 25 : d <= 90 ? 18 : d <= 180 ? 12 : d <= 365 ? 6 : 0;
  return { name: 'recency', value, reason: `last inbound ${plural(dIn, 'day')} ago, last outbound ${plural(dOut, 'day')} ago` };
}

function frequencyPart(a: Activity): Part {
  const n = a.inbound365 + a.outbound365;
  const value = n >= 50 ? 25 : n >= 20 ? 20 : n >= 10 ? 15 : n >= 4 ? 10 : n >= 1 ? 5 : 0;
  return { name: 'frequency', value, reason: `${plural(n, 'message')} in the last 365 days (${a.inbound365} in, ${a.outbound365} out)` };
}

function reciprocityPart(a: Activity): Part {
  const total = a.inbound + a.outbound;
  if (total === 0) return { name: 'reciprocity', value: 0, reason: 'no mail either way' };
  const low = Math.min(a.inbound, a.outbound);
  const value = Math.round((25 * 2 * low) / total);
  const kind = low === 0 ? 'one-way' : value >= 15 ? 'balanced' : 'lopsided';
  // The larger side first, so "one-way: 12 out, 0 in" reads the way it happened.
  const sides = a.outbound >= a.inbound ? `${a.outbound} out, ${a.inbound} in` : `${a.inbound} in, ${a.outbound} out`;
  return { name: 'reciprocity', value, reason: `${kind}: ${sides}` };
}

function breadthPart(people: number, partners: number): Part {
  const value = Math.min(people, 3) * 5 + Math.min(partners, 2) * 5;
  return { name: 'breadth', value, reason: `${people} of their people, ${partners} of our partners` };
}

/** Sum the parts; one-way mail is held to ONE_WAY_CAP by a negative part that says so. */
function total(parts: Part[], a: Activity, scale = 1): Strength {
  let score = Math.round(parts.reduce((s, p) => s + p.value, 0) * scale);
  const out = parts.map((p) => ({ ...p }));
  if (Math.min(a.inbound, a.outbound) === 0 && score > ONE_WAY_CAP) {
    out.push({ name: 'one_way_cap', value: ONE_WAY_CAP - score, reason: `one-way mail (${a.inbound} in, ${a.outbound} out) never scores above ${ONE_WAY_CAP}` });
    score = ONE_WAY_CAP;
  }
  return { score, parts: out };
}

/** An investor's or contact's relationship with the team: 0–100. */
export function entityStrength(a: Activity, people: number, partners: number, nowMs: number): Strength {
  return total([recencyPart(a, nowMs), frequencyPart(a), reciprocityPart(a), breadthPart(people, partners)], a);
}

/** One partner's connection: recency, frequency and reciprocity of their own mail, scaled to 0–100. */
export function partnerStrength(a: Activity, nowMs: number): Strength {
  return total([recencyPart(a, nowMs), frequencyPart(a), reciprocityPart(a)], a, 100 / 75);
}
