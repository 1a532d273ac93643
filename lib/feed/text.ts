// Clean text for indexing: the message's own words. HTML-only mail is converted to text
// first; the text is cut at the first quoted line, quote header or forwarded-history marker
// (one linear pass); email-reply-parser then removes the signature and any quoting it
// recognises that the first pass did not. Then the text is split into
// chunks of at most CHUNK_MAX characters at paragraph boundaries, each with a stable id.
import { createHash } from 'node:crypto';
import EmailReplyParser from 'email-reply-parser';
import { convert } from 'html-to-text';

export const CHUNK_MAX = 2000;
/**
 * Bodies are read up to this many characters: a message's own words fit well within it
 * (what lies beyond is quoted history, logs or pasted data, which an index gains little from).
 */
const TEXT_INPUT_MAX = 100_000;
const HTML_INPUT_MAX = 100_000;

const HTML_OPTIONS = {
  wordwrap: false as const,
  limits: { maxInputLength: HTML_INPUT_MAX },
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'style', format: 'skip' },
    { selector: 'script', format: 'skip' },
  ],
};

function htmlToText(html: string): string {
  try {
    return convert(html.slice(0, HTML_INPUT_MAX), HTML_OPTIONS);
  } catch {
    // Markup the converter cannot take (it recurses, and mail can nest tags without end):
    // its words without the tags, in one linear pass.
    return html.slice(0, HTML_INPUT_MAX).replace(/<[^>]*>/g, ' ').replace(/[ \t]+/g, ' ');
  }
}

export interface Chunk {
  chunk_id: string;
  text: string;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * The reply parser runs at most this many characters (the end of the message's own text,
 * where signatures sit). Its patterns are many and some backtrack across lines, so its
 * cost grows faster than its input; bounding the input bounds the cost per email.
 */
const PARSER_INPUT_MAX = 2000;

// Lines that open forwarded or inline-quoted history in the common clients.
const FORWARD_MARKERS = [
  /^-{2,}\s*Forwarded message\s*-{2,}$/i,
  /^-{2,}\s*Original Message\s*-{2,}$/i,
  /^Begin forwarded message:$/i,
  /^_{10,}$/,
];
// "On <date>, <name> wrote:" and its common translations, on one line.
const QUOTE_HEADER = /^(On|Le|El|Il|Em|Am|Op|Den)\s.{0,300}\s(wrote|a écrit|escribió|ha scritto|escreveu|schrieb|schreef|skrev)\s?:?$/i;

/**
 * The text above the first quoted line, quote header or forward marker. One pass over the
 * lines, each tested against short patterns, so it is linear in the body.
 */
function ownPart(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith('>')) return lines.slice(0, i).join('\n');
    if (line.length <= 400 && (QUOTE_HEADER.test(line) || FORWARD_MARKERS.some((re) => re.test(line)))) return lines.slice(0, i).join('\n');
  }
  return text;
}

function visibleText(own: string): string {
  // Only the end goes through the parser; the head is kept as written.
  let head = '';
  let tail = own;
  if (own.length > PARSER_INPUT_MAX) {
    const cut = own.indexOf('\n\n', own.length - PARSER_INPUT_MAX);
    const at = cut < 0 ? own.length - PARSER_INPUT_MAX : cut;
    head = own.slice(0, at);
    tail = own.slice(at);
  }
  try {
    return head + new EmailReplyParser().read(tail).getVisibleText();
  } catch {
    // A parser failure must not stop the write that reported the change: index what is there.
    return own;
  }
}

/** The message's own words, or '' when it has none (or no body is stored). */
export function cleanText(bodyText: string | null, bodyHtml: string | null): string {
  let raw = bodyText;
  if (raw === null || !raw.trim()) {
    raw = bodyHtml ? htmlToText(bodyHtml) : '';
  }
  raw = raw.slice(0, TEXT_INPUT_MAX).replace(/\r\n?/g, '\n');
  const own = ownPart(raw);
  if (!own.trim()) return '';
  return visibleText(own)
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Pieces of at most `max` characters: whole paragraphs where they fit, else lines, else hard cuts. */
function pieces(text: string, max: number): string[] {
  const out: string[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    const p = para.trim();
    if (!p) continue;
    if (p.length <= max) {
      out.push(p);
      continue;
    }
    let cur = '';
    for (const line of p.split('\n')) {
      if (line.length > max) {
        if (cur) out.push(cur);
        cur = '';
        for (let i = 0; i < line.length; i += max) out.push(line.slice(i, i + max));
        continue;
      }
      if (cur && cur.length + 1 + line.length > max) {
        out.push(cur);
        cur = line;
      } else {
        cur = cur ? `${cur}\n${line}` : line;
      }
    }
    if (cur) out.push(cur);
  }
  return out;
}

/** Chunks of at most CHUNK_MAX characters, paragraphs packed together while they fit. */
export function chunkText(emailId: number, text: string, max = CHUNK_MAX): Chunk[] {
  const chunks: string[] = [];
  let cur = '';
  for (const p of pieces(text, max)) {
    if (cur && cur.length + 2 + p.length > max) {
      chunks.push(cur);
      cur = p;
    } else {
      cur = cur ? `${cur}\n\n${p}` : p;
    }
  }
  if (cur) chunks.push(cur);
  return chunks.map((t, i) => ({ chunk_id: sha256(`${emailId}\n${i}\n${t}`).slice(0, 32), text: t }));
}

export const contentHash = (text: string): string => sha256(text);
