// Decoding of Gmail `full` messages into what the sync engine stores (ParsedMessage), plus the
// header-level helpers (structured values, RFC 2047 / 2231, charsets) that the Gmail emulator
// shares so both sides read MIME the same way.
import { createHash } from 'node:crypto';
import { TextDecoder } from 'node:util';
import { addressParser, decodeWords } from 'postal-mime';
import type { gmail_v1 } from '@googleapis/gmail';
import { normalizeAddress, trimTrailing } from './address.js';
import { AppError } from '../core/errors.js';
import type { GmailMessage } from '../gmail/types.js';
import type { Address, ParsedMessage } from './types.js';

const ENCODED_WORD = /=\?[^?\s]+\?[bBqQ]\?[^?]*\?=/;

// Caps on what a sender controls, applied before any parsing so every parser below sees
// bounded input and the store receives bounded rows (SQL variables, index sizes).
/** Longest header value kept once decoded, in UTF-16 code units (a Subject, a Content-Type). */
export const MAX_HEADER_CHARS = 16 * 1024;
/** Longest raw (still encoded) header value read: encoded words take up to ~4× their text. */
const MAX_RAW_HEADER_CHARS = 4 * MAX_HEADER_CHARS;
/** Address headers (To, Cc …) are parsed from at most this much text per role. */
const MAX_ADDRESS_HEADER_CHARS = 32 * 1024;
/** Addresses kept per role; the full count is recorded beside them. */
export const MAX_PARTICIPANTS_PER_ROLE = 500;
/** References keep their last ids (the nearest ancestors); In-Reply-To its first few. */
const MAX_REFERENCES = 100;
const MAX_IN_REPLY_TO = 5;
/** File names are cut to this many UTF-8 bytes (what file systems allow). */
export const MAX_FILENAME_BYTES = 255;
/** Attachment rows kept per message, and MIME parts visited at all. */
const MAX_ATTACHMENTS = 1000;
const MAX_PARTS = 5000;

/** `s` cut to at most `max` UTF-16 code units without leaving half a surrogate pair. */
function capChars(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, end);
}

/** `s` cut to at most `max` UTF-8 bytes on a code point boundary. */
function capUtf8Bytes(s: string, max: number): string {
  if (s.length * 3 <= max || Buffer.byteLength(s, 'utf8') <= max) return s;
  let bytes = 0;
  let out = '';
  for (const ch of capChars(s, max)) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > max) break;
    bytes += n;
    out += ch;
  }
  return out;
}

/**
 * Decodes RFC 2047 encoded words. Gmail may hand a header value already decoded or still
 * encoded, so decoding only happens when an encoded word is present: decoding twice is harmless.
 */
export function decodeHeaderWords(value: string): string {
  value = capChars(value, MAX_RAW_HEADER_CHARS);
  if (!ENCODED_WORD.test(value)) return capChars(value, MAX_HEADER_CHARS);
  try {
    return capChars(fixC1(decodeWords(value)), MAX_HEADER_CHARS);
  } catch {
    return capChars(value, MAX_HEADER_CHARS);
  }
}

/** Bytes to text in one charset; never throws. */
interface CharsetDecoder {
  decode(bytes: Uint8Array): string;
}

