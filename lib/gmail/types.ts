// The surface the sync engine sees of one mailbox's Gmail: paced, retried, and with auth
// failures turned into a decision about the mailbox (GmailStop), never a retry.
import type { gmail_v1 } from '@googleapis/gmail';
import { AppError } from '../core/errors.js';
import type { AuthMethod } from '../core/config.js';

export type GmailMessage = gmail_v1.Schema$Message;
export type GmailHistory = gmail_v1.Schema$History;
export interface GmailThread {
  id: string;
  messages: GmailMessage[];
}

export type GmailMethod =
  | 'getProfile'
  | 'labels.list'
  | 'history.list'
  | 'messages.list'
  | 'threads.list'
  | 'messages.get'
  | 'messages.attachments.get'
  | 'threads.get';

export interface GmailCallStats {
  quotaUnits: number;
  calls: number;
  retries: number;
  rateLimited: number;
  bytes: number;
}

export interface ListMessagesResult {
  messages: { id: string; threadId: string }[];
  nextPageToken?: string;
}

export interface ListHistoryResult {
  history: GmailHistory[];
  nextPageToken?: string;
  historyId: string;
}

export interface GmailApi {
  readonly email: string;
  getProfile(): Promise<{ emailAddress: string; historyId: string; messagesTotal?: number }>;
  /** Throws InvalidPageToken when Gmail refuses `pageToken` (400), e.g. one kept across a long pause. */
  listMessages(opts: { pageToken?: string; maxResults: number; q?: string; includeSpamTrash?: boolean }): Promise<ListMessagesResult>;
  /** `null` when Gmail answers 404: the message was deleted since it was listed. */
  getMessage(id: string, format?: 'full' | 'metadata' | 'minimal' | 'raw'): Promise<GmailMessage | null>;
  /**
   * Every message of one of this mailbox's Gmail threads (format full, oldest first, spam and
   * trash included), or `null` on 404. Optional: a client without it is fetched message by message.
   */
  getThread?(id: string): Promise<GmailThread | null>;
  /** Attachment bytes, or `null` on 404 (message gone or attachment id expired). */
  /**
   * `expectedBytes`: the part's size as the message listed it, so the bytes can be laid out once
   * as they arrive; `maxBytes`: past it reading stops and PAYLOAD_TOO_LARGE is thrown.
   */
  getAttachment(messageId: string, attachmentId: string, opts?: { expectedBytes?: number; maxBytes?: number }): Promise<Buffer | null>;
  /** `null` when Gmail answers 404: startHistoryId is older than Gmail keeps; do a full backfill. */
  listHistory(opts: { startHistoryId: string; pageToken?: string }): Promise<ListHistoryResult | null>;
  /** Counters since the client was made (a run reads them to fill its row). */
  readonly stats: GmailCallStats;
  /** Units per second the client currently allows itself (adaptive; ≤ the configured budget). */
  readonly paceUnitsSec: number;
}

export interface GmailAccountRef {
  id: number;
  email: string;
  auth_method: AuthMethod;
  /** Pace learned on an earlier run (units/s), if any. */
  learned_units_sec?: number | null;
  /** Decrypted OAuth refresh token, for auth_method = oauth. Never logged. */
  refresh_token?: string | null;
}

export type GmailFactory = (account: GmailAccountRef) => GmailApi;

type StopState = 'auth_error' | 'needs_consent' | 'error';

/**
 * Gmail or Google's token endpoint said something that retrying cannot fix for this mailbox
 * (DWD not authorised, refresh token revoked, daily limit, no Gmail service). The message
 * tells the admin what to fix; `state` is what the mailbox's account row becomes.
 */
export class GmailStop extends AppError {
  constructor(
    readonly state: StopState,
    message: string,
    cause?: unknown,
  ) {
    super(state === 'error' ? 'UPSTREAM' : 'GMAIL_AUTH', message, { cause, retryable: false });
    this.name = 'GmailStop';
  }
}

/** Gmail refused a stored page token (400 Invalid pageToken): the listing must start again. */
export class InvalidPageToken extends AppError {
  constructor(message: string, cause?: unknown) {
    super('UPSTREAM', message, { cause, retryable: false });
    this.name = 'InvalidPageToken';
  }
}
