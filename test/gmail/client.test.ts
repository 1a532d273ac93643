// The per-mailbox client's happy path: what it asks Gmail, how it authenticates, and the
// pacing state it shares between every client of one mailbox.
import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { createOAuthClient } from '../../lib/gmail/tokens.js';
import { createGmailFactory } from '../../lib/gmail/client.js';
import { AUTH_URL, GMAIL_ROOT, GOOGLE_TOKEN_URL, mockMessage, OAUTH_CLIENT_ID, SA_CLIENT_EMAIL, TOKEN_URL } from '../mocks/gmail.js';
import { gmailTest, type GmailTest } from './harness.js';
import { server } from '../mocks/server.js';


let t: GmailTest;
afterEach(async () => {
  await t?.cleanup();
});

describe('requests', () => {
  it('getProfile, listMessages, getMessage, getAttachment and listHistory ask Gmail what the engine needs', async () => {
    t = await gmailTest();
    const account = t.account();
    const pdf = Buffer.from('%PDF-1.7 \x00\xff\xfe binary ~~~ ???');
    t.mock.mailbox(account.email, {
      historyId: '5000',
      oldestHistoryId: '100',
      messages: [
        mockMessage({ id: 'a', internalDate: 3000, attachments: [{ attachmentId: 'att-1', filename: 'deck.pdf', mimeType: 'application/pdf', size: pdf.length }] }),
        mockMessage({ id: 'b', internalDate: 2000 }),
        mockMessage({ id: 'c', internalDate: 1000 }),
        mockMessage({ id: 'draft', internalDate: 500, labelIds: ['DRAFT'] }),
        mockMessage({ id: 'spam', internalDate: 400, labelIds: ['SPAM'] }),
      ],
      history: [
        { id: '4001', messagesAdded: [{ message: { id: 'b', threadId: 'b' } }] },
        { id: '4002', messagesDeleted: [{ message: { id: 'c', threadId: 'c' } }] },
      ],
    });
    t.mock.mailboxes.get(account.email)!.attachments.set('a/att-1', pdf);
    server.use(...t.mock.handlers());
    const gmail = t.factory(account);

    expect(await t.run(gmail.getProfile())).toEqual({ emailAddress: account.email, historyId: '5000', messagesTotal: 5 });

    const page1 = await t.run(gmail.listMessages({ maxResults: 2, q: '-in:chats -in:drafts' }));
    expect(page1).toEqual({ messages: [{ id: 'a', threadId: 'a' }, { id: 'b', threadId: 'b' }], nextPageToken: '2' });
    const page2 = await t.run(gmail.listMessages({ maxResults: 2, q: '-in:chats -in:drafts', pageToken: page1.nextPageToken }));
    expect(page2).toEqual({ messages: [{ id: 'c', threadId: 'c' }] });
    const listUrl = new URL(t.mock.calls('messages.list')[1].url);
    expect(listUrl.pathname).toBe(`/gmail/v1/users/${encodeURIComponent(account.email)}/messages`);
    expect(Object.fromEntries(listUrl.searchParams)).toEqual({ maxResults: '2', includeSpamTrash: 'false', q: '-in:chats -in:drafts', pageToken: '2' });

    const full = await t.run(gmail.getMessage('a'));
    expect(full?.payload?.parts?.[1].body?.attachmentId).toBe('att-1');
    expect(new URL(t.mock.calls('messages.get')[0].url).searchParams.get('format')).toBe('full');
    await t.run(gmail.getMessage('b', 'metadata'));
    expect(new URL(t.mock.calls('messages.get')[1].url).searchParams.get('format')).toBe('metadata');

    const bytes = await t.run(gmail.getAttachment('a', 'att-1'));
    expect(bytes?.equals(pdf)).toBe(true);

    const h = await t.run(gmail.listHistory({ startHistoryId: '4000' }));
    expect(h).toEqual({ history: [{ id: '4001', messagesAdded: [{ message: { id: 'b', threadId: 'b' } }] }, { id: '4002', messagesDeleted: [{ message: { id: 'c', threadId: 'c' } }] }], historyId: '5000' });
    const hq = new URL(t.mock.calls('history.list')[0].url).searchParams;
    expect(hq.getAll('historyTypes')).toEqual(['messageAdded', 'messageDeleted', 'labelAdded', 'labelRemoved']);
    expect(hq.get('maxResults')).toBe('500');
    expect(hq.get('startHistoryId')).toBe('4000');

    // 1 + 5 + 5 + 5 + 5 + 5 + 2 units at legacy prices; one token for the lot.
    expect(gmail.stats).toMatchObject({ quotaUnits: 28, calls: 7, retries: 0, rateLimited: 0 });
    expect(gmail.stats.bytes).toBeGreaterThan(1000);
    expect(t.mock.tokenRequests).toHaveLength(1);
  });

  it('costs follow CRM_GMAIL_QUOTA_COSTS=2026 (messages.get and attachments.get cost 20)', async () => {
    t = await gmailTest({ env: { CRM_GMAIL_QUOTA_COSTS: '2026' } });
    const account = t.account();
    t.mock.mailbox(account.email, { messages: [mockMessage({ id: 'a' })] });
    t.mock.mailboxes.get(account.email)!.attachments.set('a/x', Buffer.from('hi'));
    server.use(...t.mock.handlers());
    const gmail = t.factory(account);
    await t.run(gmail.getMessage('a'));
    await t.run(gmail.getAttachment('a', 'x'));
    await t.run(gmail.getProfile());
    expect(gmail.stats.quotaUnits).toBe(41);
  });

  it('getAttachment reads a small file whole and a large or unsized one as a stream, to the same bytes', async () => {
    const { STREAM_ATTACHMENTS_FROM } = await import('../../lib/gmail/client.js');
    t = await gmailTest();
    const account = t.account();
    t.mock.mailbox(account.email, { messages: [mockMessage({ id: 'a' })] });
    const small = Buffer.from('a small file \x00\xff');
    const large = Buffer.alloc(STREAM_ATTACHMENTS_FROM + 3, 0xab);
    t.mock.mailboxes.get(account.email)!.attachments.set('a/s', small);
    t.mock.mailboxes.get(account.email)!.attachments.set('a/l', large);
    server.use(...t.mock.handlers());
    const gmail = t.factory(account);
    expect((await t.run(gmail.getAttachment('a', 's', { expectedBytes: small.length })))?.equals(small)).toBe(true);
    expect((await t.run(gmail.getAttachment('a', 's')))?.equals(small)).toBe(true);
    expect((await t.run(gmail.getAttachment('a', 'l', { expectedBytes: large.length })))?.equals(large)).toBe(true);
    // Both ways count what came over the wire on the run.
    expect(gmail.stats.bytes).toBeGreaterThan(large.length);
    // A file larger than its listed size is not read past the most the caller accepts.
    await expect(t.run(gmail.getAttachment('a', 'l', { expectedBytes: 10, maxBytes: STREAM_ATTACHMENTS_FROM }))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(t.run(gmail.getAttachment('a', 'l', { maxBytes: 1000 }))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(t.run(gmail.getAttachment('a', 's', { expectedBytes: 3, maxBytes: 5 }))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    // Told at once: an oversized file is an answer, not a failure to retry.
    expect(gmail.stats.retries).toBe(0);
  });

  it('bad arguments are refused before anything is sent', async () => {
    t = await gmailTest();
    server.use(...t.mock.handlers());
    const gmail = t.factory(t.account());
    await expect(gmail.listMessages({ maxResults: 0 })).rejects.toThrow(/maxResults/);
    await expect(gmail.listMessages({ maxResults: 501 })).rejects.toThrow(/maxResults/);
    await expect(gmail.listHistory({ startHistoryId: '12ab' })).rejects.toThrow(/startHistoryId/);
    expect(t.mock.requests).toHaveLength(0);
  });
});

describe('auth', () => {
  it('DWD signs a JWT for the mailbox with gmail.readonly and posts it to CRM_GOOGLE_TOKEN_URL, not Google', async () => {
    t = await gmailTest();
    const account = t.account(3);
    t.mock.mailbox(account.email);
    let google = 0;
    server.use(
      ...t.mock.handlers(),
      http.post(GOOGLE_TOKEN_URL, () => {
        google++;
        return HttpResponse.json({ error: 'not_here' }, { status: 400 });
      }),
    );
    await t.run(t.factory(account).getProfile());
    expect(google).toBe(0);
    expect(t.mock.tokenRequests).toHaveLength(1);
    const req = t.mock.tokenRequests[0];
    expect(req.url).toBe(TOKEN_URL);
    expect(req.grantType).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    expect(req.signatureValid).toBe(true);
    expect(req.claims).toMatchObject({ iss: SA_CLIENT_EMAIL, sub: account.email, scope: 'https://www.googleapis.com/auth/gmail.readonly' });
  });

  it('OAuth refreshes the stored refresh token at CRM_GOOGLE_TOKEN_URL and reads the owner’s mailbox', async () => {
    t = await gmailTest({ authMethod: 'oauth' });
    const account = t.account(4, { refresh_token: 'rt-owner-4' });
    t.mock.mailbox(account.email, { historyId: '77' });
    t.mock.refreshTokens.set('rt-owner-4', account.email);
    server.use(...t.mock.handlers());
    const profile = await t.run(t.factory(account).getProfile());
    expect(profile.historyId).toBe('77');
    expect(t.mock.tokenRequests).toEqual([expect.objectContaining({ url: TOKEN_URL, grantType: 'refresh_token', refreshToken: 'rt-owner-4' })]);
  });

  it('a new refresh token (after consent again) is used without a restart', async () => {
    t = await gmailTest({ authMethod: 'oauth' });
    const account = t.account(4, { refresh_token: 'rt-old' });
    t.mock.mailbox(account.email);
    t.mock.refreshTokens.set('rt-new', account.email);
    server.use(...t.mock.handlers());
    await expect(t.run(t.factory(account).getProfile())).rejects.toMatchObject({ state: 'needs_consent' });
    await t.run(t.factory({ ...account, refresh_token: 'rt-new' }).getProfile());
    expect(t.mock.tokenRequests.map((r) => r.refreshToken)).toEqual(['rt-old', 'rt-new']);
  });

  it('an OAuth mailbox without a refresh token needs consent', async () => {
    t = await gmailTest({ authMethod: 'oauth' });
    server.use(...t.mock.handlers());
    await expect(t.run(t.factory(t.account(5)).getProfile())).rejects.toMatchObject({ name: 'GmailStop', state: 'needs_consent' });
    expect(t.mock.tokenRequests).toHaveLength(0);
  });

  it('a missing service-account key stops DWD mailboxes with a message naming the variable', async () => {
    t = await gmailTest();
    server.use(...t.mock.handlers());
    const factory = createGmailFactory({ config: { ...t.deps.config, gmail: { ...t.deps.config.gmail, saKeyPath: undefined } }, clock: t.clock, log: t.deps.log });
    await expect(factory(t.account()).getProfile()).rejects.toMatchObject({ state: 'auth_error', message: expect.stringMatching(/CRM_GMAIL_SA_KEY_PATH/) });
  });

  it('createOAuthClient points consent and code exchange at the configured endpoints', async () => {
    t = await gmailTest({ authMethod: 'oauth' });
    const client = createOAuthClient(t.deps.config);
    const url = new URL(client.generateAuthUrl({ access_type: 'offline', prompt: 'consent', scope: ['https://www.googleapis.com/auth/gmail.readonly'], state: 's1' }));
    expect(`${url.origin}${url.pathname}`).toBe(AUTH_URL);
    expect(url.searchParams.get('client_id')).toBe(OAUTH_CLIENT_ID);
    let seen: URLSearchParams | undefined;
    server.use(
      http.post(TOKEN_URL, async ({ request }) => {
        seen = new URLSearchParams(await request.text());
        return HttpResponse.json({ access_token: 'ya29.x', refresh_token: 'rt-fresh', expires_in: 3600, token_type: 'Bearer' });
      }),
    );
    const { tokens } = await client.getToken('code-1');
    expect(tokens.refresh_token).toBe('rt-fresh');
    expect(seen?.get('code')).toBe('code-1');
  });

  it('createOAuthClient refuses when the OAuth client is not configured', async () => {
    t = await gmailTest();
    expect(() => createOAuthClient(t.deps.config)).toThrow(/CRM_GMAIL_OAUTH_CLIENT_ID/);
  });
});

describe('per-mailbox sharing', () => {
  it('two clients of one mailbox share one token, one limiter and one pace; another mailbox shares none', async () => {
    t = await gmailTest({ env: { CRM_GMAIL_RATE_UNITS_SEC: '10' } });
    const a = t.account(1);
    const b = t.account(2);
    t.mock.mailbox(a.email, { messages: [mockMessage({ id: 'm' })] });
    t.mock.mailbox(b.email, { messages: [mockMessage({ id: 'm' })] });
    server.use(...t.mock.handlers());
    const a1 = t.factory(a);
    const a2 = t.factory(a);
    const b1 = t.factory(b);
    const start = t.clock.now();
    // 4 × 5 units on mailbox a at 10 units/s: two per second. Mailbox b is not held back by a.
    await t.run(Promise.all([a1.getMessage('m'), a2.getMessage('m'), a1.getMessage('m'), a2.getMessage('m'), b1.getMessage('m'), b1.getMessage('m')]));
    const sends = t.deps.logs.lines; // no retries expected
    expect(sends.filter((l) => l.event === 'gmail.retry')).toHaveLength(0);
    // One window: a second after the first two answers came back.
    expect(t.clock.now() - start).toBe(1000);
    expect(t.mock.tokenRequests.map((r) => r.claims?.sub)).toEqual([a.email, b.email]);
    expect(a1.stats.quotaUnits + a2.stats.quotaUnits).toBe(20);
    expect(a1.stats.quotaUnits).toBe(10);
    expect(b1.stats.quotaUnits).toBe(10);
  });

  it('never more requests in flight per mailbox than the bound, across clients of that mailbox', async () => {
    t = await gmailTest();
    const account = t.account();
    t.mock.mailbox(account.email, { messages: Array.from({ length: 30 }, (_, i) => mockMessage({ id: `m${i}` })) });
    let now = 0;
    let peak = 0;
    server.use(...t.mock.handlers());
    server.use(
      http.get(`${GMAIL_ROOT}gmail/v1/users/:userId/messages/:id`, async () => {
        now++;
        peak = Math.max(peak, now);
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
        now--;
        return undefined;
      }),
    );
    const c1 = t.factory(account);
    const c2 = t.factory(account);
    expect(c1.maxInFlight).toBe(4);
    const ids = Array.from({ length: 30 }, (_, i) => `m${i}`);
    const got = await t.run(Promise.all(ids.map((id, i) => (i % 2 ? c1 : c2).getMessage(id))));
    expect(got.map((m) => m?.id)).toEqual(ids);
    expect(peak).toBe(4);
  });

  it('the bound is configurable up to the contract’s 8 and no further', async () => {
    t = await gmailTest();
    expect(() => createGmailFactory({ config: t.deps.config, clock: t.clock, log: t.deps.log, maxInFlight: 9 })).toThrow(/1 to 8/);
    expect(createGmailFactory({ config: t.deps.config, clock: t.clock, log: t.deps.log, maxInFlight: 8 })(t.account()).maxInFlight).toBe(8);
  });

  it('starts from the learned pace when it is below the budget, never above the budget', async () => {
    t = await gmailTest();
    expect(t.factory(t.account(1, { learned_units_sec: 42 })).paceUnitsSec).toBe(42);
    expect(t.factory(t.account(2, { learned_units_sec: 900 })).paceUnitsSec).toBe(150);
    expect(t.factory(t.account(3, { learned_units_sec: null })).paceUnitsSec).toBe(150);
  });
});
