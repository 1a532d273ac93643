// A `format=raw` message (RFC 822 bytes) decoded into the same ParsedMessage a `full` fetch
// gives, plus the bytes of its attachment parts. The bytes are laid out as the MIME tree Gmail
// serves in `full` (partIds "", "0", "0.1" …, unfolded header values, decoded part sizes) and
// then read by the one `full` parser, so both formats store identical rows and a file fetched
// inside raw is filed under the same part id its attachment row has.
import type { gmail_v1 } from '@googleapis/gmail';
import { AppError } from '../core/errors.js';
import type { GmailMessage } from '../gmail/types.js';
import { decodeRawHeaderBytes, filenameFrom, parseGmailMessage, parseStructuredHeader, type StructuredValue } from './mime.js';
import type { ParsedMessage } from './types.js';

type Part = gmail_v1.Schema$MessagePart;

/** Deeper MIME nesting is read as text, as Gmail does; it also bounds recursion. */
const MAX_DEPTH = 40;
/** A field line: optional leading blanks, a printable name without ':', optional blanks, ':'. */
const FIELD = /^[ \t]*([!-9;-~]+)[ \t]*:/;

interface RawParsed {
  parsed: ParsedMessage;
  /** Decoded bytes of every part with a filename or `Content-Disposition: attachment`, by part id. */
  files: Map<string, Buffer>;
}

interface Field {
  name: string;
  value: string;
}

interface Entity {
  fields: Field[];
  body: string;
}

// The text is the message's bytes as latin1 (one char per byte), so offsets are byte offsets and
// nothing is decoded before its charset is known. A line ends at LF; a CR before it is dropped.
function lineEnd(src: string, at: number, limit: number): number {
  const nl = src.indexOf('\n', at);
  return nl < 0 || nl >= limit ? limit : nl;
}

function textOfLine(src: string, at: number, end: number): string {
  return src.charCodeAt(end - 1) === 0x0d && end > at ? src.slice(at, end - 1) : src.slice(at, end);
}

/**
 * One entity's header block and body. The header block is read as a table of lines first, so
 * whether a stray (non-field) line is glued onto the field above — it is, when another field
 * follows before the blank line or a `--` line — is answered by one backward pass.
 */
function readEntity(src: string, headerCharset: string | null): Entity {
  const lines: string[] = [];
  const starts: number[] = [];
  let at = 0;
  let blankAt = -1;
  while (at < src.length) {
    const end = lineEnd(src, at, src.length);
    const text = textOfLine(src, at, end);
    starts.push(at);
    lines.push(text);
    at = end + 1;
    if (text === '') {
      blankAt = lines.length - 1;
      break;
    }
  }
  // fieldAhead[i]: some line at or after i is a field before the block can end there.
  const fieldAhead = new Array<boolean>(lines.length + 1).fill(false);
  for (let i = lines.length - 1; i >= 0; i--) {
    const t = lines[i]!;
    fieldAhead[i] = t === '' || t.startsWith('--') ? false : FIELD.test(t) || fieldAhead[i + 1]!;
  }
  const fields: { name: string; value: string }[] = [];
  let bodyFrom = src.length;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!;
    if (i === blankAt) {
      bodyFrom = i + 1 < starts.length ? starts[i + 1]! : Math.min(at, src.length);
      break;
    }
    const last = fields[fields.length - 1];
    if (!last && t.trim() === '') continue;
    if (last && (t.startsWith(' ') || t.startsWith('\t'))) {
      last.value += t;
      continue;
    }
    const m = FIELD.exec(t);
    if (m) {
      fields.push({ name: m[1]!, value: t.slice(m[0].length) });
      continue;
    }
    if (i === 0 && t.startsWith('From ')) continue; // an mbox separator, not part of the message
    if (last && fieldAhead[i + 1]) {
      last.value += ` ${t}`;
      continue;
    }
    bodyFrom = starts[i]!;
    break;
  }
  return {
    fields: fields.map((f) => ({ name: decodeRawHeaderBytes(f.name), value: decodeRawHeaderBytes(f.value, headerCharset).trim() })),
    body: src.slice(bodyFrom),
  };
}

