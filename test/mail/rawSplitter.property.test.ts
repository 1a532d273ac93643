// The product's raw splitter (lib/mail/raw.ts) and the emulator's (tools/gmail-emulator/message.ts)
// are written apart on purpose, so each judges the other. Real fixtures exercise the common
// shapes (test/mail/rawFiles.test.ts); here generated messages press on the corners where two
// readings of the same rules drift: stray header lines, folded values, CRLF and LF mixed, blanks
// after delimiters, missing close delimiters, junk in base64, soft breaks and bad escapes in
// quoted-printable, nesting and an mbox `From ` line. Every part's id, type, name, headers,
// size and bytes must agree.
import type { gmail_v1 } from '@googleapis/gmail';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rawPayload } from '../../lib/mail/raw.js';
import { buildMessage } from '../../tools/gmail-emulator/message.js';

type Part = gmail_v1.Schema$MessagePart;

const eol = fc.constantFrom('\r\n', '\n');
const word = fc.stringMatching(/^[A-Za-z0-9]{1,8}$/);
const headerLine = fc.oneof(
  fc.tuple(word, fc.constantFrom(': ', ':', ' : '), word).map(([n, s, v]) => `X-${n}${s}${v}`),
  word.map((w) => ` folded ${w}`),
  word.map((w) => `stray line ${w}`),
  fc.constant('\tx'),
);
const b64Body = fc.uint8Array({ maxLength: 90 }).chain((bytes) =>
  fc.constantFrom('', '!', '=', ' \t', '==junk==').map((junk) => {
    const b = Buffer.from(bytes).toString('base64');
    return `${b.slice(0, 20)}${junk}${b.slice(20)}`.replace(/(.{30})/g, '$1\n');
  }),
);
const qpBody = fc
  .array(fc.constantFrom('a', '=3D', '=', '=\n', '=\r\n', ' \n', '\t\r\n', '=4', '=ZZ', '\xe9', '= \n', '\r', 'text'), { maxLength: 14 })
  .map((xs) => xs.join(''));
const leaf = fc
  .record({
    type: fc.constantFrom('text/plain', 'text/html', 'application/pdf', 'message/rfc822', 'bogus', 'image/png; name="p.png"'),
    disp: fc.constantFrom('', 'attachment', 'attachment; filename="a b.txt"', 'inline'),
    cte: fc.constantFrom('', '7bit', 'base64', 'quoted-printable', ' BASE64 '),
    extra: fc.array(headerLine, { maxLength: 3 }),
    plain: fc.stringMatching(/^[ -~\n]{0,40}$/),
    b64: b64Body,
    qp: qpBody,
  })
  .map((r) => {
    const body = /base64/i.test(r.cte) ? r.b64 : r.cte === 'quoted-printable' ? r.qp : r.plain;
    // The generated lines go before the content fields: a stray line glued onto a quoted
    // filename is a question for the two header-value readers, not for the splitters.
    const head = ['X-Pad: p', ...r.extra, `Content-Type: ${r.type}`, ...(r.disp ? [`Content-Disposition: ${r.disp}`] : []), ...(r.cte ? [`Content-Transfer-Encoding: ${r.cte}`] : [])];
    return { head, body };
  });

interface Entity {
  head: string[];
  body: string;
}

const entity: fc.Memo<Entity> = fc.memo((n) =>
  n <= 1
    ? leaf
    : fc
        .record({
          sub: fc.constantFrom('mixed', 'alternative', 'digest'),
          kids: fc.array(entity(n - 1), { minLength: 0, maxLength: 3 }),
          close: fc.constantFrom('--', '-- ', '', null),
          pad: fc.constantFrom('', ' ', '\t'),
          preamble: fc.constantFrom('', 'preamble\n', '--not the boundary\n'),
        })
        .chain((r) =>
          eol.map((nl) => {
            const b = 'b0undary';
            const kids = r.kids.map((k) => `--${b}${r.pad}${nl}${k.head.join(nl)}${nl}${nl}${k.body}${nl}`).join('');
            const tail = r.close === null ? '' : `--${b}${r.close}${nl}epilogue`;
            return { head: [`Content-Type: multipart/${r.sub}; boundary="${b}"`], body: `${r.preamble}${kids}${tail}` };
          }),
        ),
);

const message = fc
  .record({ root: entity(3), mbox: fc.boolean(), lead: fc.array(headerLine, { maxLength: 3 }), nl: eol })
  .map(({ root, mbox, lead, nl }) => {
    const head = ['From: a@b.example', ...lead, 'Subject: s', ...root.head];
    const text = `${mbox ? `From a@b.example Mon Jan  1 00:00:00 2024${nl}` : ''}${head.join(nl)}${nl}${nl}${root.body}`;
    return Buffer.from(text, 'latin1');
  });

// The part tree with what both sides must agree on; the emulator's attachment ids are its own.
function shape(p: Part): unknown {
  return {
    partId: p.partId,
    mimeType: p.mimeType,
    filename: p.filename,
    headers: p.headers,
    size: p.body?.size,
    data: p.body?.attachmentId ? undefined : p.body?.data,
    parts: p.parts?.map(shape),
  };
}

const META = { id: 'm1', threadId: 't1', labelIds: [], internalDate: 0, historyId: '1' };

describe('raw splitter against the emulator, on generated messages', () => {
  it('every part and every file agrees', () => {
    fc.assert(
      fc.property(message, (bytes) => {
        const mine = rawPayload(bytes);
        const judge = buildMessage(bytes, META);
        const judged = shape(judge.full.payload!) as { parts?: unknown[] };
        const read = shape(mine.payload) as { data?: string };
        // A part raw keeps aside has no inline data; the emulator's full answer serves it by id.
        expect(stripData(read, mine.files)).toEqual(stripData(judged, judge.attachments));
        expect([...mine.files.keys()].sort()).toEqual([...judge.attachments.keys()].sort());
        for (const [id, b] of judge.attachments) expect(mine.files.get(id)?.equals(b), `part ${id}`).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

function stripData(node: unknown, files: Map<string, Buffer>): unknown {
  const n = node as { partId?: string; data?: string; parts?: unknown[] };
  return { ...n, data: files.has(n.partId ?? '') ? undefined : n.data, parts: n.parts?.map((c) => stripData(c, files)) };
}
