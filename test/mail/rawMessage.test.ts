// format=raw decodes to the same ParsedMessage as format=full, with each attachment's bytes
// filed under the part id its `full` attachment row has.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_FILENAME_BYTES, parseGmailMessage } from '../../lib/mail/mime.js';
import { parseRawMessage } from '../../lib/mail/raw.js';
import type { ParsedMessage } from '../../lib/mail/types.js';
import { buildMessage, type StoredMessageMeta } from '../../tools/gmail-emulator/message.js';
import { generateCorpus } from '../../tools/corpus/index.js';

const DIR = path.resolve('test/fixtures/eml');
const META: StoredMessageMeta = { id: '18c0a1b2c3d4e5f6', threadId: '18c0a1b2c3d4e5f7', labelIds: ['INBOX', 'UNREAD'], internalDate: 1_700_000_000_000, historyId: '4242' };

// A file name's bytes that are invalid in its declared charset (a truncated UTF-8 sequence, a
// stray byte in ISO-2022-JP): in the full format the name is decoded by the emulator, which
// drops or maps them one way, and from raw by the product, which marks them another. Both name
// the same file; the undecodable bytes are left out of the comparison. A name long enough to be
// capped keeps what fits in MAX_FILENAME_BYTES, which depends on how those bytes were read, so
// capped names are compared on what both sides certainly kept.
const undecodable = /[\ufffd\u0080-\u009f]/g;
const sameName = (a: ParsedMessage['attachments'][number]) => {
  const capped = Buffer.byteLength(a.filename) > MAX_FILENAME_BYTES - 8;
  const name = a.filename.replace(undecodable, '');
  return { ...a, filename: capped ? name.slice(0, 100) : name };
};

function withoutIds(p: ParsedMessage): ParsedMessage {
  return { ...p, attachments: p.attachments.map((a) => ({ ...sameName(a), attachmentId: null })) };
}

function check(raw: Buffer, label: string): number {
  const built = buildMessage(raw, META);
  const full = parseGmailMessage(built.full);
  const fromRaw = parseRawMessage(built.raw);
  expect({ ...fromRaw.parsed, attachments: fromRaw.parsed.attachments.map(sameName) }, label).toEqual(withoutIds(full));
  for (const a of full.attachments) {
    const want = built.attachments.get(a.partId);
    expect(fromRaw.files.get(a.partId)?.equals(want!), `${label} part ${a.partId}`).toBe(true);
  }
  return full.attachments.length;
}

describe('raw message decoding', () => {
  it('every fixture message decodes from raw exactly as from full', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.eml'));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) check(readFileSync(path.join(DIR, f)), f);
  });

  it('a generated corpus (attachments, replies, charsets) decodes from raw exactly as from full', () => {
    const corpus = generateCorpus({ seed: 'raw-equivalence', conversations: 60, fixtures: false });
    let files = 0;
    let n = 0;
    for (const d of corpus.deliveries()) {
      files += check(d.raw, d.key);
      n++;
    }
    expect(n).toBeGreaterThan(60);
    expect(files).toBeGreaterThan(5);
  });

  it('refuses a raw message larger than the caller agreed to hold, before decoding it', () => {
    const raw = Buffer.from(`From: a@b.example\r\nSubject: big\r\n\r\n${'x'.repeat(10_000)}`);
    const msg = { id: 'abc', threadId: 'abc', raw: raw.toString('base64url') };
    expect(() => parseRawMessage(msg, { maxBytes: 1000 })).toThrow(/over the 1000 allowed/);
    expect(parseRawMessage(msg, { maxBytes: 20_000 }).parsed.subject).toBe('big');
  });

  it('hostile structure stays linear: 5,000 nested multiparts and 20,000 stray header lines', () => {
    let body = 'innermost';
    for (let i = 0; i < 5000; i++) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--`;
    const nested = Buffer.from(`From: a@b.example\r\nSubject: deep\r\n${body}`);
    const stray = Buffer.from(`From: a@b.example\r\nSubject: stray\r\n${'no colon here\r\n'.repeat(20_000)}X-Last: 1\r\n\r\nbody`);
    const t0 = performance.now();
    for (const raw of [nested, stray]) {
      const msg = { id: 'abc', threadId: 'abc', raw: raw.toString('base64url') };
      expect(parseRawMessage(msg).parsed.from?.address).toBe('a@b.example');
    }
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a message without raw content is a validation error naming the field', () => {
    expect(() => parseRawMessage({ id: 'abc' })).toThrow(/no raw content/);
  });
});
