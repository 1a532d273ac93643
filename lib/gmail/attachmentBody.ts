// The body of a messages.attachments.get answer (`{"size": N, "data": "<base64url>"}`) read as
// it arrives: the base64url text of `data` is decoded chunk by chunk into one buffer of the
// file's expected size. Read whole, a 48 MB file was held about four times over at once (the
// received bytes, the answer as text, the parsed `data` string, the decoded bytes); read this
// way it is held once, plus one network chunk.

const MAX_KEY = 64;
// The base64 and base64url alphabets; padding and anything else in the text is dropped before
// decoding, so 4-character groups stay aligned across chunks.
const NOT_B64 = /[^A-Za-z0-9_\-+/]/;
const NOT_B64_ALL = /[^A-Za-z0-9_\-+/]/g;

export interface AttachmentBody {
  /** The decoded `data`; null when the answer had none. */
  bytes: Buffer | null;
  /** The answer's `size`, when it gave one. */
  size: number | null;
  /** Bytes received (the answer's body as sent). */
  wireBytes: number;
}

/** Decoded bytes, in one buffer sized up front when the size is known. */
class Output {
  private buf: Buffer | null;
  private pieces: Buffer[] = [];
  length = 0;

  constructor(expected: number | undefined) {
    this.buf = expected && expected > 0 ? Buffer.allocUnsafe(expected) : null;
  }

  push(b: Buffer): void {
    if (!b.length) return;
    if (!this.buf) {
      this.pieces.push(b);
      this.length += b.length;
      return;
    }
    if (this.length + b.length > this.buf.length) {
      // Larger than announced: grow once to what is needed (or double), keeping what came.
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + b.length));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  take(): Buffer {
    if (!this.buf) return Buffer.concat(this.pieces, this.length);
    // Smaller than announced: an exact copy, so the unused tail is not kept alive with it.
    return this.length === this.buf.length ? this.buf : Buffer.from(this.buf.subarray(0, this.length));
  }
}

/**
 * Read an attachments.get answer from its body stream. `expectedBytes` (the size the message
 * listed for the part) sizes the output up front; a wrong guess costs a copy, never bytes.
 */
export async function readAttachmentBody(body: AsyncIterable<Uint8Array | string>, expectedBytes?: number): Promise<AttachmentBody> {
  // JSON outside `data` is small (size, attachmentId) and scanned byte by byte; inside `data`
  // the text is cut at the next quote or backslash with indexOf.
  let depth = 0;
  let inString = false;
  let escaped = false;
  let isKey = false;
  let expectKey = false;
  let key = '';
  let lastKey = '';
  let valueText = '';
  let inValue = false;
  let sizeText = '';
  let inData = false;
  let sawData = false;
  let dataEscape = ''; // an escape inside data cut by a chunk boundary
  let carry = '';
  let wireBytes = 0;
  let out: Output | null = null;

  const feed = (text: string) => {
    let s = NOT_B64.test(text) ? text.replace(NOT_B64_ALL, '') : text;
    if (carry) s = carry + s;
    const n = s.length - (s.length % 4);
    carry = s.slice(n);
    if (n) out!.push(Buffer.from(n === s.length ? s : s.slice(0, n), 'base64url'));
  };

  for await (const raw of body) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    wireBytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (inData) {
        if (dataEscape) {
          // Finish an escape begun at the end of the last chunk.
          dataEscape += String.fromCharCode(chunk[i]!);
          i++;
          if ((dataEscape.length >= 2 && dataEscape[1] !== 'u') || dataEscape.length === 6) {
            feed(unescape1(dataEscape));
            dataEscape = '';
          }
          continue;
        }
        const q = chunk.indexOf(0x22, i);
        const b = chunk.indexOf(0x5c, i);
        const stop = q < 0 ? b : b < 0 ? q : Math.min(q, b);
        if (stop < 0) {
          feed(chunk.toString('latin1', i));
          i = chunk.length;
          continue;
        }
        if (stop > i) feed(chunk.toString('latin1', i, stop));
        if (stop === q) {
          inData = false;
          // The last group may be short (no padding): 2 or 3 characters still carry bytes.
          if (carry) out!.push(Buffer.from(carry, 'base64url'));
          carry = '';
          i = stop + 1;
          continue;
        }
        // A backslash: JSON may escape '/' (and, in theory, anything as \uXXXX).
        const end = chunk[stop + 1] === 0x75 ? stop + 6 : stop + 2;
        if (end > chunk.length) {
          dataEscape = chunk.toString('latin1', stop);
          i = chunk.length;
          continue;
        }
        feed(unescape1(chunk.toString('latin1', stop, end)));
        i = end;
        continue;
      }
      const c = chunk[i]!;
      i++;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) {
          inString = false;
          if (isKey) lastKey = key;
          continue;
        }
        if (isKey && key.length < MAX_KEY) key += String.fromCharCode(c);
        continue;
      }
      switch (c) {
        case 0x7b: // {
        case 0x5b: // [
          depth++;
          expectKey = c === 0x7b && depth === 1;
          inValue = false;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          if (inValue && lastKey === 'size') sizeText = valueText;
          inValue = false;
          depth--;
          break;
        case 0x2c: // ,
          if (inValue && lastKey === 'size') sizeText = valueText;
          inValue = false;
          if (depth === 1) expectKey = true;
          break;
        case 0x3a: // :
          if (depth === 1) {
            expectKey = false;
            inValue = true;
            valueText = '';
          }
          break;
        case 0x22: // "
          if (depth === 1 && expectKey) {
            inString = true;
            isKey = true;
            key = '';
          } else if (depth === 1 && inValue && lastKey === 'data' && !sawData) {
            inData = true;
            sawData = true;
            out = new Output(expectedBytes);
          } else {
            inString = true;
            isKey = false;
          }
          break;
        default:
          if (inValue && depth === 1 && valueText.length < MAX_KEY && c > 0x20) valueText += String.fromCharCode(c);
      }
    }
  }
  if (inData || dataEscape) throw new Error('premature close: the attachment answer ended inside its data');
  const size = sizeText && /^\d+$/.test(sizeText) ? Number(sizeText) : null;
  return { bytes: out ? out.take() : null, size, wireBytes };
}

function unescape1(esc: string): string {
  if (esc.startsWith('\\u')) return String.fromCharCode(Number.parseInt(esc.slice(2), 16));
  switch (esc[1]) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    default:
      return esc.slice(1);
  }
}
