// Just enough header reading for the mailbox itself: threading (Message-ID, In-Reply-To,
// References, Subject), the sender, and the per-copy differences Gmail shows
// (receivers' copies gain Delivered-To, only the sender's copy keeps Bcc). Rendering messages
// for the API is message.ts's job.
import { decodeWords, headerText } from './mime.js';

export interface HeaderField {
  name: string;
  value: string;
}

interface HeaderSummary {
  /** Normalised (lower case, no brackets) Message-ID, or null. */
  messageId: string | null;
  /** Normalised ids from In-Reply-To and References. */
  refs: string[];
  /** Subject with reply/forward prefixes removed, lower case, for Gmail-style thread joining. */
  subjectKey: string;
  from: string | null;
}

/** Byte offset where the header block ends (after the blank line), the header lines unfolded. */
export function readHeaderBlock(raw: Buffer): { fields: HeaderField[]; bodyStart: number } {
  // Headers are looked at as latin1 so byte offsets equal string offsets.
  const limit = Math.min(raw.length, 1 << 20);
  const src = raw.toString('latin1', 0, limit);
  const fields: HeaderField[] = [];
  let pos = 0;
  let bodyStart = src.length;
  while (pos < src.length) {
    const nl = src.indexOf('\n', pos);
    const lineEnd = nl < 0 ? src.length : nl;
    const next = nl < 0 ? src.length : nl + 1;
    const line = src.slice(pos, lineEnd).replace(/\r$/, '');
    if (line === '') {
      bodyStart = next;
      break;
    }
    if (/^[ \t]/.test(line) && fields.length) {
      fields[fields.length - 1]!.value += line;
    } else {
      const m = /^[ \t]*([!-9;-~]+)[ \t]*:(.*)$/.exec(line);
      if (m) fields.push({ name: m[1]!, value: m[2]! });
      else if (!(pos === 0 && line.startsWith('From '))) {
        bodyStart = pos;
        break;
      }
    }
    pos = next;
  }
  return { fields: fields.map((f) => ({ name: f.name, value: f.value.trim() })), bodyStart };
}

function first(fields: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

const ANGLE_ID = /<([^<>\s]+)>/g;

function messageIdsIn(value: string | undefined): string[] {
  if (!value) return [];
  const ids: string[] = [];
  for (const m of value.matchAll(ANGLE_ID)) ids.push(m[1]!.toLowerCase());
  // Some mailers write a bare id without brackets.
  if (ids.length === 0) {
    const bare = value.trim();
    if (/^[^\s<>]+@[^\s<>]+$/.test(bare)) ids.push(bare.toLowerCase());
  }
  return ids;
}

const REPLY_PREFIX = /^\s*((re|fwd?|aw|wg|sv|antw|vs|rif|tr)\s*(\[\d+\])?\s*:\s*)+/i;

export function subjectKey(subject: string | undefined): string {
  if (!subject) return '';
  const decoded = decodeWords(headerText(subject, null));
  return decoded.replace(REPLY_PREFIX, '').replace(/\s+/g, ' ').trim().toLowerCase();
}

export function summarise(raw: Buffer): HeaderSummary {
  const { fields } = readHeaderBlock(raw);
  const mid = messageIdsIn(first(fields, 'Message-ID'))[0] ?? null;
  const refs = [...new Set([...messageIdsIn(first(fields, 'In-Reply-To')), ...messageIdsIn(first(fields, 'References'))])];
  return {
    messageId: mid,
    refs: refs.filter((r) => r !== mid),
    subjectKey: subjectKey(first(fields, 'Subject')),
    from: first(fields, 'From') ?? null,
  };
}

/**
 * A receiver's copy: `Delivered-To` prepended and any `Bcc` field removed, as Gmail stores it.
 * Mail whose first line is not a plain header field (an mbox `From ` line, a BOM, an indented
 * first header) is kept byte for byte: a prepended field would change how it parses.
 */
export function receiverCopy(raw: Buffer, recipient: string): Buffer {
  if (!/^[!-9;-~]+[ \t]*:/.test(raw.toString('latin1', 0, Math.min(raw.length, 200)))) return raw;
  const { bodyStart } = readHeaderBlock(raw);
  const head = raw.toString('latin1', 0, bodyStart);
  const lines = head.split(/(?<=\n)/);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line) && dropping) continue;
    dropping = /^bcc[ \t]*:/i.test(line);
    if (!dropping) kept.push(line);
  }
  const eol = head.includes('\r\n') ? '\r\n' : '\n';
  const newHead = `Delivered-To: ${recipient}${eol}${kept.join('')}`;
  return Buffer.concat([Buffer.from(newHead, 'latin1'), raw.subarray(bodyStart)]);
}
