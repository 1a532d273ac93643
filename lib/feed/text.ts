// Clean text for indexing: the message's own words. HTML-only mail is converted to text
// first; quoted replies and signatures are removed by email-reply-parser; forwarded
// history (which that parser keeps) is cut at its marker line. Then the text is split into
// chunks of at most CHUNK_MAX characters at paragraph boundaries, each with a stable id.
import { createHash } from 'node:crypto';
import EmailReplyParser from 'email-reply-parser';
import { convert } from 'html-to-text';

export const CHUNK_MAX = 2000;
/**
 * Bodies are cut to this many characters before parsing: the reply parser's cost grows with
 * the input, and a message's own words fit well within it (what lies beyond is quoted
 * history, logs or pasted data, which an index gains little from).
 */
export const TEXT_INPUT_MAX = 100_000;
const HTML_INPUT_MAX = 400_000;

export interface Chunk {
  chunk_id: string;
  text: string;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

// Lines that open forwarded or inline-quoted history in the common clients.
const FORWARD_MARKERS = [
  /^-{2,}\s*Forwarded message\s*-{2,}\s*$/i,
  /^-{2,}\s*Original Message\s*-{2,}\s*$/i,
  /^Begin forwarded message:\s*$/i,
  /^_{10,}\s*$/,
];

function cutForwarded(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length <= 80 && FORWARD_MARKERS.some((re) => re.test(line))) return lines.slice(0, i).join('\n');
  }
  return text;
}

/** The message's own words, or '' when it has none (or no body is stored). */
export function cleanText(bodyText: string | null, bodyHtml: string | null): string {
  let raw = bodyText;
  if (raw === null || !raw.trim()) {
    raw = bodyHtml ? convert(bodyHtml.slice(0, HTML_INPUT_MAX), { wordwrap: false, selectors: [{ selector: 'img', format: 'skip' }] }) : '';
  }
  raw = raw.slice(0, TEXT_INPUT_MAX).replace(/\r\n?/g, '\n');
  if (!raw.trim()) return '';
  let visible: string;
  try {
    visible = new EmailReplyParser().read(raw).getVisibleText();
  } catch {
    // A parser failure must not stop the write that reported the change: index the raw text.
    visible = raw;
  }
  return cutForwarded(visible)
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
