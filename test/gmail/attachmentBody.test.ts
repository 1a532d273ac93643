// The attachments.get answer read as a stream: the same bytes as parsing the whole answer,
// however the network cuts it, whatever JSON escapes or key order Gmail sends.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readAttachmentBody } from '../../lib/gmail/attachmentBody.js';

async function* cut(text: string, n: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(text, 'utf8');
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

describe('readAttachmentBody', () => {
  it('decodes data however the body is cut, with or without a size to allocate', async () => {
    for (const len of [0, 1, 2, 3, 4, 5, 100, 1001]) {
      const data = randomBytes(len);
      const bodies = [
        JSON.stringify({ size: len, data: data.toString('base64url') }),
        // Standard alphabet with padding, '/' escaped as JSON may, data first, an escaped quote elsewhere.
        `{"data" : "${data.toString('base64').replace(/\//g, '\\/')}", "size":${len}, "attachmentId":"x\\"data\\"y"}`,
        // A character escaped as \uXXXX, and key order Gmail might use.
        `{"attachmentId":"a1","size":${len},"data":"${data.toString('base64url').replace(/A/g, '\\u0041')}"}`,
      ];
      for (const body of bodies) {
        for (const n of [1, 2, 3, 5, 7, 64, 100_000]) {
          for (const expected of [undefined, len, len + 3, Math.max(1, len - 2)]) {
            const r = await readAttachmentBody(cut(body, n), expected);
            expect(r.bytes?.equals(data), `len ${len}, chunks of ${n}, expected ${expected}: ${body.slice(0, 50)}`).toBe(true);
            expect(r.size).toBe(len);
            expect(r.wireBytes).toBe(Buffer.byteLength(body));
          }
        }
      }
    }
  });

  it('holds the file once: the output is one buffer of the announced size, not the answer as text', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 1);
    const r = await readAttachmentBody(cut(JSON.stringify({ size: data.length, data: data.toString('base64url') }), 64 * 1024), data.length);
    expect(r.bytes!.equals(data)).toBe(true);
    expect(r.bytes!.buffer.byteLength).toBeLessThanOrEqual(data.length + 8192);
  });

  it('answers null bytes for an answer without data, and refuses one cut off inside it', async () => {
    expect((await readAttachmentBody(cut('{"size": 3}', 4))).bytes).toBeNull();
    await expect(readAttachmentBody(cut('{"size": 3, "data": "AAEC', 4))).rejects.toThrow(/premature close|ended/);
  });
});
