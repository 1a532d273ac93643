// Writes RFC 5322 / MIME messages the way real mailers do: encoded words in names and subjects,
// quoted-printable and base64 bodies, iso-8859-1 text, multipart/alternative and attachments.
// Plus deterministic attachment bytes (PDF-like, PNG, CSV).
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { Rng } from '../gmail-emulator/rng.js';

export interface Addr {
  name: string | null;
  address: string;
}

export interface Attachment {
  filename: string;
  mimeType: string;
  bytes: Buffer;
  /** An inline image with a Content-ID (still an attachment: it has a filename). */
  contentId?: string;
}

export type Charset = 'utf-8' | 'iso-8859-1';
export type TransferEncoding = '7bit' | '8bit' | 'quoted-printable' | 'base64';

export interface MailSpec {
  from: Addr;
  to: Addr[];
  cc?: Addr[];
  bcc?: Addr[];
  replyTo?: Addr[];
  subject: string;
  /** How the subject is written when it is not plain ASCII (default B for UTF-8). */
  subjectEncoding?: { charset: Charset; q: boolean };
  date: number;
  /** Minutes east of UTC for the Date header. */
  tzOffsetMin: number;
  /** Message-ID without brackets; null writes none. */
  messageId: string | null;
  inReplyTo?: string | null;
  references?: string[];
  text: string;
  html?: string;
  charset: Charset;
  encoding: TransferEncoding;
  attachments?: Attachment[];
  extraHeaders?: [string, string][];
}

const CRLF = '\r\n';
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function rfc5322Date(ms: number, offsetMin: number): string {
  const d = new Date(ms + offsetMin * 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

const isAscii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);

function charsetBytes(s: string, charset: Charset): Buffer {
  if (charset === 'iso-8859-1') {
    for (const ch of s) if (ch.codePointAt(0)! > 0xff) throw new Error(`"${s}" cannot be written in iso-8859-1`);
    return Buffer.from(s, 'latin1');
  }
  return Buffer.from(s, 'utf8');
}

/** RFC 2047 encoded words, split so no word exceeds 75 characters and no character is cut. */
function encodeWords(text: string, charset: Charset = 'utf-8', q = false): string {
  const words: string[] = [];
  let chunk = '';
  const flush = (): void => {
    if (!chunk) return;
    const bytes = charsetBytes(chunk, charset);
    const body = q ? qEncode(bytes) : bytes.toString('base64');
    words.push(`=?${charset.toUpperCase()}?${q ? 'Q' : 'B'}?${body}?=`);
    chunk = '';
  };
  for (const ch of text) {
    const next = chunk + ch;
    const len = q ? qEncode(charsetBytes(next, charset)).length : Math.ceil(charsetBytes(next, charset).length / 3) * 4;
    if (len > 75 - 12 - charset.length) flush();
    chunk += ch;
  }
  flush();
  return words.join(`${CRLF} `);
}

function qEncode(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x20) out += '_';
    else if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) out += String.fromCharCode(b);
    else out += `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function formatAddr(a: Addr, q = true): string {
  if (!a.name) return a.address;
  if (!isAscii(a.name)) return `${encodeWords(a.name, 'utf-8', q)} <${a.address}>`;
  if (/[()<>@,;:\\".[\]]/.test(a.name)) return `"${a.name.replace(/(["\\])/g, '\\$1')}" <${a.address}>`;
  return `${a.name} <${a.address}>`;
}

function foldList(name: string, items: string[]): string {
  return `${name}: ${items.join(`,${CRLF} `)}`;
}

function quotedPrintable(bytes: Buffer): string {
  const lines: string[] = [];
  const text = bytes.toString('latin1').replace(/\r\n/g, '\n');
  for (const line of text.split('\n')) {
    let out = '';
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      const code = line.charCodeAt(i);
      const last = i === line.length - 1;
      let enc: string;
      if ((code === 0x20 || code === 0x09) && last) enc = `=${code.toString(16).toUpperCase().padStart(2, '0')}`;
      else if (code === 0x3d || code > 0x7e || (code < 0x20 && code !== 0x09)) enc = `=${code.toString(16).toUpperCase().padStart(2, '0')}`;
      else enc = line[i]!;
      if (cur.length + enc.length > 75) {
        out += `${cur}=${CRLF}`;
        cur = '';
      }
      cur += enc;
    }
    lines.push(out + cur);
  }
  return lines.join(CRLF);
}

function base64Lines(bytes: Buffer): string {
  return bytes.toString('base64').replace(/.{76}(?=.)/g, `$&${CRLF}`);
}

function encodeBody(text: string, charset: Charset, encoding: TransferEncoding): string {
  const normalised = text.replace(/\r?\n/g, CRLF);
  const bytes = charsetBytes(normalised, charset);
  switch (encoding) {
    case 'base64':
      return base64Lines(bytes);
    case 'quoted-printable':
      return quotedPrintable(bytes);
    case '7bit':
      if (/[^\x00-\x7f]/.test(normalised)) throw new Error('7bit body with non-ASCII text');
      return normalised;
    case '8bit':
      return bytes.toString('latin1');
  }
}

