// Real-world mail written by others (test/fixtures/eml, see its MANIFEST.tsv), delivered byte
// for byte into one mailbox so capture meets broken MIME, odd charsets and bounces.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHeaderBlock, type HeaderField } from '../gmail-emulator/headers.js';
import { decodeWords, headerText, mailDate } from '../gmail-emulator/mime.js';
import type { Rng } from '../gmail-emulator/rng.js';

export const DEFAULT_FIXTURES_DIR = fileURLToPath(new URL('../../test/fixtures/eml/', import.meta.url));

interface Fixture {
  file: string;
  raw: Buffer;
  features: string[];
}

interface FixtureHeaders {
  messageId: string | null;
  identity: string;
  inReplyTo: string | null;
  references: string[];
  subject: string;
  from: string | null;
  addresses: string[];
  date: number | null;
}

/** Fixture files to deliver: all, the first n of a seeded shuffle, or the named ones. */
export function selectFixtures(dir: string, which: true | number | string[], rng: Rng): { fixtures: Fixture[]; skipped: string | null } {
  if (!existsSync(dir)) return { fixtures: [], skipped: `fixture directory ${dir} not found` };
  const manifest = new Map<string, string[]>();
  const manifestPath = path.join(dir, 'MANIFEST.tsv');
  if (existsSync(manifestPath)) {
    for (const line of readFileSync(manifestPath, 'utf8').split('\n').slice(1)) {
      const cols = line.split('\t');
      if (cols[0]) manifest.set(cols[0], (cols[5] ?? '').split(',').filter(Boolean));
    }
  }
  let files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
  if (Array.isArray(which)) {
    for (const f of which) if (!files.includes(f)) throw new Error(`fixture ${f} not found in ${dir}`);
    files = [...which];
  } else if (typeof which === 'number') {
    files = rng.shuffle(files).slice(0, which).sort();
  }
  return {
    fixtures: files.map((file) => ({ file, raw: readFileSync(path.join(dir, file)), features: manifest.get(file) ?? [] })),
    skipped: null,
  };
}

function field(fields: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

const ADDR = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g;

function addressesIn(value: string | undefined): string[] {
  if (!value) return [];
  return [...decodeWords(headerText(value, null)).matchAll(ADDR)].map((m) => m[0].toLowerCase());
}

function idsIn(value: string | undefined): string[] {
  if (!value) return [];
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  if (ids.length === 0 && /^[^\s<>]+@[^\s<>]+$/.test(value.trim())) ids.push(value.trim());
  return ids;
}

/** Best-effort reading of a fixture's identity and addresses (the mail may be broken on purpose). */
export function fixtureHeaders(raw: Buffer): FixtureHeaders {
  const { fields } = readHeaderBlock(raw);
  const messageId = idsIn(field(fields, 'Message-ID'))[0] ?? null;
  const hdr = ['From', 'To', 'Cc', 'Subject', 'Date'].map((n) => field(fields, n) ?? '').join('\n');
  return {
    messageId,
    identity: messageId ? `mid:${messageId.toLowerCase()}` : `hdr:${createHash('sha256').update(hdr).digest('hex')}`,
    inReplyTo: idsIn(field(fields, 'In-Reply-To'))[0] ?? null,
    references: idsIn(field(fields, 'References')),
    subject: decodeWords(headerText(field(fields, 'Subject') ?? '', null)),
    from: addressesIn(field(fields, 'From'))[0] ?? null,
    addresses: [...new Set(['From', 'To', 'Cc', 'Reply-To'].flatMap((n) => addressesIn(field(fields, n))))],
    date: mailDate(field(fields, 'Date')),
  };
}
