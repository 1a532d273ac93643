// Every way Gmail and Google's token endpoint refuse (401, 403 reasons, 404, 429, 5xx, invalid_grant,
// unauthorized_client …), at the level of one mailbox's client: retried or not, and what it means.
import { inspect } from 'node:util';
import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../lib/core/errors.js';
import { GmailStop } from '../../lib/gmail/types.js';
import { GOOGLE_TOKEN_URL, mockMessage, SA_CLIENT_ID, TOKEN_URL } from '../mocks/gmail.js';
import { gmailTest, type GmailTest } from './harness.js';
import { server } from '../mocks/server.js';


let t: GmailTest;
afterEach(async () => {
  await t?.cleanup();
});

async function setup(opts: Parameters<typeof gmailTest>[0] = {}) {
  t = await gmailTest(opts);
  const account = t.account(1, opts.authMethod === 'oauth' ? { refresh_token: 'rt-partner1' } : {});
  t.mock.mailbox(account.email, { messages: [mockMessage({ id: 'm1' })] });
  t.mock.refreshTokens.set('rt-partner1', account.email);
  server.use(...t.mock.handlers());
  return { account, gmail: t.factory(account) };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await t.run(p);
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

const retryDelays = () => t.deps.logs.lines.filter((l) => l.event === 'gmail.retry').map((l) => l.delay_ms as number);

describe('rate limits are retried with backoff and lower the pace', () => {
  it.each([
    [429, 'rateLimitExceeded'],
    [403, 'userRateLimitExceeded'],
    [403, 'rateLimitExceeded'],
  ])('%i %s → backed off ≥ 1 s, retried, pace lowered', async (status, reason) => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', status, reason, { times: 2 }));
    const start = t.clock.now();
    const msg = await t.run(gmail.getMessage('m1'));
    expect(msg?.id).toBe('m1');
    expect(t.mock.calls('messages.get')).toHaveLength(3);
    expect(retryDelays()).toEqual([1000, 2000]);
    expect(t.clock.now() - start).toBe(3000);
    expect(gmail.stats).toMatchObject({ calls: 3, retries: 2, rateLimited: 2, quotaUnits: 15 });
    expect(gmail.paceUnitsSec).toBeLessThan(t.deps.config.gmail.rateUnitsSec);
    expect(t.deps.logs.lines.some((l) => l.event === 'gmail.pace_lowered' && l.account === gmail.email)).toBe(true);
  });
});

describe('transient server errors are retried', () => {
  it.each([500, 502, 503, 504])('%i backendError → retried until it succeeds', async (status) => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', status, 'backendError', { times: 1 }));
    const msg = await t.run(gmail.getMessage('m1'));
    expect(msg?.id).toBe('m1');
    expect(t.mock.calls('messages.get')).toHaveLength(2);
    expect(gmail.stats).toMatchObject({ calls: 2, retries: 1, rateLimited: 0 });
    expect(gmail.paceUnitsSec).toBe(t.deps.config.gmail.rateUnitsSec);
  });

  it('a dropped connection is retried', async () => {
    const { gmail } = await setup();
    server.use(t.mock.drops('messages.get', 2));
    const msg = await t.run(gmail.getMessage('m1'));
    expect(msg?.id).toBe('m1');
    expect(t.mock.calls('messages.get')).toHaveLength(3);
    expect(gmail.stats.retries).toBe(2);
    expect(retryDelays()).toEqual([1000, 2000]);
  });

  it('a 503 from the token endpoint is retried by our policy only (gaxios retry is off)', async () => {
    const { gmail } = await setup();
    let tokenHits = 0;
    server.use(
      http.post(TOKEN_URL, () => {
        tokenHits++;
        return tokenHits === 1 ? HttpResponse.json({ error: 'backend_error' }, { status: 503 }) : undefined;
      }),
    );
    await t.run(gmail.getProfile());
    expect(tokenHits).toBe(2);
    expect(retryDelays()).toEqual([1000]);
  });
});

