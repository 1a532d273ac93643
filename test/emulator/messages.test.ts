import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_LABELS } from '../../tools/gmail-emulator/index.js';
import { zonedMidnight } from '../../tools/gmail-emulator/query.js';
import { failure, harness, mail, mailWithAttachment, type Harness } from './helpers.js';

const PAT = 'pat@fund.test';
const LEE = 'lee@fund.test';
const DAY = 86_400_000;

describe('labels, profile and messages.list', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({}, [PAT, LEE]);
  });
  afterEach(() => h.close());

  it('labels.list has every system label, typed system', async () => {
    const labels = (await h.dwd(PAT).users.labels.list({ userId: 'me' })).data.labels!;
    expect(labels.map((l) => l.id)).toEqual([...SYSTEM_LABELS]);
    expect(labels.every((l) => l.type === 'system')).toBe(true);
    expect(labels.map((l) => l.id)).toContain('CATEGORY_PROMOTIONS');
  });

  it('lists newest first by internalDate and pages with nextPageToken until done', async () => {
    const base = Date.UTC(2026, 0, 1);
    const order = [3, 1, 4, 0, 2];
    const ids: Record<number, string> = {};
    for (const i of order) ids[i] = h.emu.control.deliver(mail({ subject: `m${i}` }), { to: [PAT], internalDate: base + i * DAY })[PAT]!.id;
    const g = h.dwd(PAT);
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const res = await g.users.messages.list({ userId: 'me', maxResults: 2, pageToken });
      expect(res.data.resultSizeEstimate).toBe(5);
      seen.push(...res.data.messages!.map((m) => m.id!));
      pageToken = res.data.nextPageToken ?? undefined;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen).toEqual([4, 3, 2, 1, 0].map((i) => ids[i]));
  });

  it('an empty mailbox lists no messages field and resultSizeEstimate 0', async () => {
    const res = await h.dwd(LEE).users.messages.list({ userId: 'me' });
    expect(res.data).toEqual({ resultSizeEstimate: 0 });
  });

  it('maxResults defaults to 100 and is capped at 500', async () => {
    for (let i = 0; i < 501; i++) h.emu.control.deliver(mail({ subject: `n${i}` }), { to: [LEE], exactBytes: true });
    const g = h.dwd(LEE);
    expect((await g.users.messages.list({ userId: 'me' })).data.messages).toHaveLength(100);
    const big = await g.users.messages.list({ userId: 'me', maxResults: 1000 });
    expect(big.data.messages).toHaveLength(500);
    expect(big.data.nextPageToken).toBeTruthy();
  });

  it('Spam and Trash are left out unless includeSpamTrash (or the query names them)', async () => {
    h.emu.control.deliver(mail({ subject: 'inbox' }), { to: [PAT] });
    h.emu.control.deliver(mail({ subject: 'spam' }), { to: [PAT], labelIds: { [PAT]: ['SPAM'] } });
    const trashed = h.emu.control.deliver(mail({ subject: 'trash' }), { to: [PAT] })[PAT]!.id;
    h.emu.control.trash(PAT, trashed);
    const g = h.dwd(PAT);
    expect((await g.users.messages.list({ userId: 'me' })).data.resultSizeEstimate).toBe(1);
    expect((await g.users.messages.list({ userId: 'me', includeSpamTrash: true })).data.resultSizeEstimate).toBe(3);
    expect((await g.users.messages.list({ userId: 'me', q: 'in:trash' })).data.messages?.map((m) => m.id)).toEqual([trashed]);
    expect((await g.users.messages.list({ userId: 'me', q: '-in:spam', includeSpamTrash: true })).data.resultSizeEstimate).toBe(2);
  });

  it('labelIds filters to messages carrying all of them', async () => {
    h.emu.control.deliver(mail(), { to: [PAT], labelIds: { [PAT]: ['INBOX', 'STARRED'] } });
    h.emu.control.deliver(mail(), { to: [PAT], labelIds: { [PAT]: ['INBOX'] } });
    const res = await h.dwd(PAT).users.messages.list({ userId: 'me', labelIds: ['INBOX', 'STARRED'] });
    expect(res.data.resultSizeEstimate).toBe(1);
  });

  it('q after:/before: read dates as midnight Pacific time and epoch values as seconds', async () => {
    const jan10 = zonedMidnight(2026, 1, 10, 'America/Los_Angeles');
    expect(jan10).toBe(Date.UTC(2026, 0, 10, 8));
    const early = h.emu.control.deliver(mail(), { to: [PAT], internalDate: jan10 - 1 })[PAT]!.id;
    const onTheDot = h.emu.control.deliver(mail(), { to: [PAT], internalDate: jan10 })[PAT]!.id;
    const later = h.emu.control.deliver(mail(), { to: [PAT], internalDate: jan10 + 3 * DAY })[PAT]!.id;
    const g = h.dwd(PAT);
    const ids = async (q: string) => ((await g.users.messages.list({ userId: 'me', q })).data.messages ?? []).map((m) => m.id);
    expect(await ids('after:2026/01/10')).toEqual([later, onTheDot]);
    expect(await ids('before:2026/01/10')).toEqual([early]);
    expect(await ids('after:2026/01/10 before:2026/01/12')).toEqual([onTheDot]);
    expect(await ids(`after:${jan10 / 1000}`)).toEqual([later, onTheDot]);
    expect(await ids(`before:${jan10 / 1000}`)).toEqual([early]);
  });

  it('a free-text query is refused with 400 rather than silently ignored', async () => {
    const err = await failure(h.dwd(PAT).users.messages.list({ userId: 'me', q: 'quarterly report' }));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data.error.errors[0].reason).toBe('invalidArgument');
  });

  it('profile counts messages and threads and carries the current historyId', async () => {
    const a = h.emu.control.deliver(mail({ messageId: '<root@x.example>', subject: 'Deal' }), { to: [PAT] })[PAT]!;
    h.emu.control.deliver(mail({ subject: 'Re: Deal', inReplyTo: '<root@x.example>', references: '<root@x.example>' }), { to: [PAT] });
    const p = (await h.dwd(PAT).users.getProfile({ userId: 'me' })).data;
    expect(p).toMatchObject({ messagesTotal: 2, threadsTotal: 1 });
    expect(BigInt(p.historyId!)).toBeGreaterThan(BigInt(a.historyId));
  });

  it('the fields parameter trims the answer', async () => {
    h.emu.control.deliver(mail(), { to: [PAT] });
    const res = await h.dwd(PAT).users.messages.list({ userId: 'me', fields: 'messages(id)' });
    expect(Object.keys(res.data)).toEqual(['messages']);
    expect(Object.keys(res.data.messages![0]!)).toEqual(['id']);
  });
});