function field(fields: Field[], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const f of fields) if (f.name.toLowerCase() === wanted) return f.value;
  return undefined;
}

/** `--boundary` or `--boundary--` alone on its line (trailing blanks allowed), or null. */
function delimiterKind(line: string, boundary: string): 'open' | 'close' | null {
  if (!line.startsWith('--') || !line.startsWith(boundary, 2)) return null;
  let rest = line.slice(2 + boundary.length);
  let kind: 'open' | 'close' = 'open';
  if (rest.startsWith('--')) {
    kind = 'close';
    rest = rest.slice(2);
  }
  return /^[ \t]*$/.test(rest) ? kind : null;
}

/**
 * The children of a multipart body, walked line by line. The line break before a delimiter
 * belongs to the delimiter; null when no delimiter line is there at all.
 */
function childrenOf(body: string, boundary: string): string[] | null {
  const children: string[] = [];
  let childFrom = -1;
  let found = false;
  let at = 0;
  let prevBreak = 0; // length of the line break that ended the previous line
  while (at <= body.length) {
    const end = lineEnd(body, at, body.length);
    // Most lines are content: only one starting `--` is cut out and looked at.
    const kind = body.startsWith('--', at) ? delimiterKind(textOfLine(body, at, end), boundary) : null;
    if (kind) {
      found = true;
      if (childFrom >= 0) children.push(body.slice(childFrom, Math.max(childFrom, at - prevBreak)));
      if (kind === 'close') return children;
      childFrom = Math.min(end + 1, body.length);
    }
    if (end >= body.length) break;
    prevBreak = body.charCodeAt(end - 1) === 0x0d && end > at ? 2 : 1;
    at = end + 1;
  }
  if (!found) return null;
  if (childFrom >= 0) children.push(body.slice(childFrom));
  return children;
}

// 1 for the characters of the base64 alphabet, by char code.
const B64_ALPHABET = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64_ALPHABET[ch.charCodeAt(0)] = 1;

function fromBase64(body: string): Buffer {
  // Only alphabet characters count (padding, breaks and junk are skipped); a lone trailing
  // character carries under a byte and is dropped.
  const kept = Buffer.allocUnsafe(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c < 128 && B64_ALPHABET[c]) kept[n++] = c;
  }
  if (n % 4 === 1) n--;
  return Buffer.from(kept.toString('latin1', 0, n), 'base64');
}

const HEX2 = /^[0-9A-Fa-f]{2}$/;

function fromQuotedPrintable(body: string): Buffer {
  const out: string[] = [];
  const rows = body.split('\n');
  rows.forEach((row, n) => {
    const broken = n < rows.length - 1;
    let text = row;
    let eol = '';
    if (broken) {
      // Transport padding goes: the blanks ending the row, or else those before its closing CR.
      text = text.replace(/[ \t]+$/, '');
      if (text === row) text = text.replace(/[ \t]+\r$/, '\r');
      eol = text.endsWith('\r') ? '\r\n' : '\n';
      if (eol === '\r\n') text = text.slice(0, -1);
      // `=` closing a line is a soft break: the line goes on in the next one.
      if (text.endsWith('=')) {
        text = text.slice(0, -1);
        eol = '';
      }
    }
    let from = 0;
    for (let eq = text.indexOf('='); eq >= 0; eq = text.indexOf('=', eq + 1)) {
      const hex = text.slice(eq + 1, eq + 3);
      if (!HEX2.test(hex)) continue;
      out.push(text.slice(from, eq), String.fromCharCode(parseInt(hex, 16)));
      from = eq + 3;
      eq += 2;
    }
    out.push(text.slice(from), eol);
  });
  return Buffer.from(out.join(''), 'latin1');
}

function decodeBody(body: string, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return fromBase64(body);
    case 'quoted-printable':
      return fromQuotedPrintable(body);
    default:
      return Buffer.from(body, 'latin1');
  }
}