function textPart(mime: 'text/plain' | 'text/html', text: string, charset: Charset, encoding: TransferEncoding): string {
  return [`Content-Type: ${mime}; charset="${charset}"`, `Content-Transfer-Encoding: ${encoding}`, '', encodeBody(text, charset, encoding)].join(CRLF);
}

function attachmentPart(a: Attachment): string {
  const name = isAscii(a.filename) ? `"${a.filename}"` : `"${encodeWords(a.filename)}"`;
  const star = isAscii(a.filename) ? '' : `; filename*=utf-8''${encodeURIComponent(a.filename)}`;
  return [
    `Content-Type: ${a.mimeType}; name=${name}`,
    `Content-Disposition: ${a.contentId ? 'inline' : 'attachment'}; filename=${name}${star}`,
    ...(a.contentId ? [`Content-ID: <${a.contentId}>`] : []),
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(a.bytes),
  ].join(CRLF);
}

function multipart(type: string, boundary: string, parts: string[]): string {
  return [`Content-Type: ${type}; boundary="${boundary}"`, '', ...parts.map((p) => `--${boundary}${CRLF}${p}`), `--${boundary}--`, ''].join(CRLF);
}

/** The message as bytes; `boundaryTag` makes boundaries deterministic. */
export function buildMail(spec: MailSpec, boundaryTag: string): Buffer {
  const headers: string[] = [];
  headers.push(`From: ${formatAddr(spec.from)}`);
  if (spec.to.length) headers.push(foldList('To', spec.to.map((a) => formatAddr(a))));
  if (spec.cc?.length) headers.push(foldList('Cc', spec.cc.map((a) => formatAddr(a))));
  if (spec.bcc?.length) headers.push(foldList('Bcc', spec.bcc.map((a) => formatAddr(a))));
  if (spec.replyTo?.length) headers.push(foldList('Reply-To', spec.replyTo.map((a) => formatAddr(a))));
  const subj = isAscii(spec.subject)
    ? spec.subject
    : encodeWords(spec.subject, spec.subjectEncoding?.charset ?? 'utf-8', spec.subjectEncoding?.q ?? false);
  headers.push(`Subject: ${subj}`);
  headers.push(`Date: ${rfc5322Date(spec.date, spec.tzOffsetMin)}`);
  if (spec.messageId) headers.push(`Message-ID: <${spec.messageId}>`);
  if (spec.inReplyTo) headers.push(`In-Reply-To: <${spec.inReplyTo}>`);
  if (spec.references?.length) headers.push(foldList('References', spec.references.map((r) => `<${r}>`)).replace(/,\r\n /g, `${CRLF} `));
  for (const [k, v] of spec.extraHeaders ?? []) headers.push(`${k}: ${v}`);
  headers.push('MIME-Version: 1.0');

  const textBody = textPart('text/plain', spec.text, spec.charset, spec.encoding);
  let body: string;
  let alt: string | null = null;
  if (spec.html !== undefined) {
    alt = multipart('multipart/alternative', `alt-${boundaryTag}`, [textBody, textPart('text/html', spec.html, spec.charset, spec.encoding === '7bit' ? 'quoted-printable' : spec.encoding)]);
  }
  const atts = spec.attachments ?? [];
  if (atts.length) {
    body = multipart('multipart/mixed', `mix-${boundaryTag}`, [alt ?? textBody, ...atts.map(attachmentPart)]);
  } else {
    body = alt ?? textBody;
  }
  return Buffer.from(`${headers.join(CRLF)}${CRLF}${body}${body.endsWith(CRLF) ? '' : CRLF}`, 'latin1');
}

// --- attachment bytes -------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A small valid PNG: a coloured bar chart on white. */
export function makePng(rng: Rng, width = 48, height = 32): Buffer {
  const bars = Array.from({ length: 6 }, () => rng.int(4, height - 2));
  const color = [rng.int(20, 200), rng.int(20, 200), rng.int(20, 200)];
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0;
    for (let x = 0; x < width; x++) {
      const bar = Math.floor((x / width) * bars.length);
      const filled = height - y <= bars[bar]! && x % 8 !== 0;
      const [r, g, b] = filled ? color : [255, 255, 255];
      raw[row + 1 + x * 3] = r!;
      raw[row + 2 + x * 3] = g!;
      raw[row + 3 + x * 3] = b!;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** PDF-looking bytes: header, a text object, binary filler, trailer. */
export function makePdf(rng: Rng, title: string, size: number): Buffer {
  const head = Buffer.from(`%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Title (${title.replace(/[()\\]/g, '')}) >>\nendobj\n2 0 obj\n<< /Length ${size} >>\nstream\n`, 'latin1');
  const tail = Buffer.from('\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n', 'latin1');
  return Buffer.concat([head, rng.bytes(Math.max(0, size)), tail]);
}

export function makeCsv(rng: Rng, rows: number): Buffer {
  const lines = ['date,company,amount_usd'];
  for (let i = 0; i < rows; i++) lines.push(`2025-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')},Co${rng.int(1, 40)},${rng.int(10, 5000) * 1000}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
}

/** Bytes of a given size, cheap to make even for tens of MiB. */
export function makeBlob(rng: Rng, size: number): Buffer {
  return rng.bytes(size);
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