describe('backoff schedule', () => {
  it('doubles from 1 s, every wait goes through the clock, and gives up after 8 attempts with a retryable UPSTREAM error', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', 503, 'backendError'));
    const start = t.clock.now();
    const err = await failure(gmail.getMessage('m1'));
    expect(err).toBeInstanceOf(AppError);
    expect(err).not.toBeInstanceOf(GmailStop);
    expect((err as AppError).code).toBe('UPSTREAM');
    expect((err as AppError).retryable).toBe(true);
    expect((err as AppError).message).toMatch(/messages\.get.*8 attempts.*503 backendError/);
    // Exactly our attempts: gaxios adds none of its own.
    expect(t.mock.calls('messages.get')).toHaveLength(8);
    const delays = retryDelays();
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 64000]);
    expect(t.clock.now() - start).toBe(delays.reduce((a, b) => a + b, 0));
  });

  it('caps at 64 s however many attempts are allowed, jitter included', async () => {
    t = await gmailTest({ factory: { retry: { maxAttempts: 10 }, random: () => 0.5 } });
    const account = t.account();
    t.mock.mailbox(account.email);
    server.use(...t.mock.handlers());
    server.use(t.mock.fails('messages.get', 500, 'backendError'));
    const gmail = t.factory(account);
    await failure(gmail.getMessage('m1'));
    expect(retryDelays()).toEqual([1500, 2500, 4500, 8500, 16500, 32500, 64000, 64000, 64000]);
    expect(t.mock.calls('messages.get')).toHaveLength(10);
  });

  it('honours Retry-After in seconds when it asks for longer than the backoff', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', 429, 'rateLimitExceeded', { times: 1, headers: { 'Retry-After': '30' } }));
    const start = t.clock.now();
    await t.run(gmail.getMessage('m1'));
    expect(retryDelays()).toEqual([30000]);
    expect(t.clock.now() - start).toBe(30000);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { gmail } = await setup();
    const at = new Date(t.clock.now() + 45_000).toUTCString();
    server.use(t.mock.fails('messages.get', 503, 'backendError', { times: 1, headers: { 'Retry-After': at } }));
    await t.run(gmail.getMessage('m1'));
    expect(retryDelays()).toEqual([45000]);
  });

  it('keeps its own backoff when Retry-After asks for less', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', 429, 'rateLimitExceeded', { times: 2, headers: { 'Retry-After': '1' } }));
    await t.run(gmail.getMessage('m1'));
    expect(retryDelays()).toEqual([1000, 2000]);
  });
});

describe('Gmail 401: refresh once', () => {
  it('a 401 refreshes the access token once and retries the call once', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', 401, 'authError', { times: 1 }));
    const msg = await t.run(gmail.getMessage('m1'));
    expect(msg?.id).toBe('m1');
    const calls = t.mock.calls('messages.get');
    expect(calls).toHaveLength(2);
    expect(t.mock.tokenRequests).toHaveLength(2);
    expect(calls[1].token).not.toBe(calls[0].token);
    expect(retryDelays()).toEqual([]);
  });

  it('requests in flight that meet the same expired token cause one refresh, not one each', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', 401, 'authError', { times: 4 }));
    const got = await t.run(Promise.all([1, 2, 3, 4].map(() => gmail.getMessage('m1'))));
    expect(got.map((m) => m?.id)).toEqual(['m1', 'm1', 'm1', 'm1']);
    expect(t.mock.calls('messages.get')).toHaveLength(8);
    expect(t.mock.tokenRequests).toHaveLength(2);
  });

  it('a second 401 stops the mailbox with auth_error', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', 401, 'authError'));
    const err = await failure(gmail.getMessage('m1'));
    expect(err).toBeInstanceOf(GmailStop);
    expect((err as GmailStop).state).toBe('auth_error');
    expect(t.mock.calls('messages.get')).toHaveLength(2);
    expect(t.mock.tokenRequests).toHaveLength(2);
  });
});