// Node 20's TextDecoder decodes windows-1252 (and every label WHATWG maps to it: iso-8859-1,
// us-ascii, latin1 …) as plain ISO-8859-1, turning 0x80–0x9F into C1 controls instead of
// “smart quotes”, € and friends. Those 32 bytes are mapped here.
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const win1252: CharsetDecoder = {
  decode(bytes) {
    return fixC1(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'));
  },
};

/**
 * postal-mime decodes encoded words with the runtime's TextDecoder, so on Node 20 a
 * windows-1252 / iso-8859-1 word comes back with C1 controls where “ ” € were meant. C1
 * controls never belong in header text, so they are read as the windows-1252 characters.
 */
function fixC1(s: string): string {
  return /[\x80-\x9f]/.test(s) ? s.replace(/[\x80-\x9f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!) : s;
}

const decoderCache = new Map<string, CharsetDecoder>();

const CHARSET_ALIASES: Record<string, string> = {
  ascii: 'windows-1252',
  'us-ascii': 'windows-1252',
  'ansi_x3.4-1968': 'windows-1252',
  latin1: 'iso-8859-1',
  cp1252: 'windows-1252',
  'x-cp1252': 'windows-1252',
  'ks_c_5601-1987': 'euc-kr',
  'x-gbk': 'gbk',
  gb2312: 'gbk',
  'x-sjis': 'shift_jis',
  'x-euc-jp': 'euc-jp',
  utf8: 'utf-8',
  'x-unknown': 'utf-8',
};

function makeDecoder(label: string): CharsetDecoder | null {
  try {
    const d = new TextDecoder(label, { fatal: false });
    return d.encoding === 'windows-1252' ? win1252 : d;
  } catch {
    return null;
  }
}

/** A non-throwing decoder for a MIME charset label; null when the label is unknown. */
function decoderFor(charset: string | null | undefined): CharsetDecoder | null {
  const label = (charset ?? '').trim().toLowerCase().replace(/^["']|["']$/g, '');
  if (!label) return null;
  const cached = decoderCache.get(label);
  if (cached) return cached;
  const aliased = CHARSET_ALIASES[label];
  const cp = /^(?:cp|windows|ms|ibm|x-cp)-?(\d{3,4})$/.exec(label);
  const candidates = [
    label,
    aliased,
    cp ? `windows-${cp[1]}` : undefined,
    label.replace(/^(?:x-|cs)/, ''),
  ].filter((x): x is string => !!x);
  for (const c of candidates) {
    const d = makeDecoder(c);
    if (d) {
      decoderCache.set(label, d);
      return d;
    }
  }
  return null;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes to text in the named charset. An unknown or absent charset never throws: the bytes are
 * read as UTF-8 when they are valid UTF-8, else as windows-1252 (the usual truth of unlabelled 8-bit mail).
 */
export function decodeCharset(bytes: Uint8Array, charset: string | null | undefined): string {
  const d = decoderFor(charset);
  if (d) {
    // Mail labelled ASCII is often really UTF-8; prefer UTF-8 when the bytes are valid UTF-8.
    if (/^(?:us-)?ascii$/i.test((charset ?? '').trim())) return guessDecode(bytes);
    return d.decode(bytes);
  }
  return guessDecode(bytes);
}

function guessDecode(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return win1252.decode(bytes);
  }
}

/**
 * Header bytes (seen as a latin1 string, one char per byte) to text: UTF-8 when valid, else the
 * charset the message declares when known, else windows-1252.
 */
export function decodeRawHeaderBytes(latin1: string, fallbackCharset?: string | null): string {
  if (!/[\x80-\xff]/.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, 'latin1');
  try {
    return utf8Strict.decode(bytes);
  } catch {
    const d = /^(?:utf-?8|(?:us-)?ascii)$/i.test(fallbackCharset ?? '') ? null : decoderFor(fallbackCharset);
    return (d ?? win1252).decode(bytes);
  }
}

export interface StructuredValue {
  /** The main token, lower case (e.g. `text/plain`, `attachment`); '' when absent. */
  value: string;
  /** Parameters by lower-cased name, decoded (RFC 2231 continuations and charsets, RFC 2047 words). */
  params: Record<string, string>;
}

/**
 * The quoted-string at the start of `val` (which opens with `"`), escapes undone. It ends at
 * its closing quote: stray text after it (`"a b.txt" x`) is not part of the value. A string
 * never closed runs to the end, as mail clients read it.
 */
function unquote(val: string): string {
  let out = '';
  for (let i = 1; i < val.length; i++) {
    const ch = val[i]!;
    if (ch === '\\' && i + 1 < val.length) out += val[++i];
    else if (ch === '"') return out;
    else out += ch;
  }
  return out;
}

/**
 * Parses `type/subtype; a=b; c="d;e"; name*0*=utf-8''%E2%82%AC; name*1=x` leniently: unquoted
 * values with tspecials, stray semicolons and unterminated quotes are tolerated.
 */
export function parseStructuredHeader(raw: string | null | undefined): StructuredValue {
  const s = capChars(raw ?? '', MAX_RAW_HEADER_CHARS).replace(/\r?\n[ \t]*/g, ' ');
  const pieces: string[] = [];
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (inQuote) {
      if (ch === '\\' && i + 1 < s.length) {
        cur += ch + s[++i];
        continue;
      }
      if (ch === '"') inQuote = false;
      cur += ch;
      continue;
    }
    if (ch === '"') {
      inQuote = true;
      cur += ch;
    } else if (ch === ';') {
      pieces.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  pieces.push(cur);

  const value = (pieces.shift() ?? '').trim().toLowerCase().split(/\s+/)[0] ?? '';
  const plain = new Map<string, string>();
  const extended = new Map<string, { index: number; encoded: boolean; text: string }[]>();
  for (const piece of pieces) {
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    const key = piece.slice(0, eq).trim().toLowerCase();
    if (!key) continue;
    let val = piece.slice(eq + 1).trim();
    if (val.startsWith('"')) val = unquote(val);
    const ext = /^(.+?)\*(?:(\d+)(\*)?)?$/.exec(key);
    if (ext) {
      const base = ext[1]!;
      const index = ext[2] === undefined ? 0 : Number(ext[2]);
      const encoded = ext[2] === undefined ? true : ext[3] === '*';
      const list = extended.get(base) ?? [];
      list.push({ index, encoded, text: val });
      extended.set(base, list);
    } else if (!plain.has(key)) {
      plain.set(key, val);
    }
  }

  const params: Record<string, string> = {};
  for (const [k, v] of plain) params[k] = decodeHeaderWords(v);
  for (const [k, list] of extended) {
    const decoded = decodeRfc2231(list);
    if (decoded !== null) params[k] = decoded;
  }
  return { value, params };
}

function decodeRfc2231(list: { index: number; encoded: boolean; text: string }[]): string | null {
  list.sort((a, b) => a.index - b.index);
  let charset: string | null = null;
  const bytes: number[] = [];
  list.forEach((seg, i) => {
    let text = seg.text;
    if (seg.encoded && i === 0) {
      const m = /^([^']*)'[^']*'(.*)$/s.exec(text);
      if (m) {
        charset = m[1] || null;
        text = m[2]!;
      }
    }
    if (seg.encoded) {
      for (let j = 0; j < text.length; j++) {
        const ch = text[j]!;
        if (ch === '%' && /^[0-9a-fA-F]{2}$/.test(text.slice(j + 1, j + 3))) {
          bytes.push(parseInt(text.slice(j + 1, j + 3), 16));
          j += 2;
        } else {
          for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
        }
      }
    } else {
      for (const b of Buffer.from(text, 'utf8')) bytes.push(b);
    }
  });
  if (!list.length) return null;
  return decodeHeaderWords(decodeCharset(Uint8Array.from(bytes), charset));
}

/** A part's file name as Gmail shows it: Content-Disposition filename, else Content-Type name; '' when none. */
export function filenameFrom(contentType: StructuredValue, disposition: StructuredValue): string {
  const name = disposition.params.filename ?? contentType.params.name ?? '';
  return capUtf8Bytes(name.replace(/[\r\n\t]+/g, ' ').trim(), MAX_FILENAME_BYTES);
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  bull: '•',
  middot: '·',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  zwnj: '\u200c',
  zwj: '\u200d',
};

/** Decodes HTML character references (Gmail escapes its `snippet`); unknown names are left as written. */
function decodeHtmlEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});/g, (all, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
        ? String.fromCodePoint(code)
        : all;
    }
    return NAMED_ENTITIES[e] ?? NAMED_ENTITIES[e.toLowerCase()] ?? all;
  });
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0,
  edt: -4 * 60, est: -5 * 60, cdt: -5 * 60, cst: -6 * 60, mdt: -6 * 60, mst: -7 * 60, pdt: -7 * 60, pst: -8 * 60,
};

const RFC5322_DATE =
  /^\s*(?:[a-z]{2,}\.?,?\s*)?(\d{1,2})[\s-]+([a-z]{3,})\.?,?[\s-]+(\d{2,4}),?\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?\s*(?:([+-])(\d{2}):?(\d{2})\b|\(?\b([a-z]{1,5})\b\)?)?/i;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const ASCTIME_DATE = /^(?:[a-z]{3},?\s+)?([a-z]{3})[a-z]*\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:[a-z]{1,5}\s+)?(\d{4})\b/i;

/**
 * Epoch ms of a Date header (RFC 5322, obsolete forms, ISO 8601, asctime), or null when it does
 * not name an instant. Strict on purpose: a lenient parse of garbage would invent a date.
 */
export function parseMailDate(value: string | null | undefined): number | null {
  if (!value) return null;
  const s = foldDate(value);
  if (s === null) return null;
  const m = RFC5322_DATE.exec(s);
  if (m) {
    const day = Number(m[1]);
    const month = MONTHS[m[2]!.slice(0, 3).toLowerCase()];
    let year = Number(m[3]);
    if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3]!.length === 3) year += 1900;
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = m[6] === undefined ? 0 : Number(m[6]);
    if (month === undefined) return null;
    let offsetMin = 0;
    if (m[7]) {
      offsetMin = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
    } else if (m[10]) {
      // Unknown zone names (and RFC 822 military letters, which were defined backwards) count as UTC.
      offsetMin = ZONES[m[10].toLowerCase()] ?? 0;
    }
    return utcParts(year, month, day, hour, minute, second, offsetMin);
  }
  const iso = ISO_DATE.exec(s);
  if (iso) {
    const zone = iso[7] ? (iso[7].toUpperCase() === 'Z' ? 'Z' : iso[7].length === 5 ? `${iso[7].slice(0, 3)}:${iso[7].slice(3)}` : iso[7]) : 'Z';
    const t = Date.parse(`${iso[1]}-${iso[2]}-${iso[3]}T${iso[4]}:${iso[5]}:${iso[6] ?? '00'}${zone}`);
    return Number.isFinite(t) ? t : null;
  }
  const asc = ASCTIME_DATE.exec(s);
  if (asc) {
    const month = MONTHS[asc[1]!.slice(0, 3).toLowerCase()];
    if (month === undefined) return null;
    return utcParts(Number(asc[6]), month, Number(asc[2]), Number(asc[3]), Number(asc[4]), asc[5] === undefined ? 0 : Number(asc[5]), 0);
  }
  return null;
}

