// Messages that could not be parsed or stored, per mailbox, and the directory version a
// running sync compares before storing a page. A failed message is skipped and tried again
// on later runs, up to MAX_MESSAGE_ATTEMPTS; then it is left alone and reported in status.
import { all, one, run, type Executor } from '../db/client.js';

const MAX_MESSAGE_ATTEMPTS = 3;

export interface MessageFailure {
  gmailId: string;
  reason: string;
}

/** Bumped by triggers in the same transaction as every directory change. */
export async function directoryVersion(db: Executor): Promise<number> {
  const r = await one<{ version: number }>(db, 'SELECT version FROM directory_version WHERE id = 1');
  return Number(r?.version ?? 0);
}

/** Ids of this page the mailbox has given up on. */
export async function givenUpIds(db: Executor, accountId: number, ids: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    if (!chunk.length) break;
    const rows = await all<{ gmail_message_id: string }>(
      db,
      `SELECT gmail_message_id FROM email_message_failures WHERE account_id = ? AND attempts >= ? AND gmail_message_id IN (${chunk.map(() => '?').join(',')})`,
      [accountId, MAX_MESSAGE_ATTEMPTS, ...chunk],
    );
    for (const r of rows) out.add(r.gmail_message_id);
  }
  return out;
}

/** Count this page's failures; a message stored now clears its record. */
export async function recordMessageFailures(tx: Executor, accountId: number, runId: number, nowIso: string, failures: MessageFailure[], attempted: string[]): Promise<void> {
  const failed = new Set(failures.map((f) => f.gmailId));
  const cleared = attempted.filter((id) => !failed.has(id));
  for (let i = 0; i < cleared.length; i += 500) {
    const chunk = cleared.slice(i, i + 500);
    await run(tx, `DELETE FROM email_message_failures WHERE account_id = ? AND gmail_message_id IN (${chunk.map(() => '?').join(',')})`, [accountId, ...chunk]);
  }
  for (const f of failures) {
    await run(
      tx,
      `INSERT INTO email_message_failures (account_id, gmail_message_id, attempts, error, run_id, first_failed_at, last_failed_at)
       VALUES (?, ?, 1, ?, ?, ?, ?)
       ON CONFLICT(account_id, gmail_message_id) DO UPDATE SET attempts = attempts + 1, error = excluded.error, run_id = excluded.run_id, last_failed_at = excluded.last_failed_at`,
      [accountId, f.gmailId, f.reason, runId, nowIso, nowIso],
    );
  }
}

/** Per mailbox: messages given up on, and those still being retried. */
export async function failureCounts(db: Executor): Promise<Map<number, { given_up: number; retrying: number }>> {
  const rows = await all<{ account_id: number; given_up: number; retrying: number }>(
    db,
    `SELECT account_id, sum(attempts >= ?) AS given_up, sum(attempts < ?) AS retrying FROM email_message_failures GROUP BY account_id`,
    [MAX_MESSAGE_ATTEMPTS, MAX_MESSAGE_ATTEMPTS],
  );
  return new Map(rows.map((r) => [r.account_id, { given_up: Number(r.given_up), retrying: Number(r.retrying) }]));
}
