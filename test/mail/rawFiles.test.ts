// Two independent readings of the same real-world mail judge each other: the product's
// `format=raw` splitter (lib/mail/raw.ts) against the emulator's full-format answer served over
// loopback HTTP (messages.get + attachments.get, read by the emulator's own MIME code), and
// against postal-mime, a third reader that shares code with neither. A bug both of the first two
// made alike would still have to fool the third.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GmailMessage } from '../../lib/gmail/types.js';
import { parseGmailMessage } from '../../lib/mail/mime.js';
import { parseRawMessage } from '../../lib/mail/raw.js';
import { emulatorWorld, type EmulatorWorld } from '../helpers/mail.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures', 'eml');
const BOX = 'pat@fund.test';
let world: EmulatorWorld;

beforeAll(async () => {
  world = await emulatorWorld([BOX]);
});
afterAll(async () => {
  await world?.close();
});

// postal-mime hands an unencoded part's lines back with its own line ends, so the third judge
// compares bytes with line ends folded to LF and the break before the boundary left out.
const print = (b: Uint8Array) =>
  createHash('sha256')
    .update(Buffer.from(b).toString('latin1').replace(/\r\n/g, '\n').replace(/\n+$/, ''), 'latin1')
    .digest('hex');

describe('raw file bytes, judged by independent readers', () => {
  it('every fixture attachment read from raw equals what attachments.get serves, and what postal-mime reads', async () => {
    const gmail = world.deps.gmail({ id: 1, email: BOX, auth_method: 'dwd' });
    const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.eml'));
    let compared = 0;
    let thirdJudged = 0;
    for (const f of fixtures) {
      const bytes = readFileSync(path.join(DIR, f));
      const id = world.emu.control.deliver(bytes, { to: [BOX] })[BOX]!.id;
      const raw = (await world.run(gmail.getMessage(id, 'raw'))) as GmailMessage;
      const full = (await world.run(gmail.getMessage(id, 'full'))) as GmailMessage;
      const fromRaw = parseRawMessage(raw);
      const attachments = parseGmailMessage(full).attachments;
      // Raw keeps aside every part Gmail would (a message/rfc822 without a name included); each
      // one the full format lists as a file must be there.
      expect([...fromRaw.files.keys()], f).toEqual(expect.arrayContaining(attachments.map((a) => a.partId)));
      for (const a of attachments) {
        const served = a.attachmentId ? await world.run(gmail.getAttachment(id, a.attachmentId)) : null;
        const mine = fromRaw.files.get(a.partId);
        expect(served && mine?.equals(served), `${f} part ${a.partId} (${a.filename})`).toBe(true);
        expect(mine!.length, `${f} part ${a.partId} size`).toBe(a.size);
        compared++;
      }
      // postal-mime's idea of an attachment differs from Gmail's (it also lifts inline parts and
      // reads into message/rfc822), so it judges the bytes of every file it and raw both name.
      const other = await PostalMime.parse(bytes, { attachmentEncoding: 'arraybuffer', forceRfc822Attachments: true });
      const byName = new Map<string, string[]>();
      for (const o of other.attachments) {
        if (!o.filename) continue;
        byName.set(o.filename, [...(byName.get(o.filename) ?? []), print(new Uint8Array(o.content as ArrayBuffer))]);
      }
      for (const a of fromRaw.parsed.attachments) {
        const theirs = byName.get(a.filename);
        if (!theirs) continue;
        expect(theirs, `${f}: postal-mime's ${a.filename}`).toContain(print(fromRaw.files.get(a.partId)!));
        thirdJudged++;
      }
    }
    expect(compared).toBeGreaterThan(20);
    expect(thirdJudged).toBeGreaterThan(10);
  });
});
