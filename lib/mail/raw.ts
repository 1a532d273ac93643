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
const HEADER_LINE = /^[ \t]*([!-9;-~]+)[ \t]*:(.*)$/;

interface RawParsed {
  parsed: ParsedMessage;
  /** Decoded bytes of every part with a filename or `Content-Disposition: attachment`, by part id. */
  files: Map<string, Buffer>;
}

interface Header {
  name: string;
  value: string;
}

function splitEntity(src: string, headerCharset: string | null): { headers: Header[]; body: string } {
  const headers: Header[] = [];
  let pos = 0;
  let bodyStart = src.length;
  const lineAt = (at: number): { line: string; next: number } => {
    const nl = src.indexOf('\n', at);
    const end = nl < 0 ? src.length : nl;
    return { line: src.slice(at, end).replace(/\r$/, ''), next: nl < 0 ? src.length : nl + 1 };
  };
  // Where the next real header starts after stray lines, or -1 when the header block ends first.
  const headerAhead = (from: number): number => {
    let at = from;
    while (at < src.length) {
      const { line, next } = lineAt(at);
      if (line === '' || line.startsWith('--')) return -1;
      if (HEADER_LINE.test(line)) return at;
      at = next;
    }
    return -1;
  };
  // Remembered so a run of stray lines is scanned once, not once per line (stays linear).
  let strayUntil = -1;
  while (pos < src.length) {
    const { line, next } = lineAt(pos);
    if (line === '') {
      bodyStart = next;
      break;
    }
    if (!headers.length && /^\s*$/.test(line)) {
      pos = next;
      continue;
    }
    if (/^[ \t]/.test(line) && headers.length) {
      headers[headers.length - 1]!.value += line;
    } else {
      const h = HEADER_LINE.exec(line);
      if (h) headers.push({ name: h[1]!, value: h[2]! });
      else if (!(pos === 0 && line.startsWith('From '))) {
        if (headers.length && (pos < strayUntil || (strayUntil = headerAhead(next)) > pos)) {
          headers[headers.length - 1]!.value += ` ${line}`;
        } else {
          bodyStart = pos;
          break;
        }
      }
    }
    pos = next;
  }
  return {
    headers: headers.map((h) => ({ name: decodeRawHeaderBytes(h.name), value: decodeRawHeaderBytes(h.value, headerCharset).trim() })),
    body: src.slice(bodyStart),
  };
}

function headerValue(headers: Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function splitMultipart(body: string, boundary: string): string[] | null {
  const delim = new RegExp(`(?:^|\\r?\\n)--${escapeRegExp(boundary)}(--)?[ \\t]*(?=\\r?\\n|$)`, 'g');
  const children: string[] = [];
  let start = -1;
  let found = false;
  let m: RegExpExecArray | null;
  while ((m = delim.exec(body))) {
    found = true;
    if (start >= 0) children.push(body.slice(start, m.index));
    if (m[1]) {
      start = -1;
      break;
    }
    let next = m.index + m[0].length;
    if (body.startsWith('\r\n', next)) next += 2;
    else if (body.startsWith('\n', next)) next += 1;
    start = next;
    if (delim.lastIndex === m.index) delim.lastIndex++;
  }
  if (!found) return null;
  if (start >= 0 && start <= body.length) children.push(body.slice(start));
  return children;
}

function decodeTransfer(body: string, encoding: string): Buffer {
  const enc = encoding.trim().toLowerCase();
  if (enc === 'base64') {
    let clean = body.replace(/[^A-Za-z0-9+/]/g, '');
    if (clean.length % 4 === 1) clean = clean.slice(0, -1);
    return Buffer.from(clean, 'base64');
  }
  if (enc === 'quoted-printable') {
    const s = body.replace(/[ \t]+(?=\r?\n)/g, '');
    const out = Buffer.allocUnsafe(s.length);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x3d) {
        if (s[i + 1] === '\r' && s[i + 2] === '\n') {
          i += 2;
          continue;
        }
        if (s[i + 1] === '\n') {
          i += 1;
          continue;
        }
        const hex = s.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          out[n++] = parseInt(hex, 16);
          i += 2;
          continue;
        }
      }
      out[n++] = c & 0xff;
    }
    return out.subarray(0, n);
  }
  return Buffer.from(body, 'latin1');
}

function buildPart(entity: { headers: Header[]; body: string }, partId: string, depth: number, headerCharset: string | null, defaultType: string, files: Map<string, Buffer>): Part {
  let ct: StructuredValue = parseStructuredHeader(headerValue(entity.headers, 'Content-Type'));
  if (!/^[^/\s]+\/[^/\s]+$/.test(ct.value)) ct = { value: defaultType, params: ct.params };
  const disp = parseStructuredHeader(headerValue(entity.headers, 'Content-Disposition'));
  const filename = filenameFrom(ct, disp);
  const headers = entity.headers.map((h) => ({ name: h.name, value: h.value }));
  let mimeType = ct.value;
  if (mimeType.startsWith('multipart/') && depth < MAX_DEPTH) {
    const boundary = ct.params.boundary;
    const children = boundary ? splitMultipart(entity.body, boundary) : null;
    if (children) {
      const childDefault = mimeType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      const parts = children.map((c, i) =>
        buildPart(splitEntity(c, headerCharset), partId === '' ? String(i) : `${partId}.${i}`, depth + 1, headerCharset, childDefault, files),
      );
      return { partId, mimeType, filename, headers, body: { size: 0 }, parts };
    }
    if (!entity.body.trim()) return { partId, mimeType, filename, headers, body: { size: 0 }, parts: [] };
    mimeType = 'text/plain';
  }
  if (mimeType.startsWith('multipart/')) mimeType = 'text/plain';
  const bytes = decodeTransfer(entity.body, headerValue(entity.headers, 'Content-Transfer-Encoding') ?? '7bit');
  if (filename !== '' || disp.value === 'attachment' || mimeType === 'message/rfc822') {
    // Kept aside as bytes: the parser only needs to know the part is there and how big.
    files.set(partId, bytes);
    return { partId, mimeType, filename, headers, body: { size: bytes.length } };
  }
  const body: gmail_v1.Schema$MessagePartBody = { size: bytes.length };
  if (bytes.length > 0) body.data = bytes.toString('base64url');
  return { partId, mimeType, filename, headers, body };
}

/** The MIME tree of RFC 822 bytes, shaped as Gmail's `payload`, with attachment bytes aside. */
function rawPayload(raw: Buffer): { payload: Part; files: Map<string, Buffer> } {
  const text = raw.toString('latin1').replace(/^\xef\xbb\xbf/, '');
  // Raw 8-bit headers that are not UTF-8 are most likely in the charset the message declares.
  const declared = /charset\s*=\s*"?([\w.:-]+)/i.exec(text.slice(0, 65536));
  const files = new Map<string, Buffer>();
  const payload = buildPart(splitEntity(text, declared?.[1] ?? null), '', 0, declared?.[1] ?? null, 'text/plain', files);
  return { payload, files };
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
