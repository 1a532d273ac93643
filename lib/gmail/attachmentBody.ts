// The body of a messages.attachments.get answer (`{"size": N, "data": "<base64url>"}`) read as
// it arrives. Read whole, a file near the attachment cap was held about four times over at once
// (the received bytes, the answer as text, the parsed `data` string, the decoded bytes); here
// the JSON is tokenised by stream-json, which hands the `data` string over in pieces without
// keeping it, and each piece is decoded into one buffer of the file's expected size.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import StreamJsonParser from 'stream-json/Parser.js';

// Anything outside the base64 and base64url alphabets (padding, stray whitespace) is dropped
// before decoding, so 4-character groups stay aligned across pieces.
const NOT_B64_ALL = /[^A-Za-z0-9_\-+/]/g;
// Pieces are gathered to about this many characters before each decode (stream-json's own
// pieces are at most 256 characters).
const DECODE_CHARS = 64 * 1024;

export interface AttachmentBody {
  /** The decoded `data`; null when the answer had none. */
  bytes: Buffer | null;
  /** The answer's `size`, when it gave one. */
  size: number | null;
  /** Bytes received (the answer's body as sent). */
  wireBytes: number;
}

/** The decoded file outgrew the most the caller accepts; reading stopped there. */
export class AttachmentTooLarge extends Error {
  readonly code = 'ATTACHMENT_TOO_LARGE';
  constructor(readonly atLeast: number) {
    super(`the attachment is larger than allowed (at least ${atLeast} bytes)`);
    this.name = 'AttachmentTooLarge';
  }
}

/** Decoded bytes, in one buffer sized up front when the size is known, never past `limit`. */
class Output {
  private buf: Buffer | null;
  private pieces: Buffer[] = [];
  length = 0;

  constructor(expected: number | undefined, private readonly limit: number | undefined) {
    this.buf = expected && expected > 0 ? Buffer.allocUnsafe(limit !== undefined ? Math.min(expected, limit) : expected) : null;
  }

  push(b: Buffer): void {
    if (!b.length) return;
    // A file whose listed size was wrong must not be held past the cap: stop reading.
    if (this.limit !== undefined && this.length + b.length > this.limit) throw new AttachmentTooLarge(this.length + b.length);
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

/** base64 text arriving in pieces, decoded in whole 4-character groups. */
class Base64Sink {
  private pending = '';
  constructor(private readonly out: Output) {}

  write(text: string): void {
    this.pending += text;
    if (this.pending.length >= DECODE_CHARS) this.drain(false);
  }

  end(): void {
    this.drain(true);
  }

  private drain(last: boolean): void {
    const s = this.pending.replace(NOT_B64_ALL, '');
    // The last group may be short (no padding): 2 or 3 characters still carry bytes.
    const n = last ? s.length : s.length - (s.length % 4);
    if (n) this.out.push(Buffer.from(s.slice(0, n), 'base64url'));
    this.pending = s.slice(n);
  }
}

interface Token {
  name: string;
  value?: unknown;
}

/**
 * Read an attachments.get answer from its body stream. `expectedBytes` (the size the message
 * listed for the part) sizes the output up front; a wrong guess costs a copy, never bytes.
 * An answer cut off, or not JSON, is an error.
 */
export async function readAttachmentBody(body: AsyncIterable<Uint8Array | string>, expectedBytes?: number, maxBytes?: number): Promise<AttachmentBody> {
  let wireBytes = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const raw of body) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      wireBytes += chunk.length;
      yield chunk;
    }
  }
  // Keys and numbers come whole (they are short); strings only in pieces, never assembled.
  const parser = new StreamJsonParser({ packKeys: true, packNumbers: true, packStrings: false, streamKeys: false, streamNumbers: false });
  let depth = 0;
  let key: string | null = null;
  let size: number | null = null;
  let out: Output | null = null;
  let sink: Base64Sink | null = null;
  let inData = false;
  let ended = false;
  // Why the reading stopped, when it stopped itself: stopping destroys the HTTP stream, and
  // the abort that follows may be what the pipeline reports.
  let stoppedBy: unknown = null;
  const consume = async (tokens: AsyncIterable<Token>) => {
    try {
      await consumeTokens(tokens);
    } catch (err) {
      stoppedBy = err;
      throw err;
    }
  };
  const consumeTokens = async (tokens: AsyncIterable<Token>) => {
    for await (const t of tokens) {
      switch (t.name) {
        case 'startObject':
        case 'startArray':
          depth++;
          break;
        case 'endObject':
        case 'endArray':
          depth--;
          if (depth === 0) ended = true;
          break;
        case 'keyValue':
          if (depth === 1) key = String(t.value);
          break;
        case 'numberValue':
          if (depth === 1 && key === 'size' && /^\d+$/.test(String(t.value))) size = Number(t.value);
          break;
        case 'startString':
          // Only the first top-level `data` is the file.
          if (depth === 1 && key === 'data' && !out) {
            out = new Output(expectedBytes, maxBytes);
            sink = new Base64Sink(out);
            inData = true;
          }
          break;
        case 'stringChunk':
          if (inData) sink!.write(String(t.value));
          break;
        case 'endString':
          if (inData) {
            sink!.end();
            inData = false;
          }
          break;
      }
    }
  };
  try {
    await pipeline(Readable.from(counted()), parser, consume);
  } catch (err) {
    if (stoppedBy instanceof AttachmentTooLarge) throw stoppedBy;
    // A network error (reset, timeout) keeps its code, so it is retried as any other request's;
    // a file past the cap is told as such.
    if (err && typeof err === 'object' && 'code' in err) throw err;
    throw new Error(`the attachment answer is not complete JSON (premature close or a broken body): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!ended) throw new Error('premature close: the attachment answer ended before its JSON did');
  return { bytes: out ? (out as Output).take() : null, size, wireBytes };
}
