import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { invoke } from '../../lib/core/fn.js';
import { all, one, run } from '../../lib/db/client.js';
import { getInvestorInsights } from '../../functions/getInvestorInsights.js';
import { getContactInsights } from '../../functions/getContactInsights.js';
import { listGoingCold } from '../../functions/listGoingCold.js';
import { getPartnerInsights } from '../../functions/getPartnerInsights.js';
import { deleteAccount } from '../../functions/deleteAccount.js';
import { rebuildInsights } from '../../functions/rebuildInsights.js';
import { ensureTeam, recomputeAll } from '../../lib/insights/team.js';
import { entityStrength, ONE_WAY_CAP, partnerStrength } from '../../lib/insights/score.js';
import { threadExchanges, threadReplies } from '../../lib/insights/activity.js';
import { apiClient } from '../helpers/api.js';
import { userWithToken } from '../helpers/users.js';
import type { TestDeps } from '../helpers/deps.js';
import {
  coldSet,
  conversations,
  createRng,
  FIRM,
  insightDeps,
  makeInvestors,
  NOW,
  PARTNERS,
  rematchAll,
  seedTeam,
  snapshotActivity,
  syncMessages,
  truthByInvestor,
  type Msg,
} from '../helpers/insightsCorpus.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
let deps: TestDeps | undefined;

afterEach(async () => {
  await deps?.cleanup();
  deps = undefined;
});

async function insights(id: number) {
  return invoke(deps!, getInvestorInsights, { id });
}

async function expectMatchesTruth(investorIds: number[]): Promise<void> {
  const truth = await truthByInvestor(deps!);
  const users = new Map((await all<{ id: number; email: string }>(deps!.db, 'SELECT id, email FROM users')).map((u) => [u.email, u.id]));
  for (const id of investorIds) {
    const got = await insights(id);
    const t = truth.get(id);
    const label = `investor ${id}`;
    expect({ id, first: got.first_at, last: got.last_at, in: got.last_inbound_at, out: got.last_outbound_at }, label).toEqual({
      id,
      first: t?.first_at ?? null,
      last: t?.last_at ?? null,
      in: t?.last_inbound_at ?? null,
      out: t?.last_outbound_at ?? null,
    });
    expect(got.counts, label).toMatchObject({
      inbound_90d: t?.inbound_90d ?? 0,
      outbound_90d: t?.outbound_90d ?? 0,
      inbound_365d: t?.inbound_365d ?? 0,
      outbound_365d: t?.outbound_365d ?? 0,
    });
    expect(got.threads, label).toBe(t?.threads ?? 0);
    const partners = Object.fromEntries(got.partners.map((p) => [p.email, { inbound: p.inbound, outbound: p.outbound, last_at: p.last_at, user_id: p.user_id }]));
    const want = Object.fromEntries(
      Object.entries(t?.partners ?? {})
        .filter(([, p]) => p.inbound + p.outbound > 0)
        .map(([email, p]) => [email, { ...p, user_id: users.get(email) ?? null }]),
    );
    expect(partners, label).toEqual(want);
  }
  const cold = await invoke(deps!, listGoingCold, { days: 60 });
  expect(cold.investors.map((i) => i.id)).toEqual(coldSet(truth, 60));
  const cold200 = await invoke(deps!, listGoingCold, { days: 200 });
  expect(cold200.investors.map((i) => i.id)).toEqual(coldSet(truth, 200));
}