/** A real Date header is under 100 characters; anything much longer is not one. */
const MAX_DATE_CHARS = 256;

/**
 * The Date value with comments removed, whitespace runs collapsed and spaces around `:` dropped
 * (obsolete syntax allows `09(comment):  55 : 06`), in one pass; null when it is too long to be
 * a date. One pass: the regexes this replaces were quadratic on long runs of spaces.
 */
function foldDate(value: string): string | null {
  const src = capChars(value, MAX_HEADER_CHARS);
  let out = '';
  let depth = 0;
  let pendingSpace = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '(') {
      depth++;
      pendingSpace = true;
      continue;
    }
    if (ch === ')' && depth > 0) {
      depth--;
      pendingSpace = true;
      continue;
    }
    if (depth > 0) continue;
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '\f' || ch === '\v' || ch === '\u00a0') {
      pendingSpace = true;
      continue;
    }
    if (ch === ':') {
      out += ':';
      pendingSpace = false;
    } else {
      if (pendingSpace && out.length && !out.endsWith(':')) out += ' ';
      pendingSpace = false;
      out += ch;
    }
    if (out.length > MAX_DATE_CHARS) return null;
  }
  return out;
}

/** Epoch ms from calendar parts read in a zone `offsetMin` east of UTC; null for impossible dates (31 Feb). */
function utcParts(year: number, month: number, day: number, hour: number, minute: number, second: number, offsetMin: number): number | null {
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const base = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  if (!Number.isFinite(base) || new Date(base).getUTCDate() !== day) return null;
  return base - offsetMin * 60_000;
}

