// Gmail's `q` search, the part a sync engine uses: after:/before: (dates read as midnight in
// Gmail's zone, or epoch seconds), newer_than:/older_than:, in:/-in:, label:, is:, rfc822msgid:,
// has:attachment (a part with a file name), larger:/smaller:/size: (the whole message's size;
// a number of bytes, or with K or M; size:N is larger:N).
// Full-text terms are refused rather than silently ignored, so a test never passes on a query
// the emulator did not understand.
import { errors } from './errors.js';
import { buildMessage } from './message.js';
import type { Mailbox, StoredMessage } from './store.js';

interface Query {
  test(msg: StoredMessage): boolean;
  /** The query names Spam or Trash itself, so includeSpamTrash=false does not hide them. */
  namesSpamOrTrash: boolean;
}

const IN_LABEL: Record<string, string | null> = {
  inbox: 'INBOX',
  sent: 'SENT',
  spam: 'SPAM',
  trash: 'TRASH',
  drafts: 'DRAFT',
  draft: 'DRAFT',
  chats: 'CHAT',
  chat: 'CHAT',
  starred: 'STARRED',
  important: 'IMPORTANT',
  unread: 'UNREAD',
  anywhere: null,
};

const IS_LABEL: Record<string, { label: string; negate: boolean }> = {
  unread: { label: 'UNREAD', negate: false },
  read: { label: 'UNREAD', negate: true },
  starred: { label: 'STARRED', negate: false },
  important: { label: 'IMPORTANT', negate: false },
};

function tzOffsetMs(t: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(t));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - Math.floor(t / 1000) * 1000;
}

/** Epoch ms of midnight starting the given calendar day in `timeZone`. */
export function zonedMidnight(year: number, month: number, day: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day);
  let t = guess - tzOffsetMs(guess, timeZone);
  t = guess - tzOffsetMs(t, timeZone);
  return t;
}

function parseWhen(term: string, value: string, timeZone: string): number {
  if (/^\d{9,}$/.test(value)) return Number(value) * 1000;
  const m = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(value) ?? null;
  const us = m ? null : /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  const [y, mo, d] = m ? [m[1], m[2], m[3]] : us ? [us[3], us[1], us[2]] : [];
  if (y === undefined) throw errors.invalidArgument(`Invalid query: ${term}:${value} (expected YYYY/MM/DD or epoch seconds)`);
  const year = Number(y);
  const month = Number(mo);
  const date = Number(d);
  const probe = new Date(Date.UTC(year, month - 1, date));
  if (month < 1 || month > 12 || probe.getUTCDate() !== date) {
    throw errors.invalidArgument(`Invalid query: ${term}:${value} is not a calendar date`);
  }
  return zonedMidnight(year, month, date, timeZone);
}

function parseAge(term: string, value: string): number {
  const m = /^(\d+)([dmy])$/.exec(value);
  if (!m) throw errors.invalidArgument(`Invalid query: ${term}:${value} (expected a number with d, m or y)`);
  const n = Number(m[1]);
  const day = 86_400_000;
  return n * (m[2] === 'd' ? day : m[2] === 'm' ? 30 * day : 365 * day);
}

function tokenize(q: string): string[] {
  const tokens: string[] = [];
  const re = /(-?[a-z_0-9]+:"[^"]*"|-?[a-z_0-9]+:\S+|"[^"]*"|\S+)/gi;
  for (const m of q.matchAll(re)) tokens.push(m[0]);
  return tokens;
}