describe('relationship insights against a direct scan of the participants', () => {
  it('last inbound/outbound, windows, threads, per-partner counts and the going-cold set agree', async () => {
    deps = await insightDeps();
    const rng = createRng('insights-truth');
    const accounts = await seedTeam(deps);
    const investors = await makeInvestors(deps, rng, 10);
    await syncMessages(deps, accounts, conversations(rng, investors.slice(3), 160, 'a'));
    // Some investors fell silent after an active spell: they must show as going cold.
    const quiet: Msg[] = [];
    investors.slice(0, 3).forEach((inv, q) => {
      for (let k = 0; k < 2 + q; k++) {
        const at = NOW - (90 + q * 40 + k * 7) * DAY;
        quiet.push({ from: inv.contacts[0]!, to: [PARTNERS[q]!], sentAt: at, messageId: `q${q}-${k}@x` });
        quiet.push({ from: PARTNERS[q]!, to: [inv.contacts[0]!], sentAt: at + 3 * HOUR, messageId: `qr${q}-${k}@x`, inReplyTo: `q${q}-${k}@x` });
      }
    });
    await syncMessages(deps, accounts, quiet);
    await expectMatchesTruth(investors.map((i) => i.id));
    const truth = await truthByInvestor(deps);
    // The corpus is only a test if it exercises both sides of every rule.
    expect(coldSet(truth, 60).length).toBeGreaterThan(0);
    expect([...truth.values()].some((t) => t.exchanges_year_before > 0)).toBe(true);
  });

  it('contact insights count only that contact\'s own addresses', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('c'), 1);
    const contact = (await one<{ id: number }>(deps.db, 'SELECT contact_id AS id FROM contact_emails WHERE email = ?', [inv!.contacts[0]]))!;
    const t0 = NOW - 10 * DAY;
    await syncMessages(deps, accounts, [
      { from: inv!.contacts[0]!, to: [PARTNERS[0]!], sentAt: t0, messageId: 'c1@x' },
      { from: PARTNERS[0]!, to: [inv!.contacts[0]!], sentAt: t0 + 5 * HOUR, messageId: 'c2@x', inReplyTo: 'c1@x' },
      { from: `analyst1@${inv!.domain}`, to: [PARTNERS[1]!], sentAt: t0 + DAY, messageId: 'c3@x' },
    ]);
    const c = await invoke(deps, getContactInsights, { id: contact.id });
    expect(c).toMatchObject({ last_inbound_at: new Date(t0).toISOString(), last_outbound_at: new Date(t0 + 5 * HOUR).toISOString(), threads: 1, people: 1 });
    expect(c.partners).toEqual([expect.objectContaining({ email: PARTNERS[0], inbound: 1, outbound: 1, median_reply_hours: 5 })]);
    const i = await insights(inv!.id);
    expect(i.last_inbound_at).toBe(new Date(t0 + DAY).toISOString());
    expect(i.people).toBe(2);
  });
});

describe('reply times and exchanges', () => {
  it('median reply time is per partner, from each inbound message to that partner\'s next reply in the thread', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('r'), 1);
    const them = inv!.contacts[0]!;
    const [alice, bob] = PARTNERS as [string, string];
    const t = NOW - 20 * DAY;
    const msgs: Msg[] = [
      { from: them, to: [alice, bob], sentAt: t, messageId: 'r1@x' },
      { from: alice, to: [them], sentAt: t + 2 * HOUR, messageId: 'r2@x', inReplyTo: 'r1@x' },
      { from: them, to: [alice], sentAt: t + 3 * HOUR, messageId: 'r3@x', inReplyTo: 'r2@x' },
      { from: them, to: [alice], sentAt: t + 4 * HOUR, messageId: 'r4@x', inReplyTo: 'r3@x' },
      { from: alice, to: [them], sentAt: t + 14 * HOUR, messageId: 'r5@x', inReplyTo: 'r4@x' },
      { from: bob, to: [them], sentAt: t + 30 * HOUR, messageId: 'r6@x', inReplyTo: 'r5@x' },
    ];
    await syncMessages(deps, accounts, msgs);
    const got = await insights(inv!.id);
    const byEmail = Object.fromEntries(got.partners.map((p) => [p.email, p]));
    // alice: 2h (r1), 11h (r3), 10h (r4) → median 10h. bob: every inbound answered at r6: 30h, 27h, 26h → 27h.
    expect(byEmail[alice]!.median_reply_hours).toBe(10);
    expect(byEmail[bob]!.median_reply_hours).toBe(27);
    expect(got.threads).toBe(1);
  });

  it('an exchange is a message answering the other side', () => {
    const m = (email_id: number, direction: 'in' | 'out', sender: string | null = null) => ({ email_id, direction, sent_at: new Date(NOW + email_id * HOUR).toISOString(), sender });
    expect(threadExchanges([m(1, 'out', 'a'), m(2, 'out', 'b'), m(3, 'in'), m(4, 'in'), m(5, 'out', 'a')]).map((x) => [x.email_id, x.partner])).toEqual([
      [3, 'b'],
      [5, 'a'],
    ]);
    expect(threadReplies([m(1, 'in'), m(2, 'out', 'a')])).toEqual([{ email_id: 1, partner: 'a', hours: 1 }]);
    expect(threadReplies([m(1, 'out', 'a'), m(2, 'in')])).toEqual([]);
  });
});

