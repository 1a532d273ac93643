// Every real-world message in the fixture corpus goes through the Gmail emulator's encoder and
// the engine's decoder. postal-mime's own parse of the raw bytes is the independent oracle for
// subjects and addresses.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { normalizeAddress } from '../../lib/mail/address.js';
import { MAX_HEADER_CHARS, parseGmailMessage } from '../../lib/mail/mime.js';
import type { ParsedMessage } from '../../lib/mail/types.js';
import { buildMessage, type StoredMessageMeta } from '../../tools/gmail-emulator/message.js';

const LOCAL = path.resolve('test/fixtures/eml');
const DIR = LOCAL;

const manifest = new Map<string, Set<string>>(
  readFileSync(path.join(DIR, 'MANIFEST.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t'))
    .map((cols) => [cols[0]!, new Set(cols[5]!.split(','))]),
);
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.eml'))
  .sort();

const META: StoredMessageMeta = { id: '18c0a1b2c3d4e5f6', threadId: '18c0a1b2c3d4e5f6', labelIds: ['INBOX'], internalDate: 1_700_000_000_000, historyId: '4242' };
const OTHER_MAILBOX: StoredMessageMeta = { id: '19ffeeddccbbaa00', threadId: '19ffeeddccbbaa01', labelIds: ['SENT'], internalDate: 1_700_000_005_000, historyId: '99' };

function parse(raw: Buffer, meta: StoredMessageMeta = META): ParsedMessage {
  return parseGmailMessage(buildMessage(raw, meta).full);
}

const HEADER = /^[!-9;-~]+[ \t]*:/;

/** Inserts header lines before the first header of the message, in the file's own line ending. */
function withExtraHeaders(raw: Buffer, lines: string[]): Buffer {
  const s = raw.toString('latin1');
  const eol = s.includes('\r\n') ? '\r\n' : '\n';
  let pos = 0;
  while (pos < s.length) {
    const nl = s.indexOf('\n', pos);
    const line = s.slice(pos, nl < 0 ? s.length : nl);
    if (HEADER.test(line)) break;
    pos = nl < 0 ? s.length : nl + 1;
  }
  return Buffer.from(s.slice(0, pos) + lines.map((l) => l + eol).join('') + s.slice(pos), 'latin1');
}

/** Removes every header named `name` (with its continuation lines) from the top-level header block. */
function withoutHeader(raw: Buffer, name: string): Buffer {
  const s = raw.toString('latin1');
  const lines = s.split(/(?<=\n)/);
  const out: string[] = [];
  let inHeaders = true;
  let dropping = false;
  const re = new RegExp(`^${name}[ \\t]*:`, 'i');
  for (const line of lines) {
    if (inHeaders && /^\r?\n$/.test(line) && out.some((l) => HEADER.test(l))) inHeaders = false;
    if (inHeaders) {
      if (re.test(line)) {
        dropping = true;
        continue;
      }
      if (dropping && /^[ \t]/.test(line)) continue;
      dropping = false;
    }
    out.push(line);
  }
  return Buffer.from(out.join(''), 'latin1');
}

