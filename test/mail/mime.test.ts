import { readFileSync } from 'node:fs';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GmailMessage } from '../../lib/gmail/types.js';
import {
  decodeBodyPart,
  decodeCharset,
  decodeHeaderWords,
  parseGmailMessage,
  parseMailDate,
  parseStructuredHeader,
} from '../../lib/mail/mime.js';
import { buildMessage, type BuildOptions, type StoredMessageMeta } from '../../tools/gmail-emulator/message.js';

const LOCAL = path.resolve('test/fixtures/eml');
const FIXTURES = LOCAL;

const INTERNAL = Date.UTC(2024, 2, 15, 12, 0, 0); // 2024-03-15T12:00:00Z
const META: StoredMessageMeta = { id: 'msg1', threadId: 'thr1', labelIds: ['INBOX'], internalDate: INTERNAL, historyId: '7' };

function eml(headers: string[], body: string | Buffer = 'Hello.\r\n'): Buffer {
  const head = Buffer.from(headers.join('\r\n') + '\r\n\r\n', 'latin1');
  return Buffer.concat([head, typeof body === 'string' ? Buffer.from(body, 'latin1') : body]);
}

const BASIC = ['From: Ann <ann@fund.com>', 'To: bob@ten31.xyz', 'Subject: hi', 'Date: Fri, 15 Mar 2024 10:00:00 +0000', 'Message-ID: <abc@fund.com>'];

function headersWith(overrides: Record<string, string | null>): string[] {
  const out = BASIC.filter((h) => !(h.split(':')[0]!.toLowerCase() in lowerKeys(overrides)));
  for (const [k, v] of Object.entries(overrides)) if (v !== null) out.push(`${k}: ${v}`);
  return out;
}

function lowerKeys(o: Record<string, unknown>): Record<string, true> {
  return Object.fromEntries(Object.keys(o).map((k) => [k.toLowerCase(), true]));
}

function parseRaw(raw: Buffer, opts?: BuildOptions, meta: StoredMessageMeta = META) {
  const built = buildMessage(raw, meta, opts);
  return { built, parsed: parseGmailMessage(built.full) };
}

/** A Gmail resource whose header values were handed over already decoded. */
function decodedResource(headers: Record<string, string>, text = 'Hello.'): GmailMessage {
  return {
    id: 'msg2',
    threadId: 'thr2',
    labelIds: ['INBOX'],
    internalDate: String(INTERNAL),
    snippet: 'Hello.',
    payload: {
      partId: '',
      mimeType: 'text/plain',
      filename: '',
      headers: Object.entries(headers).map(([name, value]) => ({ name, value })),
      body: { size: text.length, data: Buffer.from(text).toString('base64url') },
    },
  };
}

describe('RFC 2047 headers', () => {
  it('subjects and display names are decoded (B and Q, multi-word, mixed charsets)', () => {
    const { parsed } = parseRaw(
      eml(
        headersWith({
          Subject: '=?UTF-8?B?w5xiZXIgZGllIEbDtnJkZXJ1bmc=?= =?ISO-8859-1?Q?_=E0_Paris?=',
          From: '=?UTF-8?Q?Andr=C3=A9_M=C3=BCller?= <Andre@Fund.com>',
          To: '"=?iso-8859-1?q?Jos=E9?=" <jose@ten31.xyz>',
        }),
      ),
    );
    expect(parsed.subject).toBe('Über die Förderung à Paris');
    expect(parsed.from).toEqual({ address: 'andre@fund.com', name: 'André Müller' });
    expect(parsed.to).toEqual([{ address: 'jose@ten31.xyz', name: 'José' }]);
  });

  it('decoding twice is harmless: headers handed over decoded give the same result and the same dedup key', () => {
    const encoded = {
      From: '=?UTF-8?Q?Andr=C3=A9?= <andre@fund.com>',
      To: 'bob@ten31.xyz',
      Subject: '=?UTF-8?Q?R=C3=A9sum=C3=A9_=E2=82=AC?=',
      Date: 'Fri, 15 Mar 2024 10:00:00 +0000',
    };
    const decoded = { ...encoded, From: 'André <andre@fund.com>', Subject: 'Résumé €' };
    const a = parseGmailMessage(decodedResource(encoded));
    const b = parseGmailMessage(decodedResource(decoded));
    expect(a.subject).toBe('Résumé €');
    expect(b.subject).toBe('Résumé €');
    expect(b.from).toEqual(a.from);
    expect(a.dedupKey).toMatch(/^hash:/);
    expect(b.dedupKey).toBe(a.dedupKey);
    expect(decodeHeaderWords(decodeHeaderWords(encoded.Subject))).toBe('Résumé €');
  });

  it('windows-1252 encoded words give smart quotes and €, not control characters', () => {
    const { parsed } = parseRaw(
      eml(headersWith({ Subject: '=?windows-1252?Q?=93Q3_update=94_=80?=', From: '=?windows-1252?Q?=93Ann=94?= <ann@fund.com>' })),
    );
    expect(parsed.subject).toBe('“Q3 update” €');
    expect(parsed.from?.name).toBe('“Ann”');
  });

  it('text that merely looks odd is left alone', () => {
    expect(decodeHeaderWords('50% off =? not a word ?=')).toBe('50% off =? not a word ?=');
    expect(decodeHeaderWords('plain subject')).toBe('plain subject');
  });
});

