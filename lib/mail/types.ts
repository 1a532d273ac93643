// What the sync engine needs from one Gmail message, decoded (see lib/mail/mime.ts).
export interface Address {
  address: string; // lower case
  name: string | null;
}

interface AttachmentPart {
  partId: string;
  filename: string;
  mimeType: string;
  size: number;
  /** Gmail's id at the time of this fetch; ephemeral, refetch the message before download. */
  attachmentId: string | null;
  contentId: string | null;
  inline: boolean;
}

export interface ParsedMessage {
  gmailId: string;
  gmailThreadId: string;
  labelIds: string[];
  internalDate: number; // epoch ms
  /** Message-ID without angle brackets, case kept; null when absent. */
  messageId: string | null;
  /** Unique key across mailboxes: `mid:<lower-cased Message-ID>` or `hash:<sha256 of From/To/Cc/Subject/Date>`. */
  dedupKey: string;
  /** Normalised (lower-cased, no brackets) ids from In-Reply-To and References. */
  inReplyTo: string[];
  references: string[];
  subject: string | null;
  from: Address | null;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  replyTo: Address[];
  /**
   * How many addresses a role's header held, for the roles cut to their first
   * MAX_PARTICIPANTS_PER_ROLE (`{to: 10000}`); null when nothing was cut.
   */
  participantCounts: Record<string, number> | null;
  /** ISO 8601 UTC: the Date header when plausible, else internalDate. */
  sentAt: string;
  bodyText: string | null;
  bodyHtml: string | null;
  snippet: string | null;
  /** text/plain or text/html body parts Gmail delivered as an attachmentId instead of data. */
  pendingBodyParts: { partId: string; attachmentId: string; mimeType: 'text/plain' | 'text/html'; charset: string | null; transferEncoding: string | null }[];
  attachments: AttachmentPart[];
  sizeEstimate: number | null;
}
