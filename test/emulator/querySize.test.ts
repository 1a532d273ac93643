// The emulator's has:attachment and size operators, read as Gmail reads them: a file is a part
// with a file name; sizes are of the whole message, in bytes or with K or M; size:N is larger:N.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure, harness, mail, mailWithAttachment, type Harness } from './helpers.js';

const PAT = 'pat@fund.test';

describe('has:attachment, larger:, smaller:, size:', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({}, [PAT]);
  });
  afterEach(() => h.close());

  const ids = async (q: string) => ((await h.dwd(PAT).users.messages.list({ userId: 'me', q })).data.messages ?? []).map((m) => m.id).sort();

  it('selects mail with files, by whole-message size, in each unit, and combined', async () => {
    const plain = mail({ subject: 'no file' });
    const small = mailWithAttachment({ filename: 'a.pdf', bytes: Buffer.alloc(2000, 1) });
    const big = mailWithAttachment({ filename: 'b.pdf', bytes: Buffer.alloc(2 * 1024 * 1024, 2) });
    const id = (raw: string) => h.emu.control.deliver(raw, { to: [PAT] })[PAT]!.id;
    const [p, s, b] = [id(plain), id(small), id(big)];
    const sizeOf = async (mid: string) => (await h.dwd(PAT).users.messages.get({ userId: 'me', id: mid, format: 'minimal' })).data.sizeEstimate!;
    const sSize = await sizeOf(s);

    expect(await ids('has:attachment')).toEqual([s, b].sort());
    expect(await ids('-has:attachment')).toEqual([p]);
    // Strictly larger / strictly smaller, in bytes.
    expect(await ids(`larger:${sSize}`)).toEqual([b]);
    expect(await ids(`larger:${sSize - 1}`)).toEqual([s, b].sort());
    expect(await ids(`smaller:${sSize}`)).toEqual([p]);
    expect(await ids(`smaller:${sSize + 1}`)).toEqual([p, s].sort());
    expect(await ids(`size:${sSize - 1}`)).toEqual(await ids(`larger:${sSize - 1}`));
    // K and M are binary units, either case.
    expect(await ids('larger:2M')).toEqual([b]);
    expect(await ids('smaller:2m')).toEqual([p, s].sort());
    expect(await ids('smaller:1K')).toEqual([p]);
    expect(await ids('has:attachment smaller:1024k')).toEqual([s]);
  });

  it('refuses what it does not understand rather than guessing', async () => {
    for (const q of ['has:drive', 'larger:10MB', 'smaller:', 'size:1.5M', 'larger:-3']) {
      const err = await failure(h.dwd(PAT).users.messages.list({ userId: 'me', q }));
      expect(err.response?.status, q).toBe(400);
    }
  });
});