describe('strength score', () => {
  it('one-way mail never scores above the low bar, however much and however recent', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [out, inb] = await makeInvestors(deps, createRng('s'), 2);
    const msgs: Msg[] = [];
    for (let k = 0; k < 80; k++) {
      msgs.push({ from: PARTNERS[k % 3]!, to: [...out!.contacts], sentAt: NOW - k * DAY, messageId: `o${k}@x` });
      msgs.push({ from: inb!.contacts[k % inb!.contacts.length]!, to: [...PARTNERS], sentAt: NOW - k * DAY, messageId: `i${k}@x` });
    }
    await syncMessages(deps, accounts, msgs);
    for (const id of [out!.id, inb!.id]) {
      const s = (await insights(id)).strength;
      expect(s.score).toBeLessThanOrEqual(ONE_WAY_CAP);
      expect(s.parts.reduce((n, p) => n + p.value, 0)).toBe(s.score);
      expect(s.parts.find((p) => p.name === 'reciprocity')!.reason).toMatch(/^one-way: \d+ (out|in), 0 (in|out)$/);
    }
  });

  it('a two-way, recent, broad relationship scores high and every part explains itself', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('h'), 1);
    const people = [...inv!.contacts, `analyst1@${inv!.domain}`, `analyst2@${inv!.domain}`];
    const msgs: Msg[] = [];
    for (let k = 0; k < 40; k++) {
      msgs.push({ from: people[k % people.length]!, to: [PARTNERS[k % 2]!], sentAt: NOW - (k * 4 + 1) * DAY, messageId: `h${k}@x` });
      msgs.push({ from: PARTNERS[k % 2]!, to: [people[k % people.length]!], sentAt: NOW - k * 4 * DAY, messageId: `hr${k}@x`, inReplyTo: `h${k}@x` });
    }
    await syncMessages(deps, accounts, msgs);
    const got = await insights(inv!.id);
    expect(got.strength.score).toBeGreaterThanOrEqual(80);
    expect(got.strength.parts.map((p) => p.name)).toEqual(['recency', 'frequency', 'reciprocity', 'breadth']);
    expect(got.strength.parts[0]!.reason).toBe('last inbound 1 day ago, last outbound 0 days ago');
    expect(got.strength.parts[3]!.reason).toBe(`${people.length} of their people, 2 of our partners`);
    expect(got.strongest_partner).toMatchObject({ email: expect.stringMatching(/^(alice|bob)@/) });
  });

  it('scores stay in 0..100, parts sum to the score, one-way stays under the cap (property)', () => {
    const when = fc.option(fc.integer({ min: 0, max: 3000 }).map((d) => new Date(NOW - d * DAY).toISOString()), { nil: null });
    fc.assert(
      fc.property(
        fc.record({ inbound: fc.nat(500), outbound: fc.nat(500), lastInAt: when, lastOutAt: when, inbound365: fc.nat(500), outbound365: fc.nat(500) }),
        fc.nat(20),
        fc.nat(10),
        (a, people, partners) => {
          const act = { ...a, lastInAt: a.inbound ? a.lastInAt : null, lastOutAt: a.outbound ? a.lastOutAt : null };
          for (const s of [entityStrength(act, people, partners, NOW), partnerStrength(act, NOW)]) {
            expect(s.score).toBeGreaterThanOrEqual(0);
            expect(s.score).toBeLessThanOrEqual(100);
            if (Math.min(act.inbound, act.outbound) === 0) expect(s.score).toBeLessThanOrEqual(ONE_WAY_CAP);
          }
          const e = entityStrength(act, people, partners, NOW);
          expect(e.parts.reduce((n, p) => n + p.value, 0)).toBe(e.score);
        },
      ),
    );
  });
});

