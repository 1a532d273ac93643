// Every parser that reads a stranger's header runs in linear time on long adversarial input
// (runs of the characters the old regexes backtracked on), and keeps its promises on any input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldAddress, normalizeAddress, normalizeDomain, sameMailbox } from '../../lib/mail/address.js';
import { contentDisposition, safeFilename } from '../../lib/mail/filename.js';
import {
  decodeHeaderWords,
  MAX_FILENAME_BYTES,
  MAX_HEADER_CHARS,
  parseAddressList,
  parseGmailMessage,
  parseMailDate,
  parseStructuredHeader,
} from '../../lib/mail/mime.js';

// What quadratic regexes choke on: long runs of one character, or of a short unit, then a breaker.
const UNITS = ['.', ' ', '\t', '(', ')', '<', '>', '"', ':', '@', ',', ';', '=?', '?=', '=?utf-8?q?', 'a.', ' :', '\\', '*', '%', '\r\n ', 'a', '\u200e', '.\u3000'];
const adversarial = fc
  .record({
    unit: fc.constantFrom(...UNITS),
    repeat: fc.integer({ min: 2_000, max: 40_000 }),
    head: fc.string({ maxLength: 20 }),
    tail: fc.constantFrom('', 'x', '!', '@x', ':00', ')', '"', '\u0000'),
  })
  .map(({ unit, repeat, head, tail }) => head + unit.repeat(repeat) + tail);

/** Runs `fn` on `input` and checks it took at most a few milliseconds per KiB (with room for a loaded machine). */
function linear(fn: (s: string) => unknown, input: string): void {
  const kib = Math.max(1, input.length / 1024);
  const t = performance.now();
  fn(input);
  const ms = performance.now() - t;
  expect(ms, `${ms.toFixed(1)} ms for ${kib.toFixed(0)} KiB`).toBeLessThan(60 + 4 * kib);
}

const RUNS = { numRuns: 40 };

describe('linear time on adversarial input', () => {
  const cases: [string, (s: string) => unknown][] = [
    ['normalizeAddress', normalizeAddress],
    ['foldAddress', foldAddress],
    ['normalizeDomain', normalizeDomain],
    ['parseAddressList', (s) => parseAddressList([s])],
    ['parseMailDate', parseMailDate],
    ['decodeHeaderWords', decodeHeaderWords],
    ['parseStructuredHeader', parseStructuredHeader],
    ['safeFilename', safeFilename],
    ['contentDisposition', contentDisposition],
  ];
  for (const [name, fn] of cases) {
    it(`${name} stays within a few ms per KiB`, () => {
      // Warm up the code paths once so the JIT is not what is measured.
      fn('warm-up@example.test');
      fc.assert(fc.property(adversarial, (s) => linear(fn, s)), RUNS);
    });
  }

  it('the inputs the old code was quadratic on: a 100 KB Date, a run of dots in an address, a 60,000-character file name', () => {
    linear(parseMailDate, `Mon, 1 Jan 2024 10${' '.repeat(100_000)}x`);
    linear(parseMailDate, `${' :'.repeat(50_000)}`);
    linear(normalizeAddress, `a@b${'.'.repeat(100_000)}x`);
    linear(safeFilename, `report${'. '.repeat(30_000)}x`);
    linear(safeFilename, `${'.'.repeat(60_000)}pdf`);
  });

  it('a whole Gmail message with every header hostile parses within budget and comes out bounded', () => {
    const huge = (unit: string) => unit.repeat(Math.ceil(200_000 / unit.length));
    const msg = {
      id: 'm1',
      threadId: 't1',
      internalDate: String(Date.parse('2026-01-10T10:00:00Z')),
      payload: {
        mimeType: 'multipart/mixed',
        headers: [
          { name: 'Subject', value: huge('=?utf-8?q?a?= ') },
          { name: 'From', value: `x@y.test${huge(' ')}` },
          { name: 'To', value: Array.from({ length: 10_000 }, (_, i) => `p${i}@x.test`).join(', ') },
          { name: 'Date', value: huge('(') },
          { name: 'References', value: Array.from({ length: 20_000 }, (_, i) => `<r${i}@x.test>`).join(' ') },
          { name: 'In-Reply-To', value: Array.from({ length: 1000 }, (_, i) => `<i${i}@x.test>`).join(' ') },
        ],
        parts: [{ partId: '1', mimeType: 'application/pdf', filename: `${'n'.repeat(60_000)}.pdf`, headers: [], body: { attachmentId: 'a', size: 10 } }],
      },
    };
    const t = performance.now();
    const p = parseGmailMessage(msg as never, { bodies: false });
    expect(performance.now() - t).toBeLessThan(1500);
    expect(p.subject!.length).toBeLessThanOrEqual(MAX_HEADER_CHARS);
    expect(p.to).toHaveLength(500);
    expect(p.participantCounts!.to).toBe(10_000);
    expect(p.references).toHaveLength(100);
    expect(p.references.at(-1)).toBe('r19999@x.test');
    expect(p.inReplyTo.length).toBeLessThanOrEqual(5);
    expect(Buffer.byteLength(p.attachments[0]!.filename)).toBeLessThanOrEqual(MAX_FILENAME_BYTES);
    expect(p.sentAt).toBe('2026-01-10T10:00:00.000Z');
  });
});

describe('promises on any input', () => {
  it('normalizeAddress is idempotent and never throws; folding is stable', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.emailAddress(), adversarial), (s) => {
        const a = normalizeAddress(s);
        if (a !== null) {
          expect(normalizeAddress(a)).toBe(a);
          expect(foldAddress(foldAddress(a))).toBe(foldAddress(a));
          expect(sameMailbox(a, a.toUpperCase())).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('safeFilename never names a path, hides characters or runs long', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string(), adversarial), (s) => {
        const name = safeFilename(s);
        expect(name.length).toBeGreaterThan(0);
        expect(name).not.toMatch(/[\\/:*?"<>|\u0000-\u001f\u202a-\u202e]/);
        expect(name.startsWith('.')).toBe(false);
        expect(Array.from(name).length).toBeLessThanOrEqual(120);
        expect(() => contentDisposition(s)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('parseMailDate reads a valid date whatever comments and folding surround it', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom(' ', '  ', '\r\n ', ' (comment) ', '\t'),
        (d, ws) => {
          const t = Math.floor(d.getTime() / 1000) * 1000;
          const u = new Date(t).toUTCString().replace('GMT', '+0000');
          const [wd, day, mon, year, time, zone] = u.split(' ');
          const [h, m, s] = time!.split(':');
          const v = `${wd}${ws}${day}${ws}${mon}${ws}${year}${ws}${h}${ws}:${ws}${m}:${s}${ws}${zone}`;
          expect(parseMailDate(v)).toBe(t);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('header parsers never throw on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (s) => {
        parseAddressList([s]);
        parseMailDate(s);
        decodeHeaderWords(s);
        parseStructuredHeader(s);
      }),
      { numRuns: 300 },
    );
  });
});