describe('messages.get, attachments and threads', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({}, [PAT, LEE]);
  });
  afterEach(() => h.close());

  it('formats minimal, metadata (with metadataHeaders), full and raw', async () => {
    const text = mail({ subject: 'Formats', body: 'Body text here.' });
    const { id } = h.emu.control.deliver(text, { to: [PAT], internalDate: Date.UTC(2026, 0, 2) })[PAT]!;
    const g = h.dwd(PAT);
    const minimal = (await g.users.messages.get({ userId: 'me', id, format: 'minimal' })).data;
    expect(minimal).toMatchObject({ id, threadId: id, labelIds: ['INBOX', 'UNREAD'], internalDate: String(Date.UTC(2026, 0, 2)) });
    expect(minimal.payload).toBeUndefined();
    const meta = (await g.users.messages.get({ userId: 'me', id, format: 'metadata', metadataHeaders: ['Subject', 'From'] })).data;
    expect(meta.payload!.headers!.map((x) => x.name).sort()).toEqual(['From', 'Subject']);
    const full = (await g.users.messages.get({ userId: 'me', id })).data;
    expect(Buffer.from(full.payload!.body!.data!, 'base64url').toString()).toContain('Body text here.');
    expect(full.snippet).toBe('Body text here.');
    const raw = (await g.users.messages.get({ userId: 'me', id, format: 'raw' })).data;
    expect(Buffer.from(raw.raw!, 'base64url').toString()).toBe(`Delivered-To: ${PAT}\r\n${text}`);
  });

  it('an unknown id is 404 notFound; a malformed one 400', async () => {
    const g = h.dwd(PAT);
    const missing = await failure(g.users.messages.get({ userId: 'me', id: '18d0000000000000' }));
    expect(missing.response?.status).toBe(404);
    expect(missing.response?.data.error).toMatchObject({ code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' });
    const bad = await failure(g.users.messages.get({ userId: 'me', id: 'not-an-id!' }));
    expect(bad.response?.status).toBe(400);
  });

  it('one email in two mailboxes: own ids, own threads; only the sender\'s copy keeps Bcc', async () => {
    const text = mail({ from: `Pat <${PAT}>`, to: 'ann@investor.example', bcc: LEE, subject: 'Terms' });
    const copies = h.emu.control.deliver(text, { to: [PAT, LEE] });
    expect(copies[PAT]!.id).not.toBe(copies[LEE]!.id);
    expect(copies[PAT]!.threadId).not.toBe(copies[LEE]!.threadId);
    const sent = (await h.dwd(PAT).users.messages.get({ userId: 'me', id: copies[PAT]!.id, format: 'raw' })).data;
    expect(sent.labelIds).toEqual(['SENT']);
    expect(Buffer.from(sent.raw!, 'base64url').toString()).toContain(`Bcc: ${LEE}`);
    const received = (await h.dwd(LEE).users.messages.get({ userId: 'me', id: copies[LEE]!.id, format: 'raw' })).data;
    const bytes = Buffer.from(received.raw!, 'base64url').toString();
    expect(bytes).not.toMatch(/^Bcc:/im);
    expect(bytes.startsWith(`Delivered-To: ${LEE}\r\n`)).toBe(true);
  });

  it('attachment ids are minted fresh on every get and expire; an old id answers 400 "Invalid attachment token"', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(3000, 7), Buffer.from('\n%%EOF\n')]);
    const { id } = h.emu.control.deliver(mailWithAttachment({ filename: 'deck.pdf', bytes: pdf }), { to: [PAT] })[PAT]!;
    const g = h.dwd(PAT);
    const partOf = async () => (await g.users.messages.get({ userId: 'me', id })).data.payload!.parts!.find((p) => p.filename === 'deck.pdf')!;
    const first = await partOf();
    expect(first.body!.size).toBe(pdf.length);
    const second = await partOf();
    expect(second.body!.attachmentId).not.toBe(first.body!.attachmentId);
    const att = (await g.users.messages.attachments.get({ userId: 'me', messageId: id, id: first.body!.attachmentId! })).data;
    expect(Buffer.from(att.data!, 'base64url').equals(pdf)).toBe(true);
    expect(att.size).toBe(pdf.length);

    h.emu.control.advanceTime(10 * 60_000);
    const err = await failure(g.users.messages.attachments.get({ userId: 'me', messageId: id, id: second.body!.attachmentId! }));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data.error.message).toBe('Invalid attachment token');
    const fresh = await partOf();
    const again = (await g.users.messages.attachments.get({ userId: 'me', messageId: id, id: fresh.body!.attachmentId! })).data;
    expect(again.size).toBe(pdf.length);
  });

  it('an expired attachment id can be made to answer 404 instead', async () => {
    await h.close();
    h = await harness({ expiredAttachmentStatus: 404, attachmentIdTtlMs: 1000 }, [PAT]);
    const { id } = h.emu.control.deliver(mailWithAttachment({ filename: 'a.bin', bytes: Buffer.alloc(10, 1) }), { to: [PAT] })[PAT]!;
    const g = h.dwd(PAT);
    const part = (await g.users.messages.get({ userId: 'me', id })).data.payload!.parts![1]!;
    h.emu.control.advanceTime(1000);
    const err = await failure(g.users.messages.attachments.get({ userId: 'me', messageId: id, id: part.body!.attachmentId! }));
    expect(err.response?.status).toBe(404);
  });

  it('threads join by References within a mailbox, even when the reply arrives first; a new subject starts a new thread', async () => {
    const root = mail({ messageId: '<root@inv.example>', subject: 'Fund III' });
    const reply = mail({ messageId: '<r1@fund.test>', subject: 'RE: Fund III', inReplyTo: '<root@inv.example>', references: '<root@inv.example>' });
    const offTopic = mail({ subject: 'Lunch?', inReplyTo: '<root@inv.example>', references: '<root@inv.example>' });
    const r = h.emu.control.deliver(reply, { to: [PAT, LEE], internalDate: Date.UTC(2026, 0, 2) });
    const o = h.emu.control.deliver(root, { to: [PAT], internalDate: Date.UTC(2026, 0, 1) });
    const x = h.emu.control.deliver(offTopic, { to: [PAT] });
    expect(o[PAT]!.threadId).toBe(r[PAT]!.threadId);
    expect(x[PAT]!.threadId).not.toBe(r[PAT]!.threadId);
    const thread = (await h.dwd(PAT).users.threads.get({ userId: 'me', id: r[PAT]!.threadId, format: 'minimal' })).data;
    expect(thread.messages!.map((m) => m.id)).toEqual([o[PAT]!.id, r[PAT]!.id]);
    expect(thread.historyId).toBeTruthy();
    const leeThread = (await h.dwd(LEE).users.threads.get({ userId: 'me', id: r[LEE]!.threadId })).data;
    expect(leeThread.messages).toHaveLength(1);
    const err = await failure(h.dwd(LEE).users.threads.get({ userId: 'me', id: r[PAT]!.threadId }));
    expect(err.response?.status).toBe(404);
  });

  it('threads.list pages through threads newest first', async () => {
    for (let i = 0; i < 3; i++) h.emu.control.deliver(mail({ subject: `t${i}` }), { to: [PAT], internalDate: Date.UTC(2026, 0, 1 + i) });
    const g = h.dwd(PAT);
    const p1 = (await g.users.threads.list({ userId: 'me', maxResults: 2 })).data;
    expect(p1.threads).toHaveLength(2);
    const p2 = (await g.users.threads.list({ userId: 'me', maxResults: 2, pageToken: p1.nextPageToken! })).data;
    expect(p2.threads).toHaveLength(1);
    expect(p2.nextPageToken).toBeUndefined();
  });

  it('write methods are refused with 403 insufficientPermissions for a read-only token', async () => {
    const { id } = h.emu.control.deliver(mail(), { to: [PAT] })[PAT]!;
    const err = await failure(h.dwd(PAT).users.messages.trash({ userId: 'me', id }));
    expect(err.response?.status).toBe(403);
    expect(err.response?.data.error.errors[0].reason).toBe('insufficientPermissions');
  });
});