describe('exclusions', () => {
  it('an excluded address stops contributing, and an excluded domain takes the whole investor', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('x'), 1);
    const loud = `loud@${inv!.domain}`;
    const quiet = inv!.contacts[0]!;
    await syncMessages(deps, accounts, [
      { from: loud, to: [PARTNERS[0]!], sentAt: NOW - DAY, messageId: 'x1@x' },
      { from: PARTNERS[0]!, to: [loud], sentAt: NOW - DAY + HOUR, messageId: 'x2@x', inReplyTo: 'x1@x' },
      { from: quiet, to: [PARTNERS[1]!], sentAt: NOW - 50 * DAY, messageId: 'x3@x' },
    ]);
    const before = await insights(inv!.id);
    expect(before.last_inbound_at).toBe(new Date(NOW - DAY).toISOString());
    expect(before.partners.map((p) => p.email).sort()).toEqual([PARTNERS[0], PARTNERS[1]]);

    await run(deps.db, "INSERT INTO exclusions (address, created_at) VALUES (?, '2026-01-01T00:00:00.000Z')", [loud]);
    await rematchAll(deps);
    const after = await insights(inv!.id);
    expect(after.last_inbound_at).toBe(new Date(NOW - 50 * DAY).toISOString());
    expect(after.last_outbound_at).toBeNull();
    expect(after.partners.map((p) => p.email)).toEqual([PARTNERS[1]]);
    expect(after.people).toBe(1);
    await expectMatchesTruth([inv!.id]);

    await run(deps.db, "INSERT INTO exclusions (domain, created_at) VALUES (?, '2026-01-01T00:00:00.000Z')", [inv!.domain]);
    await rematchAll(deps);
    const gone = await insights(inv!.id);
    expect(gone).toMatchObject({ first_at: null, last_at: null, threads: 0, partners: [], strongest_partner: null });
  });
});