describe('address lists', () => {
  it('groups are flattened, empty groups give nothing, odd quoting keeps names', () => {
    const { parsed } = parseRaw(
      eml(
        headersWith({
          To: 'Partners: Ann <ANN@ten31.xyz>, "Doe, John" <John.Doe@Fund.com>;, undisclosed-recipients:;',
          Cc: '"weird \\"quoted\\" name" <w@fund.com>, plain@fund.com (Plain Person), <bare@fund.com>',
          'Reply-To': 'not an address, reply@fund.com',
        }),
      ),
    );
    expect(parsed.to).toEqual([
      { address: 'ann@ten31.xyz', name: 'Ann' },
      { address: 'john.doe@fund.com', name: 'Doe, John' },
    ]);
    expect(parsed.cc.map((a) => a.address)).toEqual(['w@fund.com', 'plain@fund.com', 'bare@fund.com']);
    expect(parsed.cc[0]!.name).toBe('weird "quoted" name');
    expect(parsed.replyTo.map((a) => a.address)).toEqual(['reply@fund.com']);
  });

  it('several From headers: the first address wins; a missing From falls back to Sender, else null', () => {
    const two = parseRaw(eml(['From: first@fund.com', 'From: second@fund.com', 'Subject: x'])).parsed;
    expect(two.from?.address).toBe('first@fund.com');
    const sender = parseRaw(eml(['Sender: assistant@fund.com', 'Subject: x'])).parsed;
    expect(sender.from?.address).toBe('assistant@fund.com');
    const none = parseRaw(eml(['Subject: x'])).parsed;
    expect(none.from).toBeNull();
    expect(none.to).toEqual([]);
  });

  it('a garbage address header yields nothing rather than an error', () => {
    const { parsed } = parseRaw(eml(headersWith({ To: '<<<>>>,,,;;; "unterminated <x' })));
    expect(parsed.to).toEqual([]);
  });

  it('duplicate addresses in one header collapse to one participant', () => {
    const { parsed } = parseRaw(eml(headersWith({ To: 'a@fund.com, A <A@FUND.COM>' })));
    expect(parsed.to).toEqual([{ address: 'a@fund.com', name: null }]);
  });
});

describe('identity', () => {
  it('Message-ID loses its angle brackets and keeps its case; the key is lower-cased', () => {
    const { parsed } = parseRaw(eml(headersWith({ 'Message-ID': ' <CAF=Xy.Z@Mail.Gmail.com> ' })));
    expect(parsed.messageId).toBe('CAF=Xy.Z@Mail.Gmail.com');
    expect(parsed.dedupKey).toBe('mid:caf=xy.z@mail.gmail.com');
  });

  it('In-Reply-To and References become lower-cased ids without brackets', () => {
    const { parsed } = parseRaw(
      eml(headersWith({ 'In-Reply-To': '<Root@Fund.com> (comment)', References: '<Root@Fund.com>\r\n <Mid@Fund.COM>  <root@fund.com>' })),
    );
    expect(parsed.inReplyTo).toEqual(['root@fund.com']);
    expect(parsed.references).toEqual(['root@fund.com', 'mid@fund.com']);
  });

  it('without a Message-ID the key hashes From/To/Cc/Subject/Date, so a different subject gives a different key', () => {
    const a = parseRaw(eml(headersWith({ 'Message-ID': null }))).parsed;
    const b = parseRaw(eml(headersWith({ 'Message-ID': null, Subject: 'hi again' }))).parsed;
    const c = parseRaw(eml(headersWith({ 'Message-ID': null, 'Delivered-To': 'bob@ten31.xyz', Bcc: 'x@ten31.xyz' }))).parsed;
    expect(a.messageId).toBeNull();
    expect(a.dedupKey).toMatch(/^hash:[0-9a-f]{64}$/);
    expect(b.dedupKey).not.toBe(a.dedupKey);
    expect(c.dedupKey).toBe(a.dedupKey);
  });
});

