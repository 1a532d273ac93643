// Turns RFC 822 bytes into Gmail API Message resources the way users.messages.get returns them
// (formats full, metadata, minimal, raw), so tests and demos exercise the real decoding path.
// The MIME tree is split here rather than by a library because Gmail's shape (partIds, raw
// header values, which parts carry data and which an attachmentId) is what must be reproduced;
// header values and charsets are read by ./mime.ts, never by the product's lib/mail.
import type { gmail_v1 } from '@googleapis/gmail';
import { headerText, htmlText, parseHeaderValue, partFilename, textOf, type HeaderValue } from './mime.js';

type Schema$Message = gmail_v1.Schema$Message;
type Schema$MessagePart = gmail_v1.Schema$MessagePart;

export interface StoredMessageMeta {
  id: string;
  threadId: string;
  labelIds: string[];
  internalDate: number /* epoch ms */;
  historyId: string;
}

interface BuiltMessage {
  full: Schema$Message;
  metadata: Schema$Message;
  minimal: Schema$Message;
  raw: Schema$Message;
  /** Decoded bytes of every part that was given an attachmentId, by partId. */
  attachments: Map<string /* partId */, Buffer /* decoded bytes */>;
  sizeEstimate: number;
}

export interface BuildOptions {
  /** Attachment id for a part; default a stable id derived from the message id and partId. */
  attachmentId?: (partId: string) => string;
  /** Headers kept in `metadata` format (case-insensitive); all when absent. */
  metadataHeaders?: string[];
  /** Any leaf part (text bodies included) whose decoded size exceeds this many bytes gets an attachmentId. */
  attachmentOver?: number;
  /** text/plain and text/html body parts larger than this many bytes come as an attachmentId (Gmail small print). */
  bodyAsAttachmentOver?: number;
}

const MAX_DEPTH = 40;
const SNIPPET_LEN = 200;

interface RawHeader {
  name: string;
  value: string;
}

interface Entity {
  headers: RawHeader[];
  /** Body as a latin1 string (one char per byte). */
  body: string;
}

const HEADER_LINE = /^[ \t]*([!-9;-~]+)[ \t]*:(.*)$/;

/**
 * Splits an entity (latin1 string) into unfolded raw headers and the body. The header block ends
 * at the first empty line, or at a line that is neither a header nor a continuation when no
 * header follows before a blank line or boundary (mail that forgot the blank line). Stray lines
 * between headers are continuations that lost their indent (news gateways do this).
 */
function splitEntity(src: string, headerCharset: string | null): Entity {
  const headers: RawHeader[] = [];
  let pos = 0;
  let bodyStart = src.length;
  const lineAt = (at: number): { line: string; next: number } => {
    const nl = src.indexOf('\n', at);
    const end = nl < 0 ? src.length : nl;
    return { line: src.slice(at, end).replace(/\r$/, ''), next: nl < 0 ? src.length : nl + 1 };
  };
  // Where the next real header starts after stray lines, or -1 when the header block ends
  // (blank line, a MIME boundary, or the end) before another header appears.
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
  let strayUntil = -1;
  while (pos < src.length) {
    const { line, next } = lineAt(pos);
    if (line === '') {
      bodyStart = next;
      break;
    }
    if (!headers.length && /^\s*$/.test(line)) {
      pos = next; // blank-looking padding before the first header
      continue;
    }
    if (/^[ \t]/.test(line) && headers.length) {
      // Unfolding removes the line break and keeps the whitespace, as Gmail does.
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
    headers: headers.map((h) => ({ name: headerText(h.name, null), value: headerText(h.value, headerCharset).trim() })),
    body: src.slice(bodyStart),
  };
}

function headerValue(headers: RawHeader[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Children of a multipart body; null when the boundary never appears. */
function splitMultipart(body: string, boundary: string): string[] | null {
  const delim = new RegExp(`(?:^|\\r?\\n)--${escapeRegExp(boundary)}(--)?[ \\t]*(?=\\r?\\n|$)`, 'g');
  const children: string[] = [];
  let start = -1;
  let m: RegExpExecArray | null;
  let found = false;
  while ((m = delim.exec(body))) {
    found = true;
    if (start >= 0) children.push(body.slice(start, m.index));
    if (m[1]) {
      start = -1;
      break;
    }
    // Skip the line break that ends the delimiter line.
    let next = m.index + m[0].length;
    if (body.startsWith('\r\n', next)) next += 2;
    else if (body.startsWith('\n', next)) next += 1;
    start = next;
    if (delim.lastIndex === m.index) delim.lastIndex++;
  }
  if (!found) return null;
  // A missing closing delimiter: the last part runs to the end.
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
    const out: number[] = [];
    const s = body.replace(/[ \t]+(?=\r?\n)/g, '');
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x3d /* = */) {
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
          out.push(parseInt(hex, 16));
          i += 2;
          continue;
        }
      }
      out.push(c & 0xff);
    }
    return Buffer.from(out);
  }
  return Buffer.from(body, 'latin1');
}

interface Ctx {
  meta: StoredMessageMeta;
  opts: BuildOptions;
  attachments: Map<string, Buffer>;
  texts: { plain: string[]; html: string[] };
  headerCharset: string | null;
}

