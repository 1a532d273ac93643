// The emulator's own reading of MIME header values, charsets and HTML text, built on libmime
// (nodemailer's MIME toolkit) and entities. The product reads mail with postal-mime and its
// own code in lib/mail; the emulator must not share that code, or a decoding bug would show
// identically on both sides and every test comparing them would still pass.
import { TextDecoder } from 'node:util';
import libmime from 'libmime';
import { decode as decodeWithCharset, normalizeCharset } from 'libmime/lib/charset.js';
import iconv from 'iconv-lite';
import { decodeHTML } from 'entities';

export interface HeaderValue {
  /** The main token, lower case (`text/plain`, `attachment`); '' when absent. */
  value: string;
  /** Parameters by lower-cased name, RFC 2231 segments joined and RFC 2047 words decoded. */
  params: Record<string, string>;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

// Gmail, like every browser, reads the Latin-1 and ASCII labels as windows-1252.
const AS_WINDOWS_1252 = /^(?:(?:us-)?ascii|ansi_x3\.4-1968|iso[-_]?8859-1|latin-?1|l1|cp819|iso-ir-100)$/i;

function labelOf(charset: string | null | undefined): string {
  return (charset ?? '').trim().replace(/^["']|["']$/g, '');
}

/**
 * Bytes of a text part to a string in its declared charset. Mail labelled ASCII or with no
 * label that is valid UTF-8 is UTF-8 (what senders really wrote); unknown labels fall back
 * to UTF-8 when valid, else windows-1252.
 */
export function textOf(bytes: Buffer, charset: string | null | undefined): string {
  const label = labelOf(charset);
  if (!label || /^(?:us-)?ascii$/i.test(label)) return isUtf8(bytes) ?? decodeWithCharset(bytes, 'windows-1252');
  const named = AS_WINDOWS_1252.test(label) ? 'windows-1252' : label;
  if (/^utf-?8$/i.test(named) || !knownCharset(named)) return isUtf8(bytes) ?? decodeWithCharset(bytes, 'windows-1252');
  return decodeWithCharset(bytes, named);
}

function knownCharset(label: string): boolean {
  // ISO-2022-JP and friends are decoded by libmime's own Japanese codec, not iconv-lite.
  return /^(?:jis|iso-?2022-?jp|eucjp)/i.test(label) || iconv.encodingExists(normalizeCharset(label));
}

/**
 * Raw 8-bit header bytes (held as a latin1 string, one char per byte) to text: UTF-8 when the
 * bytes are valid UTF-8, else the charset the message declares, else windows-1252.
 */
export function headerText(latin1: string, declaredCharset: string | null): string {
  if (!/[\x80-\xff]/.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, 'latin1');
  const utf8 = isUtf8(bytes);
  if (utf8 !== null) return utf8;
  const label = labelOf(declaredCharset);
  const usable = label && !/^(?:utf-?8|(?:us-)?ascii)$/i.test(label) && knownCharset(label);
  return decodeWithCharset(bytes, usable ? (AS_WINDOWS_1252.test(label) ? 'windows-1252' : label) : 'windows-1252');
}

/** RFC 2047 encoded words to text; text without any is returned as it is. */
export function decodeWords(value: string): string {
  if (!/=\?[^?\s]+\?[bBqQ]\?/.test(value)) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** `type/subtype; name=value; title*0*=utf-8''%E2%82%AC …` as a value and its parameters. */
export function parseHeaderValue(raw: string | null | undefined): HeaderValue {
  const parsed = libmime.parseHeaderValue((raw ?? '').replace(/\r?\n[ \t]*/g, ' '));
  // Parameters joined from RFC 2231 segments are decoded already; the others may still hold encoded words.
  const joined = new Set((parsed as { decodedParams?: string[] }).decodedParams ?? []);
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.params)) params[k] = joined.has(k) ? v : decodeWords(v);
  return { value: (parsed.value ?? '').trim().toLowerCase().split(/\s+/)[0] ?? '', params };
}

/** A part's file name as Gmail shows it: the disposition's filename, else the type's name; '' when none. */
export function partFilename(contentType: HeaderValue, disposition: HeaderValue): string {
  return (disposition.params.filename ?? contentType.params.name ?? '').replace(/[\r\n\t]+/g, ' ').trim();
}

/** Visible text of an HTML body, for the snippet: scripts, styles and tags dropped, entities decoded. */
export function htmlText(html: string): string {
  return decodeHTML(
    html
      .replace(/<(script|style|head|title)[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<!--[\s\S]*?-->/g, ' ')
      .replace(/<[^>]*>/g, ' '),
  );
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// RFC 5322 zone names (obsolete but common); military letters and unknown names count as UTC.
const ZONE_MIN: Record<string, number> = { ut: 0, gmt: 0, utc: 0, z: 0, edt: -240, est: -300, cdt: -300, cst: -360, mdt: -360, mst: -420, pdt: -420, pst: -480 };
const DATE_RE = /^(?:[a-z]+,?\s*)?(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([+-])(\d{2})(\d{2})|([a-z]{1,5}))?/i;

/**
 * Epoch ms of an RFC 5322 Date header (two-digit years and zone names included), or null.
 * Deliberately plain: the product has its own, more forgiving reader, and the two are compared.
 */
export function mailDate(value: string | null | undefined): number | null {
  if (!value) return null;
  const m = DATE_RE.exec(value.replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim());
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const [day, hour, minute, second] = [Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  const local = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  if (new Date(local).getUTCDate() !== day) return null;
  const offset = m[7] ? (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) : (ZONE_MIN[(m[10] ?? 'z').toLowerCase()] ?? 0);
  return local - offset * 60_000;
}