const EARLIEST_PLAUSIBLE = Date.UTC(1990, 0, 1);
const DAY_MS = 86_400_000;

/** sent_at: the Date header when plausible (not before 1990, at most a day after internalDate), else internalDate. */
function chooseSentAt(dateHeader: string | null | undefined, internalDate: number): string {
  const t = parseMailDate(dateHeader);
  const hasInternal = Number.isFinite(internalDate) && internalDate > 0;
  if (t !== null && t >= EARLIEST_PLAUSIBLE && (!hasInternal || t <= internalDate + DAY_MS)) {
    return new Date(t).toISOString();
  }
  return new Date(hasInternal ? internalDate : 0).toISOString();
}

type Header = { name?: string | null; value?: string | null };

/** References values, each cut to its last MAX_HEADER_CHARS: the nearest ancestors are at the end. */
function referenceValues(headers: Header[] | null | undefined): string[] {
  const out: string[] = [];
  for (const h of headers ?? []) {
    if ((h.name ?? '').toLowerCase() !== 'references' || typeof h.value !== 'string') continue;
    const v = h.value;
    out.push(v.length > MAX_HEADER_CHARS ? v.slice(v.indexOf('<', v.length - MAX_HEADER_CHARS) >>> 0 || v.length - MAX_HEADER_CHARS) : v);
  }
  return out;
}