export function parseQuery(q: string | null | undefined, mb: Mailbox, ctx: { now: number; timeZone: string }): Query {
  const preds: ((m: StoredMessage) => boolean)[] = [];
  let namesSpamOrTrash = false;
  for (const raw of tokenize(q ?? '')) {
    const negate = raw.startsWith('-');
    const tok = negate ? raw.slice(1) : raw;
    const colon = tok.indexOf(':');
    if (colon <= 0) throw errors.invalidArgument(`Invalid query: free-text term "${raw}" is not supported by the emulator`);
    const term = tok.slice(0, colon).toLowerCase();
    const value = tok.slice(colon + 1).replace(/^"|"$/g, '');
    let pred: (m: StoredMessage) => boolean;
    switch (term) {
      case 'after': {
        const t = parseWhen(term, value, ctx.timeZone);
        pred = (m) => m.internalDate >= t;
        break;
      }
      case 'before': {
        const t = parseWhen(term, value, ctx.timeZone);
        pred = (m) => m.internalDate < t;
        break;
      }
      case 'newer_than': {
        const t = ctx.now - parseAge(term, value);
        pred = (m) => m.internalDate >= t;
        break;
      }
      case 'older_than': {
        const t = ctx.now - parseAge(term, value);
        pred = (m) => m.internalDate < t;
        break;
      }
      case 'in': {
        const key = value.toLowerCase();
        if (!(key in IN_LABEL)) throw errors.invalidArgument(`Invalid query: in:${value} is not a folder the emulator knows`);
        const label = IN_LABEL[key];
        if (label === 'SPAM' || label === 'TRASH' || label === null) namesSpamOrTrash = namesSpamOrTrash || !negate;
        pred = label === null ? () => true : (m) => m.labelIds.has(label);
        break;
      }
      case 'category': {
        const label = `CATEGORY_${value.toUpperCase()}`;
        pred = (m) => m.labelIds.has(label);
        break;
      }
      case 'label': {
        const label = resolveLabel(mb, value);
        if (label === null) {
          pred = () => false;
          break;
        }
        if ((label === 'SPAM' || label === 'TRASH') && !negate) namesSpamOrTrash = true;
        pred = (m) => m.labelIds.has(label);
        break;
      }
      case 'is': {
        const is = IS_LABEL[value.toLowerCase()];
        if (!is) throw errors.invalidArgument(`Invalid query: is:${value} is not supported by the emulator`);
        pred = is.negate ? (m) => !m.labelIds.has(is.label) : (m) => m.labelIds.has(is.label);
        break;
      }
      case 'has': {
        if (value.toLowerCase() !== 'attachment') throw errors.invalidArgument(`Invalid query: has:${value} is not supported by the emulator`);
        pred = hasAttachment;
        break;
      }
      case 'larger':
      case 'size': {
        const n = parseSize(term, value);
        pred = (m) => m.raw.length > n;
        break;
      }
      case 'smaller': {
        const n = parseSize(term, value);
        pred = (m) => m.raw.length < n;
        break;
      }
      case 'rfc822msgid': {
        const id = value.replace(/^<|>$/g, '').toLowerCase();
        pred = (m) => m.rfcId === id;
        break;
      }
      default:
        throw errors.invalidArgument(`Invalid query: operator "${term}:" is not supported by the emulator`);
    }
    preds.push(negate ? (m) => !pred(m) : pred);
  }
  return { test: (m) => preds.every((p) => p(m)), namesSpamOrTrash };
}

/** Bytes for larger:/smaller:/size: — a whole number, optionally with K or M (binary, as Gmail counts). */
function parseSize(term: string, value: string): number {
  const m = /^(\d{1,12})([km]?)$/i.exec(value);
  if (!m) throw errors.invalidArgument(`Invalid query: ${term}:${value} (expected bytes, or a number with K or M)`);
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

// Whether a message carries a file is read once per stored message (they never change).
const withFiles = new WeakMap<StoredMessage, boolean>();

function hasAttachment(m: StoredMessage): boolean {
  let known = withFiles.get(m);
  if (known === undefined) {
    const built = buildMessage(m.raw, { id: m.id, threadId: m.threadId, labelIds: [...m.labelIds], internalDate: m.internalDate, historyId: String(m.historyId) });
    const walk = (p: { filename?: string | null; parts?: unknown[] | null } | undefined): boolean =>
      !!p && (!!p.filename || (p.parts ?? []).some((c) => walk(c as typeof p)));
    known = walk(built.full.payload ?? undefined);
    withFiles.set(m, known);
  }
  return known;
}

/** A label id for a label: term, or null when the mailbox has no such label (Gmail then finds nothing). */
function resolveLabel(mb: Mailbox, value: string): string | null {
  const upper = value.toUpperCase().replace(/-/g, '_');
  if (mb.hasLabel(upper)) return upper;
  const special: Record<string, string> = { DRAFTS: 'DRAFT', CHATS: 'CHAT' };
  if (special[upper]) return special[upper]!;
  for (const l of mb.userLabels.values()) {
    if (l.name.toLowerCase() === value.toLowerCase() || l.name.toLowerCase().replace(/\s+/g, '-') === value.toLowerCase()) return l.id;
  }
  return null;
}