describe('incremental maintenance', () => {
  type Op =
    | { kind: 'sync'; seed: number; count: number }
    | { kind: 'exclude'; pick: number; domain: boolean }
    | { kind: 'unexclude'; pick: number }
    | { kind: 'contact'; pick: number }
    | { kind: 'purge'; pick: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), seed: fc.nat(), count: fc.integer({ min: 1, max: 12 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('exclude' as const), pick: fc.nat(), domain: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unexclude' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('contact' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('purge' as const), pick: fc.nat() }) },
  );

  it('after a random mix of syncs, rematches, exclusions and purges, the activity equals a full recompute and the truth', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 9 }), async (ops) => {
        deps = await insightDeps();
        try {
          const accounts = await seedTeam(deps);
          const investors = await makeInvestors(deps, createRng('mix'), 4);
          let n = 0;
          for (const o of ops) {
            if (o.kind === 'sync') {
              await syncMessages(deps, accounts, conversations(createRng(`s${o.seed}`), investors, o.count, `m${n++}`));
            } else if (o.kind === 'exclude') {
              const inv = investors[o.pick % investors.length]!;
              const address = o.domain ? null : `analyst${(o.pick % 3) + 1}@${inv.domain}`;
              await run(deps.db, 'INSERT INTO exclusions (address, domain, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [address, o.domain ? `mail.${inv.domain}` : null, 'x']);
              await rematchAll(deps);
            } else if (o.kind === 'unexclude') {
              const rows = await all<{ id: number }>(deps.db, 'SELECT id FROM exclusions ORDER BY id');
              if (rows.length) await run(deps.db, 'DELETE FROM exclusions WHERE id = ?', [rows[o.pick % rows.length]!.id]);
              await rematchAll(deps);
            } else if (o.kind === 'contact') {
              // A known address moves to another investor: the directory changes, rematch relinks.
              const from = investors[o.pick % investors.length]!;
              const to = investors[(o.pick + 1) % investors.length]!;
              await run(deps.db, 'INSERT INTO investor_emails (investor_id, email) VALUES (?, ?) ON CONFLICT DO NOTHING', [to.id, `analyst1@${from.domain}`]);
              await rematchAll(deps);
            } else if (accounts.size > 1) {
              const acc = [...accounts.entries()][o.pick % accounts.size]!;
              await invoke(deps, deleteAccount, { id: acc[1], purge: true });
              // The mailbox is gone: later syncs no longer store copies in it.
              accounts.delete(acc[0]);
            }
          }
          // A purged mailbox leaves the team: the mail it sent is recomputed, as a read would.
          await ensureTeam(deps.db, [FIRM]);
          const incremental = await snapshotActivity(deps);
          await recomputeAll(deps.db, { clear: true });
          expect(await snapshotActivity(deps)).toEqual(incremental);
          await invoke(deps, rebuildInsights, {});
          expect(await snapshotActivity(deps)).toEqual(incremental);
          await expectMatchesTruth(investors.map((i) => i.id));
        } finally {
          await deps.cleanup();
          deps = undefined;
        }
      }),
      { numRuns: 10, seed: 1717 },
    );
  }, 300_000);

  it('a mailbox address outside the workspace counts as the team once it is enrolled', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('o'), 1);
    const personal = 'dave.partner@elsewhere.example';
    await syncMessages(deps, accounts, [{ from: personal, to: [inv!.contacts[0]!, PARTNERS[0]!], sentAt: NOW - DAY, messageId: 'o1@x' }]);
    expect((await insights(inv!.id)).last_outbound_at).toBeNull();
    await run(deps.db, "INSERT INTO email_accounts (email, auth_method, created_at, updated_at) VALUES (?, 'oauth', 'x', 'x')", [personal]);
    const got = await insights(inv!.id);
    expect(got.last_outbound_at).toBe(new Date(NOW - DAY).toISOString());
    expect(got.partners).toEqual([expect.objectContaining({ email: personal, outbound: 1 })]);
  });

  it('deleting a contact takes back what its address gave, though another contact keeps the email linked', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('dc'), 1);
    const now = new Date(NOW).toISOString();
    const other = `other@${inv!.domain}`;
    const c = await one<{ id: number }>(deps.db, 'INSERT INTO contacts (investor_id, name, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id', [inv!.id, 'Other', now, now]);
    await run(deps.db, 'INSERT INTO contact_emails (contact_id, email) VALUES (?, ?)', [c!.id, other]);
    // The investor's domain is dropped so that only the contacts tie this mail to it.
    await run(deps.db, 'DELETE FROM investor_domains WHERE investor_id = ?', [inv!.id]);
    await syncMessages(deps, accounts, [{ from: other, to: [PARTNERS[0]!], cc: [inv!.contacts[0]!], sentAt: NOW - DAY, messageId: 'dc1@x' }]);
    expect(await insights(inv!.id)).toMatchObject({ last_inbound_at: new Date(NOW - DAY).toISOString(), people: 2 });
    await run(deps.db, 'DELETE FROM contacts WHERE id = ?', [c!.id]);
    expect(await insights(inv!.id)).toMatchObject({ last_inbound_at: null, last_at: new Date(NOW - DAY).toISOString(), people: 1, partners: [] });
    await expectMatchesTruth([inv!.id]);
  });

  it('deleting an investor takes its activity with it', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('d'), 1);
    await syncMessages(deps, accounts, [{ from: inv!.contacts[0]!, to: [PARTNERS[0]!], sentAt: NOW - DAY, messageId: 'd1@x' }]);
    await insights(inv!.id);
    await run(deps.db, 'DELETE FROM investors WHERE id = ?', [inv!.id]);
    expect((await one<{ n: number }>(deps.db, "SELECT count(*) AS n FROM insight_contrib WHERE entity = 'investor'"))!.n).toBe(0);
    expect((await one<{ n: number }>(deps.db, "SELECT count(*) AS n FROM insight_totals WHERE entity = 'investor'"))!.n).toBe(0);
  });
});