interface Walk {
  headerCharset: string | null;
  files: Map<string, Buffer>;
}

function toPart(entity: Entity, partId: string, depth: number, defaultType: string, walk: Walk): Part {
  const declared = parseStructuredHeader(field(entity.fields, 'Content-Type'));
  const ct: StructuredValue = /^[^/\s]+\/[^/\s]+$/.test(declared.value) ? declared : { value: defaultType, params: declared.params };
  const disp = parseStructuredHeader(field(entity.fields, 'Content-Disposition'));
  const filename = filenameFrom(ct, disp);
  const headers = entity.fields.map((f) => ({ name: f.name, value: f.value }));
  const multipart = ct.value.startsWith('multipart/');
  if (multipart && depth < MAX_DEPTH) {
    const children = ct.params.boundary ? childrenOf(entity.body, ct.params.boundary) : null;
    if (children) {
      const inner = ct.value === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      const parts = children.map((child, i) =>
        toPart(readEntity(child, walk.headerCharset), partId ? `${partId}.${i}` : `${i}`, depth + 1, inner, walk),
      );
      return { partId, mimeType: ct.value, filename, headers, body: { size: 0 }, parts };
    }
    if (entity.body.trim() === '') return { partId, mimeType: ct.value, filename, headers, body: { size: 0 }, parts: [] };
  }
  // A multipart without its delimiters, or nested too deep, is the text it really is.
  const mimeType = multipart ? 'text/plain' : ct.value;
  const bytes = decodeBody(entity.body, field(entity.fields, 'Content-Transfer-Encoding'));
  if (filename !== '' || disp.value === 'attachment' || mimeType === 'message/rfc822') {
    // Kept aside as bytes: the parser only needs to know the part is there and how big.
    walk.files.set(partId, bytes);
    return { partId, mimeType, filename, headers, body: { size: bytes.length } };
  }
  const body: gmail_v1.Schema$MessagePartBody = { size: bytes.length };
  if (bytes.length > 0) body.data = bytes.toString('base64url');
  return { partId, mimeType, filename, headers, body };
}

/** The MIME tree of RFC 822 bytes, shaped as Gmail's `payload`, with attachment bytes aside. */
export function rawPayload(raw: Buffer): { payload: Part; files: Map<string, Buffer> } {
  const text = raw.toString('latin1').replace(/^\xef\xbb\xbf/, '');
  // Raw 8-bit headers that are not UTF-8 are most likely in the charset the message declares.
  const declared = /charset\s*=\s*"?([\w.:-]+)/i.exec(text.slice(0, 65536));
  const walk: Walk = { headerCharset: declared?.[1] ?? null, files: new Map() };
  const payload = toPart(readEntity(text, walk.headerCharset), '', 0, 'text/plain', walk);
  return { payload, files: walk.files };
}

/** Decode a `format=raw` message; `maxBytes` refuses one larger than the caller agreed to hold. */
export function parseRawMessage(msg: GmailMessage, opts: { maxBytes?: number } = {}): RawParsed {
  if (typeof msg.raw !== 'string') throw new AppError('VALIDATION', `Gmail message ${msg.id ?? '?'} has no raw content`, { field: 'raw' });
  // base64url carries 3 bytes per 4 characters: refuse before decoding anything oversized.
  const approx = Math.floor((msg.raw.length * 3) / 4);
  if (opts.maxBytes !== undefined && approx > opts.maxBytes + 3) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Gmail message ${msg.id ?? '?'} is ${approx} bytes raw, over the ${opts.maxBytes} allowed`);
  }
  let bytes: Buffer | null = Buffer.from(msg.raw, 'base64url');
  const { payload, files } = rawPayload(bytes);
  bytes = null;
  const { raw: _raw, ...meta } = msg;
  const parsed = parseGmailMessage({ ...meta, sizeEstimate: msg.sizeEstimate ?? approx, payload });
  for (const a of parsed.attachments) a.attachmentId = null;
  return { parsed, files };
}
