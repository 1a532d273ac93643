// The emulator's own header and charset reading (libmime-based), checked against what Gmail
// shows for the same bytes, independently of the product's lib/mail.
import { describe, expect, it } from 'vitest';
import { decodeWords, headerText, htmlText, mailDate, parseHeaderValue, partFilename, textOf } from '../../tools/gmail-emulator/mime.js';

describe('emulator MIME reading', () => {
  it('reads a content type: lower-case token, parameters by lower-case name, quotes removed', () => {
    expect(parseHeaderValue('Text/HTML; CHARSET="ISO-8859-1"; format=flowed')).toEqual({
      value: 'text/html',
      params: { charset: 'ISO-8859-1', format: 'flowed' },
    });
    expect(parseHeaderValue(undefined)).toEqual({ value: '', params: {} });
  });

  it('joins RFC 2231 segments in their charset and decodes encoded words in plain parameters', () => {
    const disp = parseHeaderValue("attachment; filename*0*=utf-8''Gr%C3%BC%C3%9Fe; filename*1=%20und.pdf");
    expect(disp.params.filename).toBe('Grüße und.pdf');
    const ct = parseHeaderValue('application/pdf; name="=?UTF-8?B?4oKsIFJlcG9ydC5wZGY=?="');
    expect(partFilename(ct, parseHeaderValue('inline'))).toBe('€ Report.pdf');
  });

  it('prefers the disposition filename to the type name, and folds stray line breaks', () => {
    expect(partFilename(parseHeaderValue('image/png; name=a.png'), parseHeaderValue('inline; filename="b\t.png"'))).toBe('b .png');
  });

  it('decodes encoded words only where there are some', () => {
    expect(decodeWords('=?ISO-8859-1?Q?Caf=E9?= au lait')).toBe('Café au lait');
    expect(decodeWords('100% =?x plain')).toBe('100% =?x plain');
  });

  it('reads text in its charset; Latin-1 and ASCII labels as windows-1252; unknown labels as UTF-8 or windows-1252', () => {
    expect(textOf(Buffer.from([0x93, 0x68, 0x69, 0x94, 0x20, 0x80]), 'iso-8859-1')).toBe('\u201chi\u201d \u20ac');
    expect(textOf(Buffer.from('Grüße', 'utf8'), 'us-ascii')).toBe('Grüße');
    expect(textOf(Buffer.from([0xc8, 0xe5, 0xed]), 'windows-1251')).toBe('Иен');
    expect(textOf(Buffer.from([0x1b, 0x24, 0x42, 0x46, 0x7c, 0x4b, 0x5c, 0x1b, 0x28, 0x42]), 'ISO-2022-JP')).toBe('日本');
    expect(textOf(Buffer.from([0xe9, 0x74, 0xe9]), 'x-no-such-charset')).toBe('été');
  });

  it('reads raw 8-bit header bytes as UTF-8 when valid, else in the declared charset, else windows-1252', () => {
    const utf8 = Buffer.from('Grüße', 'utf8').toString('latin1');
    expect(headerText(utf8, 'windows-1251')).toBe('Grüße');
    expect(headerText(Buffer.from([0xc8, 0xe5, 0xed]).toString('latin1'), 'windows-1251')).toBe('Иен');
    expect(headerText(Buffer.from([0xe9, 0x93]).toString('latin1'), null)).toBe('é\u201c');
    expect(headerText('plain', 'utf-8')).toBe('plain');
  });

  it('turns HTML into its visible text with entities decoded, for the snippet', () => {
    expect(htmlText('<style>p{}</style><p>Fish &amp; chips&nbsp;&euro;5<!-- x --></p>').replace(/[ \n]+/g, ' ').trim()).toBe('Fish & chips\u00a0€5');
  });

  it('reads RFC 5322 dates: zones by offset or name, two-digit years, comments; impossible dates are null', () => {
    expect(mailDate('Fri, 15 Mar 2024 06:30:00 -0400')).toBe(Date.UTC(2024, 2, 15, 10, 30));
    expect(mailDate('15 Mar 24 06:30 EST (Eastern)')).toBe(Date.UTC(2024, 2, 15, 11, 30));
    expect(mailDate('Thu, 1 Jan 98 00:00:00 GMT')).toBe(Date.UTC(1998, 0, 1));
    expect(mailDate('Sat, 31 Feb 2024 10:00:00 +0000')).toBeNull();
    expect(mailDate('yesterday')).toBeNull();
    expect(mailDate(undefined)).toBeNull();
  });
});
