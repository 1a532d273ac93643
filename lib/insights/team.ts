// Who "the team" is for the activity: the workspace domains (and their subdomains) and every
// mailbox address (an OAuth mailbox may sit outside the domains). The writers that report mail
// changes know neither the configuration nor enrolment history, so the team the activity was
// computed with is recorded in insight_team; when the configured domains or the mailboxes
// differ from it, the mail whose direction depends on the difference is recomputed.
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Db, Executor } from '../db/client.js';
import { all, run, writeTx } from '../db/client.js';
import { domainAndParents, normalizeAddress, normalizeDomain } from '../mail/address.js';
import { clearActivity, settleDirty, updateActivity } from './activity.js';

export interface Team {
  domains: Set<string>;
  addresses: Set<string>;
}

const PAGE = 1000;

export async function loadTeam(db: Executor): Promise<Team> {
  const rows = await all<{ kind: string; value: string }>(db, 'SELECT kind, value FROM insight_team');
  const team: Team = { domains: new Set(), addresses: new Set() };
  for (const r of rows) (r.kind === 'domain' ? team.domains : team.addresses).add(r.value);
  return team;
}

export function isTeamAddress(team: Team, address: string): boolean {
  if (team.addresses.has(address)) return true;
  const at = address.lastIndexOf('@');
  return at > 0 && domainAndParents(address.slice(at + 1)).some((d) => team.domains.has(d));
}

async function desiredTeam(db: Executor, workspaceDomains: readonly string[]): Promise<Team> {
  const team: Team = { domains: new Set(), addresses: new Set() };
  for (const d of workspaceDomains) {
    const n = normalizeDomain(d);
    if (n) team.domains.add(n);
  }
  for (const r of await all<{ email: string }>(db, 'SELECT email FROM email_accounts')) {
    const a = normalizeAddress(r.email);
    if (a) team.addresses.add(a);
  }
  return team;
}

const differ = (a: Set<string>, b: Set<string>): string[] => [...a].filter((x) => !b.has(x)).concat([...b].filter((x) => !a.has(x)));

/**
 * Bring the recorded team in line with the configuration and the mailboxes. Cheap when nothing
 * changed (two small reads); a changed domain recomputes everything, a changed mailbox address
 * recomputes the mail it sent. Returns what was recomputed.
 */
export async function ensureTeam(db: Db, workspaceDomains: readonly string[]): Promise<'current' | 'addresses' | 'rebuilt'> {
  const want = await desiredTeam(db, workspaceDomains);
  const have = await loadTeam(db);
  const domainChange = differ(want.domains, have.domains);
  const addressChange = differ(want.addresses, have.addresses);
  if (!domainChange.length && !addressChange.length) {
    await settleDirty(db);
    return 'current';
  }

  await writeTx(db, async (tx) => {
    await run(tx, 'DELETE FROM insight_team');
    const rows = [...[...want.domains].map((v) => ['domain', v]), ...[...want.addresses].map((v) => ['address', v])];
    for (const r of rows) await run(tx, 'INSERT INTO insight_team (kind, value) VALUES (?, ?)', r);
    if (domainChange.length) {
      await clearActivity(tx);
    } else {
      const ids: number[] = [];
      for (const a of addressChange) {
        for (const r of await all<{ email_id: number }>(tx, "SELECT email_id FROM email_participants WHERE address = ? AND role = 'from'", [a])) ids.push(r.email_id);
      }
      await updateActivity(tx, [...new Set(ids)]);
    }
  });
  if (domainChange.length) await recomputeAll(db);
  await settleDirty(db);
  return domainChange.length ? 'rebuilt' : 'addresses';
}

/**
 * The full recompute: every email through the same updater, a page per transaction. Safe
 * beside writers: the updater is idempotent, so a page a writer touched meanwhile is simply
 * brought in line again.
 */
export async function recomputeAll(db: Db, opts: { clear?: boolean } = {}): Promise<number> {
  if (opts.clear) {
    await writeTx(db, (tx) => clearActivity(tx));
  }
  let after = 0;
  let n = 0;
  for (;;) {
    const ids = (await all<{ id: number }>(db, 'SELECT id FROM emails WHERE id > ? ORDER BY id LIMIT ?', [after, PAGE])).map((r) => r.id);
    if (!ids.length) return n;
    await writeTx(db, (tx) => updateActivity(tx, ids));
    n += ids.length;
    after = ids[ids.length - 1]!;
    // A turn of the event loop per page: requests are answered meanwhile, and the driver's
    // statements are freed (their finalizers run on a later turn; without it a 1,000,000
    // email build grows by about 9 KB of native memory per email).
    await yieldTurn();
  }
}
