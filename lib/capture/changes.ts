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
import { reindexAttachments, reindexEmails, searchBody } from '../search/index.js';
import { feedAttachmentsChanged, feedEmailsChanged } from '../feed/outbox.js';
import { cleanText } from '../feed/text.js';
import { refreshThreadActivity } from './activity.js';
import { updateActivity } from '../insights/activity.js';

/** Why a body or a row left the store, when the writer knows it. */
export type RemovalReason = 'unmatched' | 'excluded' | 'purged' | 'deleted_everywhere';

export interface ChangeContext {
  now: string;
  reason?: RemovalReason;
  /** Texts the writer derived from the bodies before its transaction, by email id. */
  texts?: PreparedTexts;
}

export interface DerivedText {
  bodyText: string | null;
  bodyHtml: string | null;
  clean: string;
  search: string;
}

/**
 * The feed's clean text and the search index's body of emails about to be written, computed
 * before the write transaction so the costly text work does not hold the write lock (or the
 * event loop inside it). An updater uses an entry only when the bodies it read are the ones
 * the entry was made from; otherwise it derives the text itself, as without the entry.
 */
export class PreparedTexts {
  private readonly byEmail = new Map<number, DerivedText>();

  /** Derive the texts of one body (the caller yields between bodies). */
  static derive(bodyText: string | null, bodyHtml: string | null): DerivedText {
    return { bodyText, bodyHtml, clean: cleanText(bodyText, bodyHtml), search: searchBody(bodyText, bodyHtml) };
  }

  set(emailId: number, d: DerivedText): void {
    this.byEmail.set(emailId, d);
  }

  private entry(emailId: number, bodyText: string | null, bodyHtml: string | null): DerivedText | undefined {
    const d = this.byEmail.get(emailId);
    return d && d.bodyText === bodyText && d.bodyHtml === bodyHtml ? d : undefined;
  }

  cleanFor(emailId: number, bodyText: string | null, bodyHtml: string | null): string | undefined {
    return this.entry(emailId, bodyText, bodyHtml)?.clean;
  }

  searchFor(emailId: number, bodyText: string | null, bodyHtml: string | null): string | undefined {
    return this.entry(emailId, bodyText, bodyHtml)?.search;
  }
}

type Updater = (tx: Executor, ids: number[], ctx: ChangeContext) => Promise<void>;

// Derived stores, in the order they run. Each takes the ids whose emails changed.
const emailUpdaters: Updater[] = [refreshThreadActivity, (tx, ids) => updateActivity(tx, ids), (tx, ids, ctx) => reindexEmails(tx, ids, ctx.texts), feedEmailsChanged];
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