describe('HTTP', () => {
  it('any signed-in user reads the four insight routes in the contract shapes', async () => {
    deps = await insightDeps();
    const accounts = await seedTeam(deps);
    const [inv] = await makeInvestors(deps, createRng('api'), 1);
    const them = inv!.contacts[0]!;
    const msgs: Msg[] = [];
    for (let k = 0; k < 4; k++) {
      msgs.push({ from: them, to: [PARTNERS[0]!], sentAt: NOW - (200 + k * 20) * DAY, messageId: `a${k}@x` });
      msgs.push({ from: PARTNERS[0]!, to: [them], sentAt: NOW - (200 + k * 20) * DAY + HOUR, messageId: `b${k}@x`, inReplyTo: `a${k}@x` });
    }
    await syncMessages(deps, accounts, msgs);
    const api = apiClient(deps);
    const member = await userWithToken(deps, { role: 'member' });
    const alice = (await one<{ id: number }>(deps.db, 'SELECT id FROM users WHERE email = ?', [PARTNERS[0]]))!.id;

    const i = await api('GET', `/api/insights/investors/${inv!.id}`, { token: member.token });
    expect(i.status).toBe(200);
    expect(Object.keys(i.body)).toEqual(
      expect.arrayContaining(['first_at', 'last_at', 'last_inbound_at', 'last_outbound_at', 'counts', 'threads', 'strength', 'partners', 'strongest_partner']),
    );
    expect(Object.keys(i.body.counts)).toEqual(expect.arrayContaining(['inbound_90d', 'outbound_90d', 'inbound_365d', 'outbound_365d']));
    expect(i.body.partners[0]).toEqual({ user_id: alice, email: PARTNERS[0], inbound: 4, outbound: 4, last_at: new Date(NOW - 200 * DAY + HOUR).toISOString(), median_reply_hours: 1, score: expect.any(Number) });
    expect(i.body.strength.parts.every((p: { name: string; value: number; reason: string }) => typeof p.value === 'number' && p.reason.length > 0)).toBe(true);

    const contact = (await one<{ id: number }>(deps.db, 'SELECT contact_id AS id FROM contact_emails WHERE email = ?', [them]))!.id;
    expect((await api('GET', `/api/insights/contacts/${contact}`, { token: member.token })).body.last_inbound_at).toBe(new Date(NOW - 200 * DAY).toISOString());

    const cold = await api('GET', '/api/insights/going-cold?days=60', { token: member.token });
    expect(cold.body.investors).toEqual([
      { id: inv!.id, name: 'Investor 1', last_two_way_at: new Date(NOW - 200 * DAY + HOUR).toISOString(), exchanges_year_before: 4, best_partner: { user_id: alice, email: PARTNERS[0] } },
    ]);
    expect((await api('GET', '/api/insights/going-cold?days=300', { token: member.token })).body.investors).toEqual([]);
    expect((await api('GET', '/api/insights/going-cold', { token: member.token })).body.investors).toHaveLength(1);

    const p = await api('GET', `/api/insights/partners/${alice}`, { token: member.token });
    expect(p.body).toMatchObject({ user_id: alice, investors: [{ id: inv!.id, name: 'Investor 1', score: expect.any(Number), last_at: expect.any(String) }] });

    expect((await api('GET', `/api/insights/investors/${inv!.id}`)).status).toBe(401);
    expect((await api('GET', '/api/insights/investors/9999', { token: member.token })).status).toBe(404);
    expect((await api('GET', '/api/insights/partners/9999', { token: member.token })).status).toBe(404);
    const bad = await api('GET', '/api/insights/going-cold?days=abc', { token: member.token });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION', field: 'days' });
    expect((await api('GET', '/api/insights/going-cold?days=0', { token: member.token })).status).toBe(400);
  });
});