describe('sent_at', () => {
  const sentAt = (date: string | null) => parseRaw(eml(headersWith({ Date: date }))).parsed.sentAt;

  it('a plausible Date header is used, as ISO 8601 UTC with milliseconds', () => {
    expect(sentAt('Fri, 15 Mar 2024 06:30:00 -0400')).toBe('2024-03-15T10:30:00.000Z');
    // up to a day after internalDate is clock skew, still plausible
    expect(sentAt('Sat, 16 Mar 2024 11:00:00 +0000')).toBe('2024-03-16T11:00:00.000Z');
  });

  it('a broken or missing Date falls back to internalDate', () => {
    expect(sentAt('Pn, 29 paX 2007 21:13:00 +0100')).toBe('2024-03-15T12:00:00.000Z');
    expect(sentAt('yesterday')).toBe('2024-03-15T12:00:00.000Z');
    expect(sentAt(null)).toBe('2024-03-15T12:00:00.000Z');
  });

  it('a Date before 1990 falls back to internalDate', () => {
    expect(sentAt('Mon, 1 Jan 1979 00:00:00 +0000')).toBe('2024-03-15T12:00:00.000Z');
    expect(sentAt('Mon, 1 Jan 1990 00:00:00 +0000')).toBe('1990-01-01T00:00:00.000Z');
  });

  it('a Date more than a day after internalDate falls back to internalDate', () => {
    expect(sentAt('Sat, 16 Mar 2024 12:00:01 +0000')).toBe('2024-03-15T12:00:00.000Z');
    expect(sentAt('Thu, 1 Jan 2099 00:00:00 +0000')).toBe('2024-03-15T12:00:00.000Z');
  });

  it('obsolete and odd forms parse without depending on the machine time zone', () => {
    expect(new Date(parseMailDate('Fri, 21 Nov 1997 09(comment):   55  :  06 -0600')!).toISOString()).toBe('1997-11-21T15:55:06.000Z');
    expect(new Date(parseMailDate('21 Nov 97 09:55:06 GMT')!).toISOString()).toBe('1997-11-21T09:55:06.000Z');
    expect(new Date(parseMailDate('Thu, 8 Mar 2005 17:40:36 EDT')!).toISOString()).toBe('2005-03-08T21:40:36.000Z');
    expect(new Date(parseMailDate('Tue Oct 18 22:48:39 2012')!).toISOString()).toBe('2012-10-18T22:48:39.000Z');
    expect(parseMailDate('Sun, 31 Feb 2010 10:00:00 +0000')).toBeNull();
  });
});

