import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CHUNK_MAX, chunkText, cleanText, contentHash } from '../../lib/feed/text.js';

describe('clean text for the feed', () => {
  it('drops quoted replies and the signature', () => {
    const body = 'Sounds good.\n\nSee you then.\n\n-- \nBob\n+1 555 0100\n\nOn Tue, Jan 6, 2026 at 9:00 AM Ann <ann@fund.example> wrote:\n> Shall we meet?\n> OLD';
    expect(cleanText(body, null)).toBe('Sounds good.\n\nSee you then.');
  });

  it('cuts forwarded history at its marker', () => {
    expect(cleanText('FYI, below.\n\n---------- Forwarded message ---------\nFrom: X <x@y.example>\nOLD FORWARDED', null)).toBe('FYI, below.');
    expect(cleanText('Mine.\n\n-----Original Message-----\nFrom: X\nOLD', null)).toBe('Mine.');
    expect(cleanText('Look.\n\nBegin forwarded message:\n\nOLD', null)).toBe('Look.');
  });

  it('converts HTML-only mail to text first', () => {
    expect(cleanText(null, '<html><body><p>Hello <b>there</b></p><p>Second <img src="cid:x"> para</p><script>x</script></body></html>')).toBe('Hello there\n\nSecond para');
    expect(cleanText('', '<p>Only html</p>')).toBe('Only html');
  });

  it('hostile HTML (deep nesting, huge input) never throws and stays bounded', () => {
    const deep = '<div>'.repeat(10_000) + 'deep words' + '</div>'.repeat(10_000);
    expect(cleanText(null, deep)).toContain('deep words');
    const t0 = performance.now();
    const wide = '<p>' + '<b>x</b>'.repeat(200_000) + '</p>';
    expect(typeof cleanText(null, wide)).toBe('string');
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(cleanText(null, '<p>See <a href="https://tracker.example/very/long">the deck</a></p>')).toBe('See the deck');
  });

  it('no body gives empty text and no chunks', () => {
    expect(cleanText(null, null)).toBe('');
    expect(chunkText(1, '')).toEqual([]);
  });

  it('huge bodies are cut before parsing, so cost stays bounded', () => {
    const t0 = performance.now();
    const out = cleanText('word '.repeat(2_000_000), null);
    expect(out.length).toBeLessThanOrEqual(100_000);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('chunks split at paragraph boundaries, at most 2,000 characters, with stable ids', () => {
    const paras = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} ` + 'x'.repeat(300));
    const text = paras.join('\n\n');
    const chunks = chunkText(42, text);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(CHUNK_MAX);
      // Whole paragraphs only.
      for (const p of c.text.split('\n\n')) expect(paras).toContain(p);
    }
    expect(chunks.map((c) => c.text).join('\n\n')).toBe(text);
    expect(chunkText(42, text)).toEqual(chunks);
    expect(chunkText(43, text)[0]!.chunk_id).not.toBe(chunks[0]!.chunk_id);
    expect(new Set(chunks.map((c) => c.chunk_id)).size).toBe(chunks.length);
    expect(contentHash(text)).toBe(contentHash(text));
    expect(contentHash(text)).not.toBe(contentHash(text + '.'));
  });

  it('any text: every chunk is within the limit and nothing but whitespace is lost', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', '\n\n', 'xxxxxxxxxx'), maxLength: 3000 }), fc.integer({ min: 5, max: 60 }), (s, max) => {
        const chunks = chunkText(1, s, max);
        for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(max);
        const squash = (x: string) => x.replace(/\s+/g, '');
        expect(squash(chunks.map((c) => c.text).join(''))).toBe(squash(s));
      }),
      { numRuns: 200 },
    );
  });
});
