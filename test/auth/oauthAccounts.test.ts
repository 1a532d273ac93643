import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { FakeClock } from '../helpers/clock.js';
import { one, run } from '../../lib/db/client.js';
import { GmailStop } from '../../lib/gmail/types.js';
import { consentPage, markNeedsConsent, oauthClient, refreshTokenFor } from '../../lib/auth/consent.js';
import { sameMailbox } from '../../lib/mail/address.js';
import { encryptSecret } from '../../lib/auth/secrets.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';
import { FakeGoogle, oauthEnv, visitConsent } from '../mocks/google-oauth.js';
import { server } from '../mocks/server.js';

let google: FakeGoogle;

let deps: TestDeps;
let app: ReturnType<typeof createApp>;
let clock: FakeClock;

beforeEach(async () => {
  google = new FakeGoogle();
  server.use(...google.handlers());
  clock = new FakeClock();
  deps = await makeDeps({ env: oauthEnv, clock });
  app = createApp(deps);
});
afterEach(async () => {
  await deps.cleanup();
});

async function connect(email: string, auth: Record<string, string>): Promise<number> {
  const s = await app.request(`/api/email/oauth/start?email=${encodeURIComponent(email)}`, { headers: auth });
  const res = await app.request(await visitConsent(s.headers.get('location')!));
  expect(res.status).toBe(200);
  return res.status;
}

type AccountRow = {
  id: number;
  state: string;
  last_error: string | null;
  history_id: string | null;
  backfill_history_id: string | null;
  backfill_page_token: string | null;
  auth_method: string;
};
const account = async (email: string) => (await one<AccountRow>(deps.db, 'SELECT * FROM email_accounts WHERE email = ?', [email]))!;

describe('revocation and re-consent', () => {
  it('invalid_grant → needs_consent keeps the sync position; a new consent restores idle with the new token and the same historyId', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    await connect('partner@advisor.example', admin.auth);
    const before = await account('partner@advisor.example');
    const oldToken = google.issuedRefreshTokens.at(-1)!;
    await run(
      deps.db,
      "UPDATE email_accounts SET history_id = '18446744073709551999', backfill_history_id = '77', backfill_page_token = 'page-3', last_sync_at = '2026-01-15T11:00:00.000Z' WHERE id = ?",
      [before.id],
    );

    // The owner revokes access; the token endpoint now refuses the stored refresh token.
    google.revoked.add(oldToken);
    const client = oauthClient(deps.config);
    client.setCredentials({ refresh_token: (await refreshTokenFor(deps.db, deps, before.id))! });
    const refusal = await client.getAccessToken().then(
      () => undefined,
      (err: { response?: { data?: { error?: string } } }) => err.response?.data?.error,
    );
    expect(refusal).toBe('invalid_grant');
    const message = 'Google refused the refresh token (invalid_grant): the owner must consent again';
    await markNeedsConsent(deps.db, before.id, message, new Date(clock.now()).toISOString());
    expect(await account('partner@advisor.example')).toMatchObject({ state: 'needs_consent', last_error: message, history_id: '18446744073709551999', backfill_history_id: '77' });

    await clock.advance(6 * 3600_000);
    await connect('partner@advisor.example', admin.auth);
    const after = await account('partner@advisor.example');
    expect(after).toMatchObject({
      id: before.id,
      auth_method: 'oauth',
      state: 'idle',
      last_error: null,
      history_id: '18446744073709551999',
      backfill_history_id: '77',
      backfill_page_token: 'page-3',
    });
    const newToken = google.issuedRefreshTokens.at(-1)!;
    expect(newToken).not.toBe(oldToken);
    expect(await refreshTokenFor(deps.db, deps, before.id)).toBe(newToken);
  });

  it('a re-consent during a running sync leaves the state to that run', async () => {
    const admin = await userWithToken(deps, { role: 'admin' });
    await connect('partner@advisor.example', admin.auth);
    await run(deps.db, "UPDATE email_accounts SET state = 'syncing'");
    await connect('partner@advisor.example', admin.auth);
    expect((await account('partner@advisor.example')).state).toBe('syncing');
  });
});

describe('refreshTokenFor', () => {
  it('is null for an account without a stored token, and NOT_FOUND for no account', async () => {
    const now = new Date(clock.now()).toISOString();
    await run(deps.db, "INSERT INTO email_accounts (email, auth_method, state, created_at, updated_at) VALUES ('x@advisor.example', 'oauth', 'needs_consent', ?, ?)", [now, now]);
    const row = await account('x@advisor.example');
    expect(await refreshTokenFor(deps.db, deps, row.id)).toBeNull();
    await expect(refreshTokenFor(deps.db, deps, row.id + 100)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a token sealed under another secret key stops the mailbox as needs_consent', async () => {
    const now = new Date(clock.now()).toISOString();
    const foreign = encryptSecret({ dataDir: deps.dataDir, secretKeyHex: 'e'.repeat(64) }, 'refresh-token');
    await run(deps.db, "INSERT INTO email_accounts (email, auth_method, refresh_token_enc, created_at, updated_at) VALUES ('x@advisor.example', 'oauth', ?, ?, ?)", [foreign, now, now]);
    const err = await refreshTokenFor(deps.db, deps, (await account('x@advisor.example')).id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GmailStop);
    expect(err).toMatchObject({ state: 'needs_consent' });
    expect((err as Error).message).toContain('CRM_SECRET_KEY');
  });
});

describe('small print', () => {
  it('mailbox comparison folds case and gmail.com dots, but not +tags or other domains’ dots', () => {
    expect(sameMailbox('Ann@Fund.Example', 'ann@fund.example')).toBe(true);
    expect(sameMailbox('j.doe@gmail.com', 'jdoe@googlemail.com')).toBe(true);
    expect(sameMailbox('j.doe@fund.example', 'jdoe@fund.example')).toBe(false);
    expect(sameMailbox('ann+x@fund.example', 'ann@fund.example')).toBe(false);
  });

  it('the consent page escapes what it shows', () => {
    const html = consentPage(false, 'Gmail not connected', '<script>alert("x")</script> & \'q\'');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;');
  });
});
