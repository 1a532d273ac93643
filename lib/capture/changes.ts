// Derived state kept in step with the mail. Every writer that changes what a reader of an
// email can see — stored, matched or unmatched, bodies gained or dropped, links, thread,
// a copy's labels or deletion, the row itself deleted — calls emailsChanged() inside its
// own write transaction, after its change, with the ids it touched. Each derived store
// (search index, change feed, relationship activity) reads the email's current rows and
// brings itself in line, so the mail and everything derived from it commit together or
// not at all, and a crash between the two cannot happen.
//
// Updaters must be idempotent over the current rows: the same id may be reported twice,
// and an id whose row is gone means the email was deleted.
import type { Executor } from '../db/client.js';
import { reindexAttachments, reindexEmails } from '../search/index.js';
import { feedAttachmentsChanged, feedEmailsChanged } from '../feed/outbox.js';
import { refreshThreadActivity } from './activity.js';
import { updateActivity } from '../insights/activity.js';

/** Why a body or a row left the store, when the writer knows it. */
export type RemovalReason = 'unmatched' | 'excluded' | 'purged' | 'deleted_everywhere';

export interface ChangeContext {
  now: string;
  reason?: RemovalReason;
}

type Updater = (tx: Executor, ids: number[], ctx: ChangeContext) => Promise<void>;

// Derived stores, in the order they run. Each takes the ids whose emails changed.
const emailUpdaters: Updater[] = [refreshThreadActivity, (tx, ids) => updateActivity(tx, ids), (tx, ids) => reindexEmails(tx, ids), feedEmailsChanged];
const attachmentUpdaters: Updater[] = [(tx, ids) => reindexAttachments(tx, ids), feedAttachmentsChanged];

export async function emailsChanged(tx: Executor, emailIds: Iterable<number>, ctx: ChangeContext): Promise<void> {
  const ids = [...new Set(emailIds)];
  if (!ids.length) return;
  for (const u of emailUpdaters) await u(tx, ids, ctx);
}

/** A file was saved, failed, or its row went; ids are `email_attachments.id`. */
export async function attachmentsChanged(tx: Executor, attachmentIds: Iterable<number>, ctx: ChangeContext): Promise<void> {
  const ids = [...new Set(attachmentIds)];
  if (!ids.length) return;
  for (const u of attachmentUpdaters) await u(tx, ids, ctx);
}
