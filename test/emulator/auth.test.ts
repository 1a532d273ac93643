import { generateKeyPairSync } from 'node:crypto';
import { OAuth2Client } from 'google-auth-library';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCOPE_READONLY, UNAUTHORIZED_CLIENT_DESCRIPTION, type ServiceAccountKey } from '../../tools/gmail-emulator/index.js';
import { failure, harness, mail, redirectTokenUrl, type Harness } from './helpers.js';

const PAT = 'pat@fund.test';
const LEE = 'lee@fund.test';

describe('token endpoint: service account with domain-wide delegation', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({}, [PAT, LEE]);
  });
  afterEach(() => h.close());

  it('a signed JWT with sub gets a token that reads that mailbox as me and by address', async () => {
    h.emu.control.deliver(mail(), { to: [PAT] });
    const g = h.dwd(PAT);
    const me = await g.users.getProfile({ userId: 'me' });
    expect(me.data).toMatchObject({ emailAddress: PAT, messagesTotal: 1, threadsTotal: 1 });
    const byAddress = await g.users.getProfile({ userId: 'Pat@Fund.test' });
    expect(byAddress.data.emailAddress).toBe(PAT);
  });

  it('a token for one mailbox cannot read another: 403 Delegation denied', async () => {
    const err = await failure(h.dwd(PAT).users.getProfile({ userId: LEE }));
    expect(err.response?.status).toBe(403);
    expect(err.response?.data.error.message).toBe(`Delegation denied for ${LEE}`);
  });

  it('a mailbox not authorised for delegation gets 401 unauthorized_client in Google\'s words', async () => {
    h.emu.control.setDwdAuthorised(LEE, false);
    const err = await failure(h.dwd(LEE).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(401);
    expect(err.response?.data).toEqual({ error: 'unauthorized_client', error_description: UNAUTHORIZED_CLIENT_DESCRIPTION });
    expect(UNAUTHORIZED_CLIENT_DESCRIPTION).toBe(
      'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
    );
    expect(h.emu.control.stats().token['jwt-bearer:unauthorized_client']).toBe(1);
  });

  it('a service account without delegation is refused for every mailbox', async () => {
    h.emu.control.setServiceAccountDwd(h.key.client_email, false);
    const err = await failure(h.dwd(PAT).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(401);
    expect(err.response?.data.error).toBe('unauthorized_client');
  });

  it('a scope the client is not authorised for is refused like an unauthorised client', async () => {
    const err = await failure(h.gmailFor(h.jwt(PAT, ['https://www.googleapis.com/auth/gmail.modify'])).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(401);
    expect(err.response?.data.error).toBe('unauthorized_client');
  });

  it('an unknown or suspended mailbox gets 400 invalid_grant "Invalid email or User ID"', async () => {
    const unknown = await failure(h.dwd('nobody@fund.test').users.getProfile({ userId: 'me' }));
    expect(unknown.response?.status).toBe(400);
    expect(unknown.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid email or User ID' });
    h.emu.control.setSuspended(LEE, true);
    const suspended = await failure(h.dwd(LEE).users.getProfile({ userId: 'me' }));
    expect(suspended.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid email or User ID' });
  });

  it('a JWT signed with a key the service account does not have: 400 "Invalid JWT Signature."', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged: ServiceAccountKey = { ...h.key, private_key: other };
    const err = await failure(h.gmailFor(h.jwt(PAT, [SCOPE_READONLY], forged)).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
  });

  it('a registered public key verifies JWTs signed with its private half', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const reg = h.emu.control.registerServiceAccount({
      client_email: 'byo@other-project.iam.gserviceaccount.com',
      public_key: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    expect(reg).not.toHaveProperty('private_key');
    const key = { ...h.key, client_email: reg.client_email, private_key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    const res = await h.gmailFor(h.jwt(PAT, [SCOPE_READONLY], key)).users.getProfile({ userId: 'me' });
    expect(res.data.emailAddress).toBe(PAT);
  });

  it('a box whose clock is far ahead of Google\'s gets invalid_grant "Invalid JWT…"', async () => {
    h.emu.control.advanceTime(2 * 3600_000);
    const err = await failure(h.dwd(PAT).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data.error).toBe('invalid_grant');
    expect(err.response?.data.error_description).toMatch(/^Invalid JWT: Token must be a short-lived token/);
  });

  it('an access token expires after its lifetime: Gmail answers 401 authError', async () => {
    const g = h.dwd(PAT);
    await g.users.getProfile({ userId: 'me' });
    h.emu.control.advanceTime(3600_000);
    const err = await failure(g.users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(401);
    expect(err.response?.data.error.errors[0]).toMatchObject({ reason: 'authError', domain: 'global', location: 'Authorization' });
    expect(err.response?.data.error.status).toBe('UNAUTHENTICATED');
    expect(h.emu.control.stats().unauthenticated).toBe(1);
  });

  it('an unknown bearer token gets 401', async () => {
    const res = await fetch(`${h.emu.url}/gmail/v1/users/me/profile`, { headers: { authorization: 'Bearer ya29.made-up' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(401);
  });

  it('a service account\'s own token (no sub) reaches no mailbox: 400 failedPrecondition', async () => {
    const err = await failure(h.gmailFor(h.jwt(undefined)).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data.error.errors[0].reason).toBe('failedPrecondition');
  });

  it('a user without Gmail gets 400 failedPrecondition "Mail service not enabled"', async () => {
    h.emu.control.updateMailbox(LEE, { hasGmail: false });
    const err = await failure(h.dwd(LEE).users.labels.list({ userId: 'me' }));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data.error.message).toBe('Mail service not enabled');
  });

  it('the token endpoint names an unsupported grant type', async () => {
    const res = await fetch(h.emu.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'password' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'unsupported_grant_type', error_description: 'Invalid grant_type: password' });
  });
});

describe('per-user OAuth: consent, code exchange, refresh', () => {
  let h: Harness;
  let client: OAuth2Client;
  let creds: { client_id: string; client_secret: string };
  const redirectUri = 'http://127.0.0.1:8080/api/email/oauth/callback';

  beforeEach(async () => {
    h = await harness({}, [PAT, LEE]);
    creds = h.emu.control.registerOAuthClient({ redirect_uris: [redirectUri] });
    client = new OAuth2Client({
      clientId: creds.client_id,
      clientSecret: creds.client_secret,
      redirectUri,
      endpoints: { oauth2TokenUrl: h.emu.tokenUrl, oauth2AuthBaseUrl: h.emu.authUrl },
    });
  });
  afterEach(() => h.close());

  async function consent(url: string): Promise<URL> {
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!);
  }

  it('consent redirects back with code and state; the code buys a refresh token that reads the mailbox', async () => {
    h.emu.control.setNextConsent({ email: LEE });
    const back = await consent(client.generateAuthUrl({ access_type: 'offline', prompt: 'consent', scope: [SCOPE_READONLY], state: 's-123' }));
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('state')).toBe('s-123');
    const { tokens } = await client.getToken(back.searchParams.get('code')!);
    expect(tokens.refresh_token).toMatch(/^1\/\//);
    expect(tokens.scope).toBe(SCOPE_READONLY);
    client.setCredentials(tokens);
    const g = h.gmailFor(client);
    expect((await g.users.getProfile({ userId: 'me' })).data.emailAddress).toBe(LEE);
    const err = await failure(g.users.getProfile({ userId: PAT }));
    expect(err.response?.status).toBe(403);
  });

  it('a code works once', async () => {
    h.emu.control.setNextConsent({ email: LEE });
    const back = await consent(client.generateAuthUrl({ access_type: 'offline', scope: [SCOPE_READONLY] }));
    const code = back.searchParams.get('code')!;
    await client.getToken(code);
    const err = await failure(client.getToken(code));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data.error).toBe('invalid_grant');
  });

  it('a user who denies comes back with error=access_denied and the state', async () => {
    h.emu.control.setNextConsent({ email: LEE, deny: true });
    const back = await consent(client.generateAuthUrl({ access_type: 'offline', scope: [SCOPE_READONLY], state: 'xyz' }));
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('xyz');
    expect(back.searchParams.has('code')).toBe(false);
  });

  it('an unregistered redirect URI is refused on the consent page', async () => {
    const other = new OAuth2Client({
      clientId: creds.client_id,
      clientSecret: creds.client_secret,
      redirectUri: 'http://evil.example/cb',
      endpoints: { oauth2TokenUrl: h.emu.tokenUrl, oauth2AuthBaseUrl: h.emu.authUrl },
    });
    h.emu.control.setNextConsent({ email: LEE });
    const res = await fetch(other.generateAuthUrl({ scope: [SCOPE_READONLY] }), { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('redirect_uri_mismatch');
  });

  it('without prompt=consent a second offline consent gives no new refresh token', async () => {
    h.emu.control.setNextConsent({ email: LEE });
    const first = await consent(client.generateAuthUrl({ access_type: 'offline', scope: [SCOPE_READONLY] }));
    expect((await client.getToken(first.searchParams.get('code')!)).tokens.refresh_token).toBeTruthy();
    h.emu.control.setNextConsent({ email: LEE });
    const second = await consent(client.generateAuthUrl({ access_type: 'offline', scope: [SCOPE_READONLY] }));
    expect((await client.getToken(second.searchParams.get('code')!)).tokens.refresh_token).toBeFalsy();
  });

  it('refresh works until the refresh token is revoked, then 400 invalid_grant "Token has been expired or revoked."', async () => {
    h.emu.control.setNextConsent({ email: LEE });
    const back = await consent(client.generateAuthUrl({ access_type: 'offline', prompt: 'consent', scope: [SCOPE_READONLY] }));
    const { tokens } = await client.getToken(back.searchParams.get('code')!);
    const fresh = new OAuth2Client({ clientId: creds.client_id, clientSecret: creds.client_secret, endpoints: { oauth2TokenUrl: h.emu.tokenUrl } });
    fresh.setCredentials({ refresh_token: tokens.refresh_token });
    expect((await h.gmailFor(fresh).users.getProfile({ userId: 'me' })).data.emailAddress).toBe(LEE);

    expect(h.emu.control.revokeRefreshTokens({ email: LEE })).toBe(1);
    const again = new OAuth2Client({ clientId: creds.client_id, clientSecret: creds.client_secret, endpoints: { oauth2TokenUrl: h.emu.tokenUrl } });
    again.setCredentials({ refresh_token: tokens.refresh_token });
    const err = await failure(h.gmailFor(again).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    // The access token minted from the revoked refresh token dies with it.
    const stale = await failure(h.gmailFor(fresh).users.getProfile({ userId: 'me' }));
    expect(stale.response?.status).toBe(401);
  });

  it('a wrong client secret is refused with invalid_client', async () => {
    const wrong = new OAuth2Client({ clientId: creds.client_id, clientSecret: 'nope', redirectUri, endpoints: { oauth2TokenUrl: h.emu.tokenUrl } });
    wrong.setCredentials({ refresh_token: '1//whatever' });
    const err = await failure(h.gmailFor(wrong).users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(401);
    expect(err.response?.data.error).toBe('invalid_client');
  });

  it('the JWT client can also be pointed at the emulator through its transporter', async () => {
    const jwt = h.jwt(PAT);
    redirectTokenUrl(jwt, h.emu.tokenUrl);
    const t = await jwt.getAccessToken();
    expect(t.token).toMatch(/^ya29\./);
  });
});