describe('charsets', () => {
  const body = (charset: string, bytes: Buffer, cte = '8bit') =>
    parseRaw(eml([...BASIC, 'MIME-Version: 1.0', `Content-Type: text/plain; charset="${charset}"`, `Content-Transfer-Encoding: ${cte}`], bytes)).parsed
      .bodyText;

  it('iso-8859-1 quoted-printable', () => {
    expect(body('ISO-8859-1', Buffer.from('caf=E9 cr=E8me=\r\n br=FBl=E9e', 'latin1'), 'quoted-printable')).toBe('café crème brûlée');
  });

  it('windows-1252 smart quotes and euro sign', () => {
    expect(body('windows-1252', Buffer.from([0x93, 0x68, 0x69, 0x94, 0x20, 0x80]))).toBe('“hi” €');
  });

  it('an unknown charset does not throw: UTF-8 when valid, else windows-1252', () => {
    expect(body('x-fakescii', Buffer.from('naïve ✓', 'utf8'))).toBe('naïve ✓');
    expect(body('x-fakescii', Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe('café');
    expect(decodeCharset(Buffer.from([0xff, 0xfe, 0x41]), 'no-such-charset')).toBe('ÿþA');
  });

  it('base64 UTF-8 html body and the snippet with Gmail entities decoded', () => {
    const html = '<p>It&#39;s <b>5 &lt; 6</b> &amp; done</p>';
    const { built, parsed } = parseRaw(
      eml([...BASIC, 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64'], Buffer.from(html).toString('base64') + '\r\n'),
    );
    expect(parsed.bodyHtml).toBe(html);
    expect(built.full.snippet).toBe('It&#39;s 5 &lt; 6 &amp; done');
    expect(parsed.snippet).toBe("It's 5 < 6 & done");
  });

  it('raw 8-bit headers in the message charset are read in that charset', () => {
    const subject = Buffer.from('\xd6\xd0\xce\xc4', 'latin1'); // "中文" in GBK
    const raw = Buffer.concat([
      Buffer.from('From: a@fund.com\r\nSubject: ', 'latin1'),
      subject,
      Buffer.from('\r\nContent-Type: text/plain; charset=gb2312\r\n\r\nbody\r\n', 'latin1'),
    ]);
    expect(parseRaw(raw).parsed.subject).toBe('中文');
  });
});

const MULTI = (parts: string, boundary = 'b1') =>
  eml([...BASIC, 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${boundary}"`], parts);

describe('bodies', () => {
  it('the first text/plain and text/html outside attachments are the body, through alternative and related nesting', () => {
    const raw = MULTI(
      [
        '--b1',
        'Content-Type: multipart/alternative; boundary="b2"',
        '',
        '--b2',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'plain body',
        '--b2',
        'Content-Type: multipart/related; boundary="b3"',
        '',
        '--b3',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p>html body</p>',
        '--b3--',
        '--b2--',
        '--b1',
        'Content-Type: text/plain; name="notes.txt"',
        'Content-Disposition: attachment; filename="notes.txt"',
        '',
        'attached text',
        '--b1--',
        '',
      ].join('\r\n'),
    );
    const { built, parsed } = parseRaw(raw);
    expect(parsed.bodyText).toBe('plain body');
    expect(parsed.bodyHtml).toBe('<p>html body</p>');
    expect(parsed.attachments.map((a) => [a.partId, a.filename])).toEqual([['1', 'notes.txt']]);
    expect(built.full.payload!.parts![0]!.parts![1]!.parts![0]!.partId).toBe('0.1.0');
  });

  it('a body part delivered as an attachmentId goes to pendingBodyParts and decodes with its charset', () => {
    const text = 'Grüße aus Zürich, '.repeat(20);
    const raw = eml([...BASIC, 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit'], Buffer.from(text, 'latin1'));
    const { built, parsed } = parseRaw(raw, { bodyAsAttachmentOver: 100, attachmentId: (p) => `ATT-${p || 'root'}` });
    expect(parsed.bodyText).toBeNull();
    expect(parsed.attachments).toEqual([]);
    expect(parsed.pendingBodyParts).toEqual([
      { partId: '', attachmentId: 'ATT-root', mimeType: 'text/plain', charset: 'iso-8859-1', transferEncoding: '8bit' },
    ]);
    const bytes = built.attachments.get('')!;
    expect(decodeBodyPart(bytes, parsed.pendingBodyParts[0]!.charset)).toBe(text);
  });
});

describe('attachments', () => {
  const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

  it('an inline image with a filename is an attachment marked inline, with its Content-ID', () => {
    const raw = MULTI(
      [
        '--b1',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<img src="cid:logo@fund">',
        '--b1',
        'Content-Type: image/png; name="logo.png"',
        'Content-Disposition: inline; filename="logo.png"',
        'Content-ID: <logo@fund>',
        'Content-Transfer-Encoding: base64',
        '',
        PNG.toString('base64'),
        '--b1',
        'Content-Type: image/gif',
        'Content-ID: <spacer@fund>',
        'Content-Transfer-Encoding: base64',
        '',
        'R0lGODlhAQABAAAAACw=',
        '--b1--',
      ].join('\r\n'),
    );
    const { built, parsed } = parseRaw(raw);
    expect(parsed.attachments).toEqual([
      { partId: '1', filename: 'logo.png', mimeType: 'image/png', size: PNG.length, attachmentId: expect.any(String), contentId: 'logo@fund', inline: true },
    ]);
    expect(built.attachments.get('1')!.equals(PNG)).toBe(true);
  });

  it('RFC 2231 file names: charset, percent-encoding and continuations', () => {
    const raw = MULTI(
      [
        '--b1',
        'Content-Type: application/pdf',
        "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20rates%202024.pdf",
        '',
        'x',
        '--b1',
        'Content-Type: application/octet-stream',
        'Content-Disposition: attachment;',
        " filename*0*=iso-8859-1''Gr%FC%DFe%20;",
        ' filename*1="und mehr";',
        ' filename*2*=%2Etxt',
        '',
        'y',
        '--b1',
        'Content-Type: application/pdf; name="=?UTF-8?B?5pel5pys6KqeLnBkZg==?="',
        '',
        'z',
        '--b1--',
      ].join('\r\n'),
    );
    expect(parseRaw(raw).parsed.attachments.map((a) => a.filename)).toEqual(['€ rates 2024.pdf', 'Grüße und mehr.txt', '日本語.pdf']);
  });

  it('parseStructuredHeader prefers the RFC 2231 form and tolerates unquoted specials', () => {
    const v = parseStructuredHeader('attachment; filename="plain.pdf"; filename*=utf-8\'\'ext%C3%A9.pdf; size=12');
    expect(v).toEqual({ value: 'attachment', params: { filename: 'exté.pdf', size: '12' } });
    expect(parseStructuredHeader('application/pdf; name=Invoice_(3021).pdf').params.name).toBe('Invoice_(3021).pdf');
  });

  it('parseStructuredHeader ends a quoted value at its closing quote, ignoring stray text after it', () => {
    expect(parseStructuredHeader('attachment; filename="a b.txt" x').params.filename).toBe('a b.txt');
    expect(parseStructuredHeader('attachment; filename="say \\"hi\\".txt" junk; size=3').params).toEqual({ filename: 'say "hi".txt', size: '3' });
    // Never closed: the rest of the parameter is the value, as before.
    expect(parseStructuredHeader('attachment; filename="open.txt').params.filename).toBe('open.txt');
  });

  it('a forwarded message/rfc822 attachment is an attachment, and its text is not the body', () => {
    const raw = MULTI(
      [
        '--b1',
        'Content-Type: text/plain',
        '',
        'see attached',
        '--b1',
        'Content-Type: message/rfc822',
        'Content-Disposition: attachment; filename="fwd.eml"',
        '',
        'From: old@fund.com',
        'Subject: inner',
        '',
        'inner body',
        '--b1--',
      ].join('\r\n'),
    );
    const { built, parsed } = parseRaw(raw);
    expect(parsed.bodyText).toBe('see attached');
    expect(parsed.attachments).toEqual([
      expect.objectContaining({ partId: '1', filename: 'fwd.eml', mimeType: 'message/rfc822', inline: false }),
    ]);
    expect(built.attachments.get('1')!.toString()).toContain('inner body');
  });

  it('real fixture: html with an inline cid image (enmime html-mime-inline)', () => {
    const raw = readFileSync(path.join(FIXTURES, 'enmime__html-mime-inline.eml'));
    const { parsed } = parseRaw(raw);
    expect(parsed.bodyText).toContain('Test of text section');
    expect(parsed.bodyHtml).toContain('<img');
    expect(parsed.attachments).toEqual([
      expect.objectContaining({ filename: 'favicon.png', mimeType: 'image/png', inline: true, contentId: '8B8481A2-25CA-4886-9B5A-8EB9115DD064@skynet' }),
    ]);
  });
});

describe('emulated Gmail formats', () => {
  it('metadata keeps only the asked headers, minimal has no payload, raw is the bytes, ids are as stored', () => {
    const raw = eml(BASIC, 'Body text\r\n');
    const built = buildMessage(raw, META, { metadataHeaders: ['subject', 'FROM'] });
    expect(built.metadata.payload!.headers).toEqual([
      { name: 'From', value: 'Ann <ann@fund.com>' },
      { name: 'Subject', value: 'hi' },
    ]);
    expect(built.minimal).toEqual({
      id: 'msg1',
      threadId: 'thr1',
      labelIds: ['INBOX'],
      snippet: 'Body text',
      sizeEstimate: raw.length,
      historyId: '7',
      internalDate: String(INTERNAL),
    });
    expect(Buffer.from(built.raw.raw!, 'base64url').equals(raw)).toBe(true);
    expect(built.full.payload).toMatchObject({ partId: '', mimeType: 'text/plain', filename: '', body: { size: 11, data: Buffer.from('Body text\r\n').toString('base64url') } });
  });
});

describe('malformed mail', () => {
  it('a header block without its blank line, a missing final boundary and stray header lines still decode', () => {
    const raw = Buffer.from(
      [
        'From: a@fund.com',
        'Received: from x',
        'by y with SMTP; 19 Nov 2014 08:46:08 -0000',
        'Subject: stray line above',
        'Content-Type: multipart/alternative; boundary="zz"',
        'This is a multi-part message in MIME format.',
        '--zz',
        'Content-Type: text/plain',
        '',
        'still here',
        '',
      ].join('\n'),
      'latin1',
    );
    const { built, parsed } = parseRaw(raw);
    expect(parsed.subject).toBe('stray line above');
    expect(parsed.bodyText).toBe('still here\n');
    const received = built.full.payload!.headers!.find((h) => h.name === 'Received');
    expect(received?.value).toBe('from x by y with SMTP; 19 Nov 2014 08:46:08 -0000');
  });

  it('a message with no id is refused with a clear error', () => {
    expect(() => parseGmailMessage({ threadId: 'x' })).toThrow(/no id/);
  });
});