function headerValues(headers: Header[] | null | undefined, name: string, cap = MAX_RAW_HEADER_CHARS): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (const h of headers ?? []) {
    if ((h.name ?? '').toLowerCase() === lower && typeof h.value === 'string') out.push(capChars(h.value, cap));
  }
  return out;
}

function firstHeader(headers: Header[] | null | undefined, name: string): string | null {
  return headerValues(headers, name)[0] ?? null;
}

/** Display names are cut to this many characters: a name is not a place to store a book. */
const MAX_NAME_CHARS = 256;

function cleanName(name: string | null | undefined): string | null {
  if (!name) return null;
  let n = fixC1(decodeHeaderWords(capChars(name, 4 * MAX_NAME_CHARS))).replace(/\s+/g, ' ').trim();
  if (n.length >= 2 && n.startsWith('"') && n.endsWith('"')) n = n.slice(1, -1).trim();
  return capChars(n, MAX_NAME_CHARS) || null;
}

/** `pete(his account)@silly.test(his host)` → `pete@silly.test`: RFC 5322 comments and folding whitespace removed. */
function stripComments(address: string | undefined): string | undefined {
  if (!address || !/[()\s]/.test(address)) return undefined;
  let s = address;
  for (let i = 0; i < 5 && /\([^()]*\)/.test(s); i++) s = s.replace(/\([^()]*\)/g, '');
  return s.replace(/\s+/g, '');
}

/**
 * Every address in the given header values, lower-cased and de-duplicated (first display name
 * wins). Groups are flattened; entries that are not addresses are dropped; never throws.
 * At most MAX_ADDRESS_HEADER_CHARS of text is read in all (the first values first).
 */
export function parseAddressList(values: string[]): Address[] {
  return parseAddressListCounted(values).addresses;
}

/**
 * parseAddressList plus how many addresses the headers hold: counted exactly within the read
 * text, estimated by `@` signs beyond it. `addresses` holds at most `limit` of them.
 */