function buildPart(entity: Entity, partId: string, depth: number, ctx: Ctx, defaultType: string): Schema$MessagePart {
  const ctRaw = headerValue(entity.headers, 'Content-Type');
  let ct: HeaderValue = parseHeaderValue(ctRaw);
  if (!/^[^/\s]+\/[^/\s]+$/.test(ct.value)) ct = { value: defaultType, params: ct.params };
  const disp = parseHeaderValue(headerValue(entity.headers, 'Content-Disposition'));
  const filename = partFilename(ct, disp);
  const headers = entity.headers.map((h) => ({ name: h.name, value: h.value }));
  let mimeType = ct.value;

  if (mimeType.startsWith('multipart/') && depth < MAX_DEPTH) {
    const boundary = ct.params.boundary;
    const children = boundary ? splitMultipart(entity.body, boundary) : null;
    if (children) {
      const childDefault = mimeType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      const parts = children.map((c, i) =>
        buildPart(splitEntity(c, ctx.headerCharset), partId === '' ? String(i) : `${partId}.${i}`, depth + 1, ctx, childDefault),
      );
      return { partId, mimeType, filename, headers, body: { size: 0 }, parts };
    }
    // A multipart whose boundary never appears: empty, or the text it really is.
    if (!entity.body.trim()) return { partId, mimeType, filename, headers, body: { size: 0 }, parts: [] };
    mimeType = 'text/plain';
  }
  if (mimeType.startsWith('multipart/')) mimeType = 'text/plain';

  const bytes = decodeTransfer(entity.body, headerValue(entity.headers, 'Content-Transfer-Encoding') ?? '7bit');
  const isBodyText = mimeType === 'text/plain' || mimeType === 'text/html';
  const asAttachment =
    filename !== '' ||
    disp.value === 'attachment' ||
    mimeType === 'message/rfc822' ||
    (ctx.opts.attachmentOver !== undefined && bytes.length > ctx.opts.attachmentOver) ||
    (isBodyText && ctx.opts.bodyAsAttachmentOver !== undefined && bytes.length > ctx.opts.bodyAsAttachmentOver);

  const texts = mimeType === 'text/plain' ? ctx.texts.plain : ctx.texts.html;
  // Only the first body text of each kind feeds the snippet.
  if (isBodyText && filename === '' && disp.value !== 'attachment' && texts.length === 0) {
    texts.push(textOf(bytes, ct.params.charset));
  }

  if (asAttachment) {
    const attachmentId = ctx.opts.attachmentId?.(partId) ?? defaultAttachmentId(ctx.meta.id, partId);
    ctx.attachments.set(partId, bytes);
    return { partId, mimeType, filename, headers, body: { attachmentId, size: bytes.length } };
  }
  const body: gmail_v1.Schema$MessagePartBody = { size: bytes.length };
  if (bytes.length > 0) body.data = bytes.toString('base64url');
  return { partId, mimeType, filename, headers, body };
}

function defaultAttachmentId(messageId: string, partId: string): string {
  return `ANGjdJ${Buffer.from(`${messageId}:${partId || 'root'}`).toString('base64url')}`;
}

/** Gmail's snippet: the start of the text, whitespace collapsed, with HTML specials escaped as Gmail sends them. */
function makeSnippet(texts: { plain: string[]; html: string[] }): string {
  const source = texts.plain[0] ?? (texts.html[0] !== undefined ? htmlText(texts.html[0]) : '');
  const collapsed = source.replace(/\s+/g, ' ').trim();
  const cut = Array.from(collapsed).slice(0, SNIPPET_LEN).join('').trimEnd();
  return cut
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function buildMessage(raw: Buffer, meta: StoredMessageMeta, opts: BuildOptions = {}): BuiltMessage {
  // A UTF-8 byte-order mark before the first header is an editor's artefact, not content.
  const text = raw.toString('latin1').replace(/^\xef\xbb\xbf/, '');
  // Raw 8-bit headers that are not UTF-8 are most likely in the charset the message declares.
  const declared = /charset\s*=\s*"?([\w.:-]+)/i.exec(text.slice(0, 65536));
  const ctx: Ctx = { meta, opts, attachments: new Map(), texts: { plain: [], html: [] }, headerCharset: declared?.[1] ?? null };
  const root = splitEntity(text, ctx.headerCharset);
  const payload = buildPart(root, '', 0, ctx, 'text/plain');
  const sizeEstimate = raw.length;
  const minimal: Schema$Message = {
    id: meta.id,
    threadId: meta.threadId,
    labelIds: [...meta.labelIds],
    snippet: makeSnippet(ctx.texts),
    sizeEstimate,
    historyId: meta.historyId,
    internalDate: String(meta.internalDate),
  };
  const wanted = opts.metadataHeaders?.map((h) => h.toLowerCase());
  const metaHeaders = (payload.headers ?? []).filter((h) => !wanted || wanted.includes((h.name ?? '').toLowerCase()));
  return {
    full: { ...minimal, labelIds: [...meta.labelIds], payload },
    metadata: { ...minimal, labelIds: [...meta.labelIds], payload: { mimeType: payload.mimeType, headers: metaHeaders } },
    minimal,
    raw: { ...minimal, labelIds: [...meta.labelIds], raw: raw.toString('base64url') },
    attachments: ctx.attachments,
    sizeEstimate,
  };
}
