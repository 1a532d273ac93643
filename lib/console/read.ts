// Read-only queries behind console pages that no handler answers in the needed shape:
// the investors overview, the per-thread marks of an investor's thread list, and what a
// destructive change would take, for its confirmation page.
import type { Executor } from '../db/client.js';
import { all } from '../db/client.js';
import { loadDirectory, Matcher, storedParticipants, type DirectorySnapshot } from '../matching/matcher.js';

interface InvestorRow {
  id: number;
  name: string;
  domains: string;
  last_at: string | null;
  threads: number;
  partners: string[];
}

/** Investors per page of the overview: the list is paged, never cut off. */
export const INVESTORS_PAGE = 200;

export async function investorsOverview(db: Executor, o: { q?: string; sort: 'activity' | 'name'; offset?: number }): Promise<{ rows: InvestorRow[]; total: number }> {
  const q = (o.q ?? '').trim().toLowerCase();
  const like = `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
  const filter = q
    ? `WHERE lower(i.name) LIKE ?1 ESCAPE '\\'
          OR EXISTS (SELECT 1 FROM investor_domains d WHERE d.investor_id = i.id AND d.domain LIKE ?1 ESCAPE '\\')
          OR EXISTS (SELECT 1 FROM investor_emails x WHERE x.investor_id = i.id AND x.email LIKE ?1 ESCAPE '\\')
          OR EXISTS (SELECT 1 FROM contacts c JOIN contact_emails ce ON ce.contact_id = c.id WHERE c.investor_id = i.id AND (ce.email LIKE ?1 ESCAPE '\\' OR lower(c.name) LIKE ?1 ESCAPE '\\'))`
    : '';
  const rows = await all<Omit<InvestorRow, 'partners'>>(
    db,
    `SELECT i.id, i.name,
            coalesce((SELECT group_concat(d.domain, ', ') FROM investor_domains d WHERE d.investor_id = i.id), '') AS domains,
            a.last_at, coalesce(a.threads, 0) AS threads
       FROM investors i
       LEFT JOIN (SELECT l.investor_id, max(e.sent_at) AS last_at, count(DISTINCT e.thread_id) AS threads
                    FROM email_investor_links l JOIN emails e ON e.id = l.email_id AND e.is_matched = 1
                   GROUP BY l.investor_id) a ON a.investor_id = i.id
       ${filter}
      ORDER BY ${o.sort === 'name' ? 'lower(i.name), i.id' : "coalesce(a.last_at, '') DESC, lower(i.name), i.id"}
      LIMIT ${INVESTORS_PAGE} OFFSET ${q ? '?2' : '?1'}`,
    q ? [like, o.offset ?? 0] : [o.offset ?? 0],
  );
  const total = Number((await all<{ n: number }>(db, `SELECT count(*) AS n FROM investors i ${filter}`, q ? [like] : []))[0]?.n ?? 0);
  // The partners who correspond with each investor: team addresses on its matched mail.
  const partners = await all<{ investor_id: number; who: string }>(
    db,
    `SELECT DISTINCT l.investor_id, coalesce(u.username, p.address) AS who
       FROM email_investor_links l
       JOIN emails e ON e.id = l.email_id AND e.is_matched = 1
       JOIN email_participants p ON p.email_id = e.id
       JOIN users u ON u.email = p.address AND u.disabled = 0`,
  );
  const byInvestor = new Map<number, Set<string>>();
  for (const p of partners) {
    const s = byInvestor.get(p.investor_id) ?? new Set<string>();
    s.add(p.who);
    byInvestor.set(p.investor_id, s);
  }
  return { rows: rows.map((r) => ({ ...r, partners: [...(byInvestor.get(r.id) ?? [])].sort() })), total };
}

interface ThreadMarks {
  participants: string[];
  attachments: number;
}

/** Who took part in each thread (matched mail only) and how many files it carries. */
export async function threadMarks(db: Executor, threadIds: number[]): Promise<Map<number, ThreadMarks>> {
  const out = new Map<number, ThreadMarks>();
  if (!threadIds.length) return out;
  const marks = threadIds.map(() => '?').join(',');
  const people = await all<{ thread_id: number; who: string }>(
    db,
    `SELECT DISTINCT e.thread_id, coalesce(nullif(p.name, ''), p.address) AS who
       FROM emails e JOIN email_participants p ON p.email_id = e.id AND p.role IN ('from', 'to', 'cc')
      WHERE e.thread_id IN (${marks}) AND e.is_matched = 1`,
    threadIds,
  );
  const files = await all<{ thread_id: number; n: number }>(
    db,
    `SELECT e.thread_id, count(a.id) AS n FROM emails e JOIN email_attachments a ON a.email_id = e.id
      WHERE e.thread_id IN (${marks}) AND e.is_matched = 1 GROUP BY e.thread_id`,
    threadIds,
  );
  for (const id of threadIds) out.set(id, { participants: [], attachments: 0 });
  for (const p of people) out.get(p.thread_id)!.participants.push(p.who);
  for (const f of files) out.get(f.thread_id)!.attachments = f.n;
  return out;
}

/** Messages stored so far for each mailbox (its live copies). */
export async function storedPerAccount(db: Executor): Promise<Map<number, number>> {
  const rows = await all<{ account_id: number; n: number }>(
    db,
    'SELECT account_id, count(*) AS n FROM email_mailbox_messages WHERE deleted_at IS NULL GROUP BY account_id',
  );
  return new Map(rows.map((r) => [r.account_id, r.n]));
}

interface RunningRun {
  id: number;
  account_id: number;
  kind: string;
  messages_seen: number;
  messages_stored: number;
  started_at: string;
}

export async function runningRuns(db: Executor): Promise<Map<number, RunningRun>> {
  const rows = await all<RunningRun>(
    db,
    "SELECT id, account_id, kind, messages_seen, messages_stored, started_at FROM email_sync_runs WHERE status = 'running' AND account_id IS NOT NULL ORDER BY id",
  );
  return new Map(rows.map((r) => [r.account_id, r]));
}

export async function lastFinishedRuns(db: Executor): Promise<Map<number, { status: string; error: string | null; finished_at: string | null; kind: string }>> {
  const rows = await all<{ account_id: number; status: string; error: string | null; finished_at: string | null; kind: string }>(
    db,
    `SELECT r.account_id, r.status, r.error, r.finished_at, r.kind FROM email_sync_runs r
      WHERE r.id = (SELECT max(id) FROM email_sync_runs x WHERE x.account_id = r.account_id AND x.status <> 'running')`,
  );
  return new Map(rows.map((r) => [r.account_id, r]));
}

/** What unenrolling with purge would delete: the mailbox's copies, emails no other mailbox holds, their files. */
export async function purgePreview(db: Executor, accountId: number): Promise<{ copies: number; emails: number; files: number }> {
  const rows = await all<{ copies: number; emails: number; files: number }>(
    db,
    `SELECT (SELECT count(*) FROM email_mailbox_messages WHERE account_id = ?1) AS copies,
            (SELECT count(*) FROM email_mailbox_messages m WHERE m.account_id = ?1
                AND NOT EXISTS (SELECT 1 FROM email_mailbox_messages o WHERE o.email_id = m.email_id AND o.account_id <> ?1)) AS emails,
            (SELECT count(*) FROM email_attachments a JOIN email_mailbox_messages m ON m.email_id = a.email_id AND m.account_id = ?1
              WHERE a.state = 'saved' AND NOT EXISTS (SELECT 1 FROM email_mailbox_messages o WHERE o.email_id = m.email_id AND o.account_id <> ?1)) AS files`,
    [accountId],
  );
  return rows[0]!;
}

/**
 * What a directory change that only narrows matching (deleting a contact or an investor, adding
 * an exclusion) would withdraw: of the candidate emails now matched, those the directory as
 * changed by `change` would no longer match at all. Matching is the rematch's own Matcher over
 * each email's stored participants, so the figure is what the withdrawal will take: those
 * emails lose their bodies, and their saved files are deleted.
 */
export async function withdrawPreview(
  db: Executor,
  internalDomains: string[],
  candidates: number[],
  change: (dir: DirectorySnapshot) => DirectorySnapshot,
): Promise<{ matched: number; emails: number; files: number }> {
  if (!candidates.length) return { matched: 0, emails: 0, files: 0 };
  const matcher = new Matcher(change(await loadDirectory(db, internalDomains)));
  const CHUNK = 500;
  const withdrawn: number[] = [];
  let matched = 0;
  for await (const byEmail of storedParticipants(db, candidates, 1)) {
    matched += byEmail.size;
    for (const [id, list] of byEmail) if (!matcher.match(list).length) withdrawn.push(id);
  }
  let files = 0;
  for (let i = 0; i < withdrawn.length; i += CHUNK) {
    const c = withdrawn.slice(i, i + CHUNK);
    const rows = await all<{ n: number }>(db, `SELECT count(*) AS n FROM email_attachments WHERE state = 'saved' AND email_id IN (${c.map(() => '?').join(',')})`, c);
    files += Number(rows[0]?.n ?? 0);
  }
  return { matched, emails: withdrawn.length, files };
}

/** The emails linked to a contact or an investor now: the ones its deletion re-examines. */
export async function linkedEmailIds(db: Executor, by: { contact_id: number } | { investor_id: number }): Promise<number[]> {
  const [col, id] = 'contact_id' in by ? ['contact_id', by.contact_id] : ['investor_id', by.investor_id];
  const rows = await all<{ email_id: number }>(db, `SELECT DISTINCT email_id FROM email_investor_links WHERE ${col} = ?`, [id]);
  return rows.map((r) => r.email_id);
}

/** The investors a thread belongs to: those its matched emails are linked to, by name. */
export async function threadInvestors(db: Executor, threadId: number): Promise<{ id: number; name: string }[]> {
  return all<{ id: number; name: string }>(
    db,
    `SELECT DISTINCT i.id, i.name FROM emails e
       JOIN email_investor_links l ON l.email_id = e.id
       JOIN investors i ON i.id = l.investor_id
      WHERE e.thread_id = ? AND e.is_matched = 1
      ORDER BY lower(i.name), i.id`,
    [threadId],
  );
}

/** The contacts among these addresses, by lower-case address: whose mail a page can link to a contact page. */
export async function contactsByAddress(db: Executor, addresses: string[]): Promise<Map<string, { id: number; name: string }>> {
  const wanted = [...new Set(addresses.map((a) => a.trim().toLowerCase()).filter(Boolean))];
  const out = new Map<string, { id: number; name: string }>();
  for (let i = 0; i < wanted.length; i += 500) {
    const c = wanted.slice(i, i + 500);
    const rows = await all<{ email: string; id: number; name: string }>(
      db,
      `SELECT ce.email, c.id, c.name FROM contact_emails ce JOIN contacts c ON c.id = ce.contact_id WHERE ce.email IN (${c.map(() => '?').join(',')})`,
      c,
    );
    for (const r of rows) out.set(r.email, { id: r.id, name: r.name });
  }
  return out;
}