describe('token endpoint refusals stop the mailbox at once', () => {
  it('401 unauthorized_client (DWD not authorised) → auth_error telling the admin which client id and scope to add', async () => {
    const { gmail } = await setup();
    server.use(t.mock.tokenFails(401, 'unauthorized_client', 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.'));
    const err = (await failure(gmail.getProfile())) as GmailStop;
    expect(err).toBeInstanceOf(GmailStop);
    expect(err.state).toBe('auth_error');
    expect(err.code).toBe('GMAIL_AUTH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`Domain-wide delegation is not authorised for client ${SA_CLIENT_ID} with scope gmail.readonly`);
    expect(err.message).toContain('Security → API controls → Domain-wide delegation');
    expect(err.message).toContain('https://www.googleapis.com/auth/gmail.readonly');
    expect(t.mock.requests).toHaveLength(0);
    expect(retryDelays()).toEqual([]);
  });

  it('400 invalid_grant for DWD, unknown or suspended mailbox → auth_error with the reason', async () => {
    t = await gmailTest();
    server.use(...t.mock.handlers());
    const gmail = t.factory(t.account(7));
    const err = (await failure(gmail.getProfile())) as GmailStop;
    expect(err.state).toBe('auth_error');
    expect(err.message).toMatch(/Invalid email or User ID/);
    expect(err.message).toMatch(/does not exist or is suspended/);
    expect(t.mock.tokenRequests).toHaveLength(1);
  });

  it("400 invalid_grant for DWD, the box's clock is off → auth_error naming the clock", async () => {
    const { gmail } = await setup();
    server.use(t.mock.tokenFails(400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.'));
    const err = (await failure(gmail.getProfile())) as GmailStop;
    expect(err.state).toBe('auth_error');
    expect(err.message).toMatch(/Invalid JWT/);
    expect(err.message).toMatch(/clock/);
  });

  it('400 invalid_grant for OAuth (refresh token revoked) → needs_consent', async () => {
    const { gmail } = await setup({ authMethod: 'oauth' });
    t.mock.refreshTokens.clear();
    const err = (await failure(gmail.getProfile())) as GmailStop;
    expect(err).toBeInstanceOf(GmailStop);
    expect(err.state).toBe('needs_consent');
    expect(err.message).toMatch(/must consent again/);
    expect(t.mock.tokenRequests).toHaveLength(1);
    expect(t.mock.tokenRequests[0].grantType).toBe('refresh_token');
  });
});

describe('Gmail refusals that retrying cannot fix', () => {
  it('400 failedPrecondition (no Gmail service) → auth_error', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('getProfile', 400, 'failedPrecondition', { message: 'Mail service not enabled' }));
    const err = (await failure(gmail.getProfile())) as GmailStop;
    expect(err.state).toBe('auth_error');
    expect(err.message).toMatch(/no Gmail service/);
    expect(t.mock.calls('getProfile')).toHaveLength(1);
  });

  it.each([
    ['domainPolicy', /policy blocks this app/],
    ['insufficientPermissions', /Domain-wide delegation/],
  ])('403 %s → auth_error, not retried', async (reason, message) => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.list', 403, reason));
    const err = (await failure(gmail.listMessages({ maxResults: 10 }))) as GmailStop;
    expect(err).toBeInstanceOf(GmailStop);
    expect(err.state).toBe('auth_error');
    expect(err.message).toMatch(message);
    expect(t.mock.calls('messages.list')).toHaveLength(1);
  });

  it('403 dailyLimitExceeded → the mailbox stops (state error) until a later run', async () => {
    const { gmail } = await setup();
    server.use(t.mock.fails('messages.get', 403, 'dailyLimitExceeded'));
    const err = (await failure(gmail.getMessage('m1'))) as GmailStop;
    expect(err).toBeInstanceOf(GmailStop);
    expect(err.state).toBe('error');
    expect(err.code).toBe('UPSTREAM');
    expect(err.message).toMatch(/daily limit/);
    expect(t.mock.calls('messages.get')).toHaveLength(1);
  });

  it('one mailbox refused does not stop another on the same factory', async () => {
    const { gmail } = await setup();
    const stranger = t.factory(t.account(9));
    const [a, b] = await t.run(Promise.allSettled([stranger.getProfile(), gmail.getProfile()]));
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('fulfilled');
  });
});

describe('404 means gone, not failure', () => {
  it('404 on messages.get → null (deleted since listed)', async () => {
    const { gmail } = await setup();
    expect(await t.run(gmail.getMessage('no-such'))).toBeNull();
    expect(t.mock.calls('messages.get')).toHaveLength(1);
  });

  it('404 on attachments.get → null (attachment id expired)', async () => {
    const { gmail } = await setup();
    expect(await t.run(gmail.getAttachment('m1', 'expired'))).toBeNull();
  });

  it('404 on history.list → null (startHistoryId too old: do a full backfill)', async () => {
    const { account, gmail } = await setup();
    t.mock.mailboxes.get(account.email)!.oldestHistoryId = '900';
    expect(await t.run(gmail.listHistory({ startHistoryId: '10' }))).toBeNull();
    expect(t.mock.calls('history.list')).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('no access token, key or refresh token reaches the logs or a thrown error', async () => {
    const { gmail } = await setup({ authMethod: 'oauth' });
    server.use(t.mock.fails('messages.get', 429, 'rateLimitExceeded', { times: 1 }), t.mock.fails('getProfile', 403, 'domainPolicy'));
    await t.run(gmail.getMessage('m1'));
    const err = await failure(gmail.getProfile());
    const texts = [t.deps.logs.text(), inspect(err, { depth: 20 }), JSON.stringify(err)];
    for (const text of texts) {
      for (const token of t.mock.issuedAccessTokens) expect(text).not.toContain(token);
      expect(text).not.toContain('rt-partner1');
      expect(text).not.toContain('PRIVATE KEY');
    }
    expect(t.mock.issuedAccessTokens.length).toBeGreaterThan(0);
  });

  it('the token request goes to CRM_GOOGLE_TOKEN_URL, never to Google', async () => {
    const { gmail } = await setup();
    let google = 0;
    server.use(http.post(GOOGLE_TOKEN_URL, () => { google++; return HttpResponse.json({ error: 'wrong_url' }, { status: 400 }); }));
    await t.run(gmail.getProfile());
    expect(google).toBe(0);
    expect(t.mock.tokenRequests).toHaveLength(1);
    expect(t.mock.tokenRequests[0].url).toBe(TOKEN_URL);
  });
});
