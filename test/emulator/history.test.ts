import { afterEach, describe, expect, it } from 'vitest';
import { failure, harness, mail, type Harness } from './helpers.js';

const PAT = 'pat@fund.test';

describe('history.list', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('records additions, label changes, trash and hard deletes after startHistoryId, with the current historyId', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    const start = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    const a = h.emu.control.deliver(mail({ subject: 'a' }), { to: [PAT] })[PAT]!;
    const b = h.emu.control.deliver(mail({ subject: 'b' }), { to: [PAT] })[PAT]!;
    h.emu.control.modifyLabels(PAT, a.id, { add: ['STARRED'], remove: ['UNREAD'] });
    h.emu.control.trash(PAT, b.id);
    h.emu.control.deleteMessage(PAT, a.id);

    const res = (await g.users.history.list({ userId: 'me', startHistoryId: start })).data;
    const records = res.history!;
    expect(records).toHaveLength(5);
    expect(records[0]).toMatchObject({ messages: [{ id: a.id, threadId: a.threadId }], messagesAdded: [{ message: { id: a.id, labelIds: ['INBOX', 'UNREAD'] } }] });
    expect(records[2]).toMatchObject({ labelsAdded: [{ labelIds: ['STARRED'] }], labelsRemoved: [{ labelIds: ['UNREAD'] }] });
    expect(records[3]).toMatchObject({ labelsAdded: [{ message: { id: b.id }, labelIds: ['TRASH'] }], labelsRemoved: [{ labelIds: ['INBOX'] }] });
    expect(records[4]).toMatchObject({ messagesDeleted: [{ message: { id: a.id } }] });
    expect(res.historyId).toBe((await g.users.getProfile({ userId: 'me' })).data.historyId);

    const ids = records.map((r) => BigInt(r.id!));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(ids.some((id, i) => i > 0 && id - ids[i - 1]! > 1n)).toBe(true);
  });

  it('historyTypes and labelId filter records; empty history has only historyId', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    const start = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    const a = h.emu.control.deliver(mail(), { to: [PAT] })[PAT]!;
    h.emu.control.deliver(mail(), { to: [PAT], labelIds: { [PAT]: ['SPAM'] } });
    h.emu.control.modifyLabels(PAT, a.id, { add: ['STARRED'] });

    const added = (await g.users.history.list({ userId: 'me', startHistoryId: start, historyTypes: ['messageAdded'] })).data.history!;
    expect(added).toHaveLength(2);
    expect(added.every((r) => r.messagesAdded && !r.labelsAdded)).toBe(true);
    const labelled = (await g.users.history.list({ userId: 'me', startHistoryId: start, historyTypes: ['labelAdded'] })).data.history!;
    expect(labelled).toHaveLength(1);
    const spam = (await g.users.history.list({ userId: 'me', startHistoryId: start, labelId: 'SPAM' })).data.history!;
    expect(spam).toHaveLength(1);

    const now = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    expect((await g.users.history.list({ userId: 'me', startHistoryId: now })).data).toEqual({ historyId: now });
  });

  it('pages with maxResults and nextPageToken', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    const start = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    for (let i = 0; i < 7; i++) h.emu.control.deliver(mail({ subject: `h${i}` }), { to: [PAT] });
    const got: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const res = (await g.users.history.list({ userId: 'me', startHistoryId: start, maxResults: 3, pageToken })).data;
      got.push(...res.history!.map((r) => r.id!));
      pageToken = res.nextPageToken ?? undefined;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(new Set(got).size).toBe(7);
  });

  it('a startHistoryId older than the kept history answers 404 notFound', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    const start = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    h.emu.control.deliver(mail(), { to: [PAT] });
    const mid = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    h.emu.control.deliver(mail(), { to: [PAT] });
    h.emu.control.expireHistory(PAT, { throughHistoryId: mid });
    const err = await failure(g.users.history.list({ userId: 'me', startHistoryId: start }));
    expect(err.response?.status).toBe(404);
    expect(err.response?.data.error).toMatchObject({ code: 404, message: 'Requested entity was not found.', errors: [{ reason: 'notFound', domain: 'global' }] });
    expect((await g.users.history.list({ userId: 'me', startHistoryId: mid })).data.history).toHaveLength(1);
  });

  it('expiring everything up to now leaves only the current historyId usable', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    const start = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    h.emu.control.deliver(mail(), { to: [PAT] });
    h.emu.control.expireHistory(PAT, { before: h.emu.control.now() });
    expect((await failure(g.users.history.list({ userId: 'me', startHistoryId: start }))).response?.status).toBe(404);
    const current = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    expect((await g.users.history.list({ userId: 'me', startHistoryId: current })).data).toEqual({ historyId: current });
    expect(h.emu.control.mailbox(PAT).oldestHistoryId).toBe(current);
  });

  it('history older than the retention window is forgotten as time passes', async () => {
    h = await harness({ historyRetentionMs: 3600_000, accessTokenTtlSec: 7200 }, [PAT]);
    const g = h.dwd(PAT);
    const start = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    h.emu.control.deliver(mail(), { to: [PAT] });
    expect((await g.users.history.list({ userId: 'me', startHistoryId: start })).data.history).toHaveLength(1);
    h.emu.control.advanceTime(3600_000 + 1);
    expect((await failure(g.users.history.list({ userId: 'me', startHistoryId: start }))).response?.status).toBe(404);
  });

  it('historyIds can start above 2^53 and come back as exact decimal strings', async () => {
    h = await harness({ historyIdStart: 'huge' }, [PAT]);
    const g = h.dwd(PAT);
    const start = (await g.users.getProfile({ userId: 'me' })).data.historyId!;
    expect(BigInt(start) > 2n ** 53n).toBe(true);
    const delivered = [1, 2, 3, 4, 5].map(() => h.emu.control.deliver(mail(), { to: [PAT] })[PAT]!.historyId);
    const res = (await g.users.history.list({ userId: 'me', startHistoryId: start })).data;
    expect(res.history!.map((r) => r.id)).toEqual(delivered);
    expect(res.historyId).toBe(delivered[4]);
    expect(delivered.some((id) => BigInt(Number(id)) !== BigInt(id))).toBe(true);
  });

  it('startHistoryId is required and must be a number', async () => {
    h = await harness({}, [PAT]);
    const token = (await h.jwt(PAT).getAccessToken()).token!;
    const get = (q: string) => fetch(`${h.emu.url}/gmail/v1/users/me/history${q}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get('')).status).toBe(400);
    expect((await get('?startHistoryId=abc')).status).toBe(400);
  });
});
