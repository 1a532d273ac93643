// Safe download names for attachments. A sender chooses an attachment's filename, so it is
// hostile until cleaned: it must never name a path, break out of a header, hide behind
// control or bidi characters, or become a reserved device name when saved on Windows.
// Stored files never use it (they live under attachments/<sha256>); only the
// Content-Disposition header does.

const MAX_CODE_POINTS = 120;
/** Raw names are cut to this many code units before any cleaning: no work grows with a hostile name. */
const MAX_RAW_CHARS = 1024;
const MAX_UTF8_BYTES = 240;
const FALLBACK = 'attachment';

// C0 and C1 controls, DEL, and the format characters that reorder or hide text
// (bidi embeddings, overrides and isolates, zero-width marks, the BOM).
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;
// Path separators and the characters Windows refuses in names; quotes included so no
// header quoting can be confused.
const FORBIDDEN = /[\\/:*?"<>|]/g;
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;

const isDotOrSpace = (ch: string) => ch === '.' || /\s/u.test(ch);

/** Trailing dots and white space removed in one backwards scan (`/[.\s]+$/` is quadratic on long runs). */
function trimEnd(s: string): string {
  let end = s.length;
  while (end > 0 && isDotOrSpace(s[end - 1]!)) end--;
  return s.slice(0, end);
}

function trimStart(s: string): string {
  let start = 0;
  while (start < s.length && isDotOrSpace(s[start]!)) start++;
  return s.slice(start);
}

/** The first MAX_RAW_CHARS code units, without a dangling half surrogate pair, well-formed. */
function capRaw(s: string): string {
  let out = s;
  if (out.length > MAX_RAW_CHARS) {
    let end = MAX_RAW_CHARS;
    const c = out.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff) end--;
    out = out.slice(0, end);
  }
  // A lone surrogate would make encodeURIComponent throw when the header is built.
  return out.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

function graphemes(s: string): string[] {
  return Array.from(segmenter.segment(s), (g) => g.segment);
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Cut to the length limits on grapheme boundaries, keeping a short extension. */
function truncate(name: string): string {
  if (Array.from(name).length <= MAX_CODE_POINTS && utf8Length(name) <= MAX_UTF8_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const stem = graphemes(ext ? name.slice(0, dot) : name);
  const budgetPoints = MAX_CODE_POINTS - Array.from(ext).length;
  const budgetBytes = MAX_UTF8_BYTES - utf8Length(ext);
  let out = '';
  for (const g of stem) {
    const next = out + g;
    if (Array.from(next).length > budgetPoints || utf8Length(next) > budgetBytes) break;
    out = next;
  }
  return trimEnd(out) + ext;
}

/**
 * The name a downloaded attachment is offered under: NFC, no path separators, no control or
 * invisible characters, no leading dots, not a reserved device name, at most 120 characters.
 * Never empty.
 */
export function safeFilename(raw: string | null | undefined): string {
  let name = capRaw(raw ?? '').normalize('NFC').replace(/[\t\n\v\f\r]+/g, ' ').replace(INVISIBLE, '').replace(FORBIDDEN, '_');
  name = name.replace(/\s+/gu, ' ').trim();
  // Leading dots hide the file or walk up ("..", ".bashrc"); trailing dots and spaces are
  // dropped by Windows, which would change the extension it shows.
  name = trimEnd(trimStart(name));
  name = truncate(name);
  if (!name) return FALLBACK;
  const stem = name.includes('.') ? name.slice(0, name.indexOf('.')) : name;
  if (RESERVED.test(stem.trim())) name = `_${name}`;
  return name;
}

/** An ASCII rendering for clients that ignore `filename*`: accents stripped, the rest `_`. */
export function asciiFilename(safe: string): string {
  const ascii = safe
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\x20-\x7e]/g, '_')
    .replace(/_+/g, '_');
  const cleaned = safeFilename(ascii);
  // A name that was entirely non-Latin keeps its extension rather than becoming "____.pdf".
  if (/^[_\s.]*(\.[A-Za-z0-9]{1,10})?$/.test(cleaned)) {
    const ext = /\.[A-Za-z0-9]{1,10}$/.exec(cleaned)?.[0] ?? '';
    return `${FALLBACK}${ext}`;
  }
  return cleaned;
}

const quoted = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** RFC 5987 value-chars: everything but attr-char percent-encoded, from UTF-8. */
function rfc5987(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `attachment; filename="<ascii>"; filename*=UTF-8''<pct-encoded>` (RFC 6266): old clients
 * read the ASCII name, current ones the UTF-8 one. Both come from the cleaned name.
 */
export function contentDisposition(raw: string | null | undefined): string {
  const safe = safeFilename(raw);
  return `attachment; filename=${quoted(asciiFilename(safe))}; filename*=UTF-8''${rfc5987(safe)}`;
}