const collapse = (s: string | null | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();

/**
 * postal-mime reads raw 8-bit header bytes as UTF-8 and marks what fails with U+FFFD, while the
 * engine decodes them in the message's charset. Where the oracle lost bytes, its ASCII words
 * must still all be there and the engine's text must have lost nothing (unless the file itself
 * holds U+FFFD, when both agree exactly).
 */
function sameText(ours: string, oracle: string): boolean {
  if (ours === oracle) return true;
  if (!oracle.includes('\ufffd') || ours.includes('\ufffd')) return false;
  return (oracle.match(/[A-Za-z0-9]{3,}/g) ?? []).every((word) => ours.includes(word));
}

type OracleAddress = { address?: string; group?: { address: string }[] };

function oracleAddresses(list: OracleAddress[] | OracleAddress | undefined): string[] {
  const flat = (Array.isArray(list) ? list : list ? [list] : []).flatMap((a) => (a.group ? a.group : [a]));
  const out: string[] = [];
  for (const a of flat) {
    // The oracle keeps RFC 5322 comments inside addresses; the engine drops them.
    const stripped = a.address?.replace(/\([^()]*\)/g, '').replace(/\s+/g, '');
    const n = normalizeAddress(a.address) ?? normalizeAddress(stripped);
    if (n && !n.includes('\ufffd') && !out.includes(n)) out.push(n);
  }
  return out;
}

describe('fixture corpus', () => {
  it('has the manifest-listed messages', () => {
    expect(files.length).toBeGreaterThanOrEqual(180);
    for (const f of files) expect(manifest.has(f), f).toBe(true);
  });

  describe.each(files)('%s', (file) => {
    const raw = readFileSync(path.join(DIR, file));
    const features = manifest.get(file) ?? new Set<string>();

    it('decodes without throwing and keeps subject and addresses (postal-mime as oracle)', async () => {
      const built = buildMessage(raw, META);
      const parsed = parseGmailMessage(built.full);
      const oracle = await PostalMime.parse(raw);

      if (oracle.subject === undefined) expect(collapse(parsed.subject)).toBe('');
      // Subjects are kept to their first MAX_HEADER_CHARS characters; the oracle keeps them whole.
      else expect(sameText(collapse(parsed.subject), collapse(oracle.subject.slice(0, MAX_HEADER_CHARS))), `${parsed.subject} vs ${oracle.subject}`).toBe(true);

      const oracleFrom = oracleAddresses(oracle.from as OracleAddress | undefined)[0];
      if (oracleFrom) expect(parsed.from?.address).toBe(oracleFrom);
      for (const [ours, theirs] of [
        [parsed.to, oracle.to],
        [parsed.cc, oracle.cc],
      ] as const) {
        const mine = ours.map((a) => a.address);
        for (const a of oracleAddresses(theirs as OracleAddress[] | undefined)) expect(mine).toContain(a);
      }

      expect(parsed.sentAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      if (features.has('missing_message_id')) expect(parsed.messageId).toBeNull();
      else expect(parsed.messageId).not.toBeNull();
      if (features.has('rfc2047_subject')) expect(parsed.subject).not.toMatch(/=\?[^?]+\?[bq]\?/i);
      if (features.has('rfc2047_filename')) {
        for (const a of parsed.attachments) expect(a.filename).not.toMatch(/=\?[^?]+\?[bq]\?/i);
      }
      if (features.has('attachment') && !features.has('message_partial') && !features.has('forwarded_rfc822')) {
        expect(parsed.attachments.length).toBeGreaterThan(0);
      }
    });

    it('resources are consistent: raw is the exact bytes, every attachmentId has its bytes', () => {
      const built = buildMessage(raw, META);
      expect(Buffer.from(built.raw.raw!, 'base64url').equals(raw)).toBe(true);
      expect(built.minimal.payload).toBeUndefined();
      expect(built.full.internalDate).toBe(String(META.internalDate));
      const walk = (p: NonNullable<typeof built.full.payload>): void => {
        if (p.body?.attachmentId) expect(built.attachments.get(p.partId!)?.length).toBe(p.body.size);
        if (p.body?.data) expect(Buffer.from(p.body.data, 'base64url').length).toBe(p.body.size);
        for (const c of p.parts ?? []) walk(c);
      };
      walk(built.full.payload!);
    });

    it('dedupKey is stable across fetches and mailboxes, and ignores Delivered-To/Received/Bcc', () => {
      const first = parse(raw);
      expect(first.dedupKey).toMatch(first.messageId ? /^mid:/ : /^hash:[0-9a-f]{64}$/);
      if (first.messageId) expect(first.dedupKey).toBe(`mid:${first.messageId.toLowerCase()}`);
      expect(parse(raw, OTHER_MAILBOX).dedupKey).toBe(first.dedupKey);

      const receiverCopy = withExtraHeaders(raw, ['Delivered-To: partner@ten31.xyz', 'Received: by 2002:a05:6a10:1234 with SMTP id x1csp1;']);
      const senderCopy = withExtraHeaders(withoutHeader(raw, 'Bcc'), ['Bcc: hidden@ten31.xyz']);
      expect(parse(receiverCopy, OTHER_MAILBOX).dedupKey).toBe(first.dedupKey);
      expect(parse(senderCopy).dedupKey).toBe(first.dedupKey);
    });

    it('without a Message-ID the header hash is the same for every mailbox copy', () => {
      const bare = withoutHeader(raw, 'Message-ID');
      const a = parse(bare);
      expect(a.messageId).toBeNull();
      expect(a.dedupKey).toMatch(/^hash:[0-9a-f]{64}$/);
      const receiverCopy = withExtraHeaders(bare, ['Delivered-To: partner@ten31.xyz', 'Received: from mx.example by mx.google.com;']);
      const senderCopy = withExtraHeaders(withoutHeader(bare, 'Bcc'), ['Bcc: hidden@ten31.xyz, other@ten31.xyz']);
      expect(parse(receiverCopy, OTHER_MAILBOX).dedupKey).toBe(a.dedupKey);
      expect(parse(senderCopy).dedupKey).toBe(a.dedupKey);
    });
  });
});