export function parseAddressListCounted(values: string[], limit = Infinity): { addresses: Address[]; count: number } {
  const out: Address[] = [];
  const seen = new Set<string>();
  let budget = MAX_ADDRESS_HEADER_CHARS;
  let unread = 0;
  const bounded: string[] = [];
  for (const v of values) {
    if (budget <= 0) {
      unread += countChar(v, '@');
      continue;
    }
    if (v.length > budget) {
      // Cut at the last separator inside the budget so no address is read half.
      let cut = v.lastIndexOf(',', budget);
      if (cut <= 0) cut = budget;
      bounded.push(v.slice(0, cut));
      unread += countChar(v.slice(cut), '@');
      budget = 0;
    } else {
      bounded.push(v);
      budget -= v.length;
    }
  }
  const entries = bounded.flatMap(addressEntries);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    // Most entries are a bare `local@domain`: postal-mime would find just that, at many times the cost.
    const bare = entry.trim();
    let parsed: { name: string; address?: string }[];
    if (BARE_ADDRESS.test(bare)) parsed = [{ name: '', address: bare }];
    else if (out.length >= limit) {
      // Enough kept: any other entry is counted, not parsed (one with an @ is one address), so
      // 10,000 named recipients cost what their first `limit` do.
      if (entry.includes('@')) unread++;
      continue;
    } else {
      try {
        parsed = addressParser(entry, { flatten: true }) as { name: string; address?: string }[];
      } catch {
        parsed = [];
      }
    }
    for (const p of parsed) {
      const address = normalizeAddress(p.address) ?? normalizeAddress(stripComments(p.address));
      if (!address || seen.has(address)) continue;
      seen.add(address);
      if (out.length < limit) out.push({ address, name: cleanName(p.name) });
    }
  }
  return { addresses: out, count: seen.size + unread };
}

/** An address list entry longer than this is not one (a name of 256 and an address of 320 fit). */
const MAX_ENTRY_CHARS = 1024;
/** An entry that is only an address: no name, quotes, comments, brackets or group syntax. */
const BARE_ADDRESS = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+$/;
/** Real entries hold a group colon or two; postal-mime is quadratic on long runs of them. */
const MAX_ENTRY_COLONS = 4;

/**
 * The entries of an address list, split at top-level `,` and `;` in one pass (quotes, angle
 * brackets and comments respected). postal-mime's parser is quadratic on some inputs, so it
 * only ever sees one short entry at a time; oversized or colon-stuffed entries are dropped.
 */
function addressEntries(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  let angle = 0;
  let comment = 0;
  let colons = 0;
  const flush = (end: number) => {
    const e = value.slice(start, end).replace(/\r?\n/g, ' ');
    if (e.trim() && e.length <= MAX_ENTRY_CHARS && colons <= MAX_ENTRY_COLONS) out.push(e);
    start = end + 1;
    colons = 0;
  };
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (comment > 0) {
      if (ch === '\\') i++;
      else if (ch === '(') comment++;
      else if (ch === ')') comment--;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '(') comment = 1;
    else if (ch === '<') angle++;
    else if (ch === '>') angle = Math.max(0, angle - 1);
    else if (ch === ':') colons++;
    else if ((ch === ',' || ch === ';') && angle === 0) flush(i);
  }
  flush(value.length);
  return out;
}

