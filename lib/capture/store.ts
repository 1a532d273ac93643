// Writing one page of fetched messages: emails (deduplicated), the mailbox's copies,
// participants, investor links, attachment rows and threads. Runs inside the caller's
// transaction so a page and its checkpoint land together or not at all.
import type { Executor } from '../db/client.js';
import { all, one, run } from '../db/client.js';
import type { MatchLink } from '../matching/matcher.js';
import type { Address, ParsedMessage } from '../mail/types.js';
import { emailsChanged } from './changes.js';
import { assignThread, refreshThreads, threadKeys } from './threading.js';

/** A fetched message, matched against the directory; bodies are present only when matched. */
export interface ProcessedMessage {
  parsed: ParsedMessage;
  links: MatchLink[];
}

export interface StoreContext {
  accountId: number;
  now: string;
  maxAttachmentBytes: number;
}

export interface StoreResult {
  stored: number;
  newlyMatchedEmailIds: number[];
  threads: Set<number>;
}

export function participantsOf(m: ParsedMessage): { address: string; name: string | null; role: string }[] {
  const out: { address: string; name: string | null; role: string }[] = [];
  const add = (role: string, list: (Address | null)[]) => {
    for (const a of list) if (a?.address) out.push({ address: a.address, name: a.name, role });
  };
  add('from', [m.from]);
  add('to', m.to);
  add('cc', m.cc);
  add('bcc', m.bcc);
  add('reply_to', m.replyTo);
  return out;
}

export async function storeMessages(tx: Executor, ctx: StoreContext, msgs: ProcessedMessage[]): Promise<StoreResult> {
  const result: StoreResult = { stored: 0, newlyMatchedEmailIds: [], threads: new Set() };
  const merged = new Set<number>();
  // Every email whose visible state this page changed, for the derived stores.
  const touched = new Set<number>();
  for (const { parsed: m, links } of msgs) {
    const existingCopy = await one<{ email_id: number }>(
      tx,
      'SELECT email_id FROM email_mailbox_messages WHERE account_id = ? AND gmail_message_id = ?',
      [ctx.accountId, m.gmailId],
    );
    if (existingCopy) {
      await run(tx, 'UPDATE email_mailbox_messages SET label_ids = ?, updated_at = ? WHERE account_id = ? AND gmail_message_id = ?', [
        JSON.stringify(m.labelIds),
        ctx.now,
        ctx.accountId,
        m.gmailId,
      ]);
      touched.add(existingCopy.email_id);
      continue;
    }

    const email = (await one<{ id: number; thread_id: number | null; is_matched: number; has_body: number }>(
      tx,
      `INSERT INTO emails (dedup_key, rfc822_message_id, subject, from_address, from_name, sent_at, internal_date,
                           in_reply_to, references_json, size_estimate, participant_counts, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(dedup_key) DO UPDATE SET updated_at = excluded.updated_at
       RETURNING id, thread_id, is_matched, (body_text IS NOT NULL OR body_html IS NOT NULL) AS has_body`,
      [
        m.dedupKey,
        m.messageId,
        m.subject,
        m.from?.address ?? null,
        m.from?.name ?? null,
        m.sentAt,
        new Date(m.internalDate).toISOString(),
        m.inReplyTo[0] ?? null,
        JSON.stringify(m.references),
        m.sizeEstimate,
        m.participantCounts ? JSON.stringify(m.participantCounts) : null,
        ctx.now,
        ctx.now,
      ],
    ))!;

    const parts = participantsOf(m);
    if (parts.length) {
      await run(
        tx,
        `INSERT INTO email_participants (email_id, address, name, role) VALUES ${parts.map(() => '(?, ?, ?, ?)').join(',')}
         ON CONFLICT DO NOTHING`,
        parts.flatMap((p) => [email.id, p.address, p.name, p.role]),
      );
    }
    if (links.length) await insertLinks(tx, email.id, links, ctx.now);

    // Matching is per email over every copy's participants: a Bcc only the sender's copy
    // shows can make an email matched after another mailbox stored it metadata-only.
    const matched = email.is_matched === 1 || links.length > 0;
    if (matched && (email.is_matched === 0 || email.has_body === 0)) {
      await run(tx, 'UPDATE emails SET is_matched = 1, body_text = ?, body_html = ?, snippet = ?, updated_at = ? WHERE id = ?', [
        m.bodyText,
        m.bodyHtml,
        // A matched email's snippet is never NULL: NULL means "body withheld" to rematch.
        m.snippet ?? '',
        ctx.now,
        email.id,
      ]);
      await recordAttachments(tx, email.id, m, ctx);
      if (email.is_matched === 0) result.newlyMatchedEmailIds.push(email.id);
    }

    await run(
      tx,
      `INSERT INTO email_mailbox_messages (account_id, gmail_message_id, gmail_thread_id, email_id, label_ids, internal_date, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [ctx.accountId, m.gmailId, m.gmailThreadId, email.id, JSON.stringify(m.labelIds), new Date(m.internalDate).toISOString(), ctx.now, ctx.now],
    );
    result.stored++;

    const { threadId, merged: gone, moved } = await assignThread(tx, threadKeys(ctx.accountId, m), email.thread_id);
    for (const g of gone) merged.add(g);
    for (const id of moved) touched.add(id);
    touched.add(email.id);
    if (email.thread_id !== threadId) await run(tx, 'UPDATE emails SET thread_id = ? WHERE id = ?', [threadId, email.id]);
    result.threads.add(threadId);
  }
  for (const g of merged) result.threads.delete(g);
  await refreshThreads(tx, result.threads);
  await emailsChanged(tx, touched, { now: ctx.now });
  return result;
}

export async function insertLinks(tx: Executor, emailId: number, links: MatchLink[], now: string): Promise<void> {
  await run(
    tx,
    `INSERT INTO email_investor_links (email_id, investor_id, contact_id, match_kind, confidence, address, created_at)
     VALUES ${links.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(',')} ON CONFLICT DO NOTHING`,
    links.flatMap((l) => [emailId, l.investor_id, l.contact_id, l.match_kind, l.confidence, l.address, now]),
  );
}

/** Attachment rows for a matched email: `pending` for the attachment step, `too_large` never downloaded. */
export async function recordAttachments(tx: Executor, emailId: number, m: ParsedMessage, ctx: Pick<StoreContext, 'now' | 'maxAttachmentBytes'>): Promise<void> {
  if (!m.attachments.length) return;
  await run(
    tx,
    `INSERT INTO email_attachments (email_id, part_id, filename, mime_type, size, content_id, is_inline, state, created_at, updated_at)
     VALUES ${m.attachments.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(',')} ON CONFLICT(email_id, part_id) DO NOTHING`,
    m.attachments.flatMap((a) => [
      emailId,
      a.partId,
      a.filename,
      a.mimeType,
      a.size,
      a.contentId,
      a.inline ? 1 : 0,
      a.size > ctx.maxAttachmentBytes ? 'too_large' : 'pending',
      ctx.now,
      ctx.now,
    ]),
  );
}

/** Gmail ids of this page that the mailbox already holds (a resumed page stores nothing twice). */
export async function knownGmailIds(db: Executor, accountId: number, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await all<{ gmail_message_id: string }>(
    db,
    `SELECT gmail_message_id FROM email_mailbox_messages WHERE account_id = ? AND gmail_message_id IN (${ids.map(() => '?').join(',')})`,
    [accountId, ...ids],
  );
  return new Set(rows.map((r) => r.gmail_message_id));
}
