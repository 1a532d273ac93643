// threads.get and format=raw as Gmail serves them, through the production client: a thread's
// every message (spam and trash included) oldest first for the price of two messages.get, and
// raw carrying the stored bytes, attachments included, for the price of one.
import { afterEach, describe, expect, it } from 'vitest';
import { parseRawMessage } from '../../lib/mail/raw.js';
import { emulatorWorld, rawMessage, type EmulatorWorld } from '../helpers/mail.js';

const BOX = 'pat@fund.test';
let world: EmulatorWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function setup(model: 'legacy' | '2026') {
  world = await emulatorWorld([BOX], { env: { CRM_GMAIL_QUOTA_COSTS: model }, emulator: { quota: { model } } });
  const { emu } = world;
  const at = (d: number) => Date.parse(`2025-02-0${d}T10:00:00Z`);
  const root = emu.control.deliver(rawMessage({ from: 'ann@lp.example', to: [BOX], subject: 'Terms', messageId: 'r1@lp.example', date: '2025-02-01T10:00:00Z', text: 'first' }), { to: [BOX], internalDate: at(1) });
  const threadId = root[BOX]!.threadId;
  const reply = (n: number, labels: string[]) =>
    emu.control.deliver(
      rawMessage({ from: 'ann@lp.example', to: [BOX], subject: 'Re: Terms', messageId: `r${n}@lp.example`, inReplyTo: 'r1@lp.example', date: `2025-02-0${n}T10:00:00Z`, text: `reply ${n}`, files: n === 2 ? [{ filename: 'a.pdf', content: Buffer.from('%PDF a') }, { filename: 'b.txt', content: Buffer.from('bee') }] : [] }),
      { to: [BOX], internalDate: at(n), labelIds: { [BOX]: labels } },
    )[BOX]!;
  const second = reply(2, ['INBOX']);
  reply(3, ['TRASH']);
  reply(4, ['SPAM']);
  const gmail = world.deps.gmail({ id: 1, email: BOX, auth_method: 'dwd' });
  return { emu, gmail, threadId, second };
}

describe('emulator threads.get and raw', () => {
  for (const [model, thread, get] of [
    ['legacy', 10, 5],
    ['2026', 40, 20],
  ] as const) {
    it(`${model}: threads.get answers every message of the thread oldest first, spam and trash included, for ${thread} units`, async () => {
      const { emu, gmail, threadId } = await setup(model);
      emu.control.resetStats();
      const t = await world!.run(gmail.getThread!(threadId));
      expect(t!.messages.map((m) => m.labelIds)).toEqual([['INBOX', 'UNREAD'], ['INBOX'], ['TRASH'], ['SPAM']]);
      expect(t!.messages.every((m) => m.threadId === threadId && m.payload?.headers?.length)).toBe(true);
      // Full format inside a thread: attachments as fresh ids, fetchable.
      const part = t!.messages[1]!.payload!.parts!.find((p) => p.filename === 'a.pdf')!;
      expect(await world!.run(gmail.getAttachment(t!.messages[1]!.id!, part.body!.attachmentId!))).toEqual(Buffer.from('%PDF a'));
      const stats = emu.control.stats().mailboxes[BOX]!;
      expect(stats.units['threads.get']).toBe(thread);
      expect(await world!.run(gmail.getThread!('ffffffffffff'))).toBeNull();
    });

    it(`${model}: format=raw carries the message with its files for the units of one messages.get (${get})`, async () => {
      const { emu, gmail, second } = await setup(model);
      emu.control.resetStats();
      const raw = await world!.run(gmail.getMessage(second.id, 'raw'));
      const full = await world!.run(gmail.getMessage(second.id, 'full'));
      expect(raw!.payload).toBeUndefined();
      expect(raw!.sizeEstimate).toBe(full!.sizeEstimate);
      const { parsed, files } = parseRawMessage(raw!);
      expect(parsed.attachments.map((a) => a.filename)).toEqual(['a.pdf', 'b.txt']);
      expect([...files.values()].map((b) => b.toString())).toEqual(['%PDF a', 'bee']);
      expect(emu.control.stats().mailboxes[BOX]!.units['messages.get']).toBe(2 * get);
    });
  }
});