function countChar(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i >= 0; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/** Message ids (`<a@b>` tokens) of a Message-ID / In-Reply-To / References value, brackets removed, case kept. */
function extractIds(value: string): string[] {
  const bracketed = value.match(/<[^<>]*>/g);
  const raw = bracketed ? bracketed.map((b) => b.slice(1, -1)) : value.split(/[\s,]+/).filter((t) => t.includes('@'));
  return raw.map((id) => id.replace(/\s+/g, '')).filter((id) => id.length > 0);
}

/** Longest message id kept; a longer token is not an id anyone will reference. */
const MAX_ID_CHARS = 998;

/**
 * Distinct lower-cased ids in order of appearance, at most `limit` of them: the first ones
 * (`from: 'start'`) or the last ones (`from: 'end'`, for References, whose tail is the parent).
 */
function normalisedIds(values: string[], limit: number, from: 'start' | 'end'): string[] {
  const seen = new Set<string>();
  for (const v of values) {
    for (const id of extractIds(v)) {
      if (id.length > MAX_ID_CHARS) continue;
      const lower = id.toLowerCase();
      seen.add(lower);
      if (from === 'start' && seen.size >= limit) return [...seen];
    }
  }
  const all = [...seen];
  return all.length > limit ? all.slice(all.length - limit) : all;
}

/** Message-ID without angle brackets, case kept; null when absent or empty. */
function messageIdOf(value: string | null | undefined): string | null {
  if (!value) return null;
  const ids = extractIds(value);
  if (ids.length) return ids[0]!;
  const bare = value.trim().replace(/^<|>$/g, '').replace(/\s+/g, '');
  return bare || null;
}

/**
 * The dedup key fallback for mail without a Message-ID: SHA-256 over the normalised From, To,
 * Cc, Subject and Date. Values are decoded and whitespace-collapsed so a copy whose headers
 * Gmail hands over decoded gives the same key as one handed over encoded; per-copy headers
 * (Delivered-To, Received, Bcc) never take part.
 */
function headerHash(headers: Header[] | null | undefined): string {
  const addrs = (name: string) =>
    parseAddressList(headerValues(headers, name))
      .map((a) => a.address)
      .join(',');
  const text = (name: string) =>
    headerValues(headers, name)
      .map((v) => decodeHeaderWords(v).replace(/\s+/g, ' ').trim())
      .join('\n');
  const dates = headerValues(headers, 'Date').map((v) => {
    const t = parseMailDate(v);
    return t === null ? v.replace(/\s+/g, ' ').trim() : new Date(t).toISOString();
  });
  const canonical = JSON.stringify({
    from: addrs('From'),
    to: addrs('To'),
    cc: addrs('Cc'),
    subject: text('Subject'),
    date: dates.join('\n'),
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** Text of a body part fetched separately (Gmail gave an attachmentId instead of data). */
export function decodeBodyPart(bytes: Uint8Array, charset: string | null | undefined): string {
  return decodeCharset(bytes, charset);
}

type Part = gmail_v1.Schema$MessagePart;

interface PartInfo {
  contentType: StructuredValue;
  disposition: StructuredValue;
  filename: string;
}

function partInfo(part: Part): PartInfo {
  const contentType = parseStructuredHeader(firstHeader(part.headers, 'Content-Type'));
  const disposition = parseStructuredHeader(firstHeader(part.headers, 'Content-Disposition'));
  const filename = part.filename ? capUtf8Bytes(decodeHeaderWords(part.filename), MAX_FILENAME_BYTES) : filenameFrom(contentType, disposition);
  return { contentType, disposition, filename };
}

interface ParseOptions {
  /** Decode text bodies (default true). Off skips the work for mail that will be stored metadata-only. */
  bodies?: boolean;
}

/**
 * A Gmail `full` message decoded into what the sync engine stores. Best effort on malformed
 * headers and MIME: never throws for content, only for a message without an id.
 */
export function parseGmailMessage(msg: GmailMessage, opts: ParseOptions = {}): ParsedMessage {
  if (!msg.id) throw new AppError('VALIDATION', 'Gmail message has no id', { field: 'id' });
  const payload: Part = msg.payload ?? {};
  const headers = payload.headers ?? [];
  const internalDate = Number(msg.internalDate ?? NaN);

  const messageId = messageIdOf(firstHeader(headers, 'Message-ID'));
  const dedupKey = messageId ? `mid:${messageId.toLowerCase()}` : `hash:${headerHash(headers)}`;

  const subjectRaw = firstHeader(headers, 'Subject');
  const subject = subjectRaw === null ? null : decodeHeaderWords(subjectRaw).replace(/[\r\n]+/g, ' ').trim();
  const counts: Record<string, number> = {};
  const role = (name: string, key: string): Address[] => {
    // Uncapped values: the count covers every address; parsing itself reads a bounded prefix.
    const r = parseAddressListCounted(headerValues(headers, name, Infinity), MAX_PARTICIPANTS_PER_ROLE);
    if (r.count > r.addresses.length) counts[key] = r.count;
    return r.addresses;
  };

  const fromList = parseAddressList(headerValues(headers, 'From'));
  const from = fromList[0] ?? parseAddressList(headerValues(headers, 'Sender'))[0] ?? null;

  const parsed: ParsedMessage = {
    gmailId: msg.id,
    gmailThreadId: msg.threadId ?? msg.id,
    labelIds: [...(msg.labelIds ?? [])],
    internalDate: Number.isFinite(internalDate) ? internalDate : 0,
    messageId,
    dedupKey,
    inReplyTo: normalisedIds(headerValues(headers, 'In-Reply-To'), MAX_IN_REPLY_TO, 'start'),
    references: normalisedIds(referenceValues(headers), MAX_REFERENCES, 'end'),
    subject,
    from,
    to: role('To', 'to'),
    cc: role('Cc', 'cc'),
    bcc: role('Bcc', 'bcc'),
    replyTo: role('Reply-To', 'reply_to'),
    participantCounts: null,
    sentAt: chooseSentAt(firstHeader(headers, 'Date'), internalDate),
    bodyText: null,
    bodyHtml: null,
    snippet: msg.snippet ? decodeHtmlEntities(msg.snippet) : null,
    pendingBodyParts: [],
    attachments: [],
    sizeEstimate: typeof msg.sizeEstimate === 'number' ? msg.sizeEstimate : null,
  };

  const bodyParts: Record<'text/plain' | 'text/html', { part: Part; charset: string | null }[]> = {
    'text/plain': [],
    'text/html': [],
  };
  let visited = 0;
  const walk = (part: Part, depth: number): void => {
    if (depth > 64 || ++visited > MAX_PARTS) return;
    const info = partInfo(part);
    const mimeType = (part.mimeType || info.contentType.value || 'text/plain').toLowerCase();
    const children = part.parts ?? [];
    if (mimeType.startsWith('multipart/')) {
      for (const c of children) walk(c, depth + 1);
      return;
    }
    const isAttachment = info.filename !== '' || info.disposition.value === 'attachment';
    if (isAttachment) {
      if (parsed.attachments.length >= MAX_ATTACHMENTS) return;
      const contentId = messageIdOf(firstHeader(part.headers, 'Content-ID'));
      parsed.attachments.push({
        partId: part.partId ?? '',
        filename: info.filename,
        mimeType,
        size: part.body?.size ?? 0,
        attachmentId: part.body?.attachmentId ?? null,
        contentId,
        inline: info.disposition.value === 'inline' || (info.disposition.value === '' && contentId !== null),
      });
      return;
    }
    if (mimeType === 'text/plain' || mimeType === 'text/html') {
      bodyParts[mimeType].push({ part, charset: info.contentType.params.charset ?? null });
    }
  };
  walk(payload, 0);
  if (Object.keys(counts).length) parsed.participantCounts = counts;

  // The body is the first text/plain (and first text/html) part outside attachments; an empty
  // one (e.g. a stray empty alternative) gives way to a later part with content.
  for (const mimeType of ['text/plain', 'text/html'] as const) {
    const candidates = bodyParts[mimeType];
    if (!candidates.length) continue;
    let text: string | null = null;
    for (const { part, charset } of candidates) {
      const body = part.body ?? {};
      if (body.attachmentId && !body.data) {
        parsed.pendingBodyParts.push({
          partId: part.partId ?? '',
          attachmentId: body.attachmentId,
          mimeType,
          charset,
          transferEncoding: firstHeader(part.headers, 'Content-Transfer-Encoding')?.trim().toLowerCase() ?? null,
        });
        text = null;
        break;
      }
      if (opts.bodies === false) break;
      text = body.data ? decodeBodyPart(Buffer.from(body.data, 'base64url'), charset) : '';
      if (text.trim() !== '') break;
    }
    if (mimeType === 'text/plain') parsed.bodyText = text;
    else parsed.bodyHtml = text;
  }
  return parsed;
}
