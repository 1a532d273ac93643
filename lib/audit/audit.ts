// The audit log: who changed the directory, the exclusions or the enrolled mailboxes, which
// directory changes waited for review, and what rematch purged. Entries are written in the
// same transaction as the change they describe, so a change without its entry cannot commit.
import type { Actor } from '../core/deps.js';
import { all, run, type Executor } from '../db/client.js';

interface AuditEntryInput {
  at: string;
  /** Absent for the command line and the scheduler. */
  actor?: Pick<Actor, 'id' | 'username'> | null;
  action: string;
  target?: string | null;
  detail?: Record<string, unknown>;
}

export async function recordAudit(db: Executor, e: AuditEntryInput): Promise<void> {
  await run(db, 'INSERT INTO audit_log (at, user_id, username, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)', [
    e.at,
    e.actor?.id ?? null,
    e.actor?.username ?? null,
    e.action,
    e.target ?? null,
    JSON.stringify(e.detail ?? {}),
  ]);
}

interface AuditEntry {
  id: number;
  at: string;
  user: { id: number; username: string } | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
}

/** Newest first; `before` is the id the previous page ended at. */
export async function readAudit(db: Executor, opts: { limit: number; before?: number }): Promise<{ entries: AuditEntry[]; next_cursor: string | null }> {
  const rows = await all<{ id: number; at: string; user_id: number | null; username: string | null; action: string; target: string | null; detail: string }>(
    db,
    `SELECT id, at, user_id, username, action, target, detail FROM audit_log ${opts.before !== undefined ? 'WHERE id < ?' : ''} ORDER BY id DESC LIMIT ?`,
    opts.before !== undefined ? [opts.before, opts.limit + 1] : [opts.limit + 1],
  );
  const page = rows.slice(0, opts.limit);
  return {
    entries: page.map((r) => ({
      id: r.id,
      at: r.at,
      user: r.user_id !== null ? { id: r.user_id, username: r.username ?? '' } : null,
      action: r.action,
      target: r.target,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    })),
    next_cursor: rows.length > opts.limit ? String(page[page.length - 1]!.id) : null,
  };
}
