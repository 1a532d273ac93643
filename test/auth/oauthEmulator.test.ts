// The whole per-user OAuth story against the Gmail emulator on loopback, with the real Gmail
// client and sync engine: consent through the emulator's consent stand-in, a sync, revocation
// → needs_consent, re-consent → the next sync continues from the stored historyId.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { FakeClock } from '../helpers/clock.js';
import { one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { createGmailFactory, type PacedGmailApi } from '../../lib/gmail/client.js';
import { refreshTokenFor } from '../../lib/auth/consent.js';
import { syncMailbox } from '../../functions/syncMailbox.js';
import { startEmulator, type Emulator } from '../../tools/gmail-emulator/index.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';
import { drive } from '../mocks/gmail.js';

const OWNER = 'partner@advisor.example';
const REDIRECT = 'http://127.0.0.1:8080/api/email/oauth/callback';

let emu: Emulator;
let deps: TestDeps;
let clock: FakeClock;
let app: ReturnType<typeof createApp>;
const clients: PacedGmailApi[] = [];
const answers: string[] = [];
let seq = 0;

beforeEach(async () => {
  clock = new FakeClock();
  emu = await startEmulator({ clock });
  emu.control.createMailbox(OWNER);
  const creds = emu.control.registerOAuthClient({ redirect_uris: [REDIRECT] });
  clients.length = 0;
  answers.length = 0;
  deps = await makeDeps({
    clock,
    env: {
      CRM_GMAIL_INTEGRATION_ENABLED: 'true',
      CRM_GMAIL_AUTH_METHOD: 'oauth',
      CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.example',
      CRM_GMAIL_OAUTH_CLIENT_ID: creds.client_id,
      CRM_GMAIL_OAUTH_CLIENT_SECRET: creds.client_secret,
      CRM_GMAIL_OAUTH_REDIRECT_URL: REDIRECT,
      CRM_GOOGLE_AUTH_URL: emu.authUrl,
      CRM_GOOGLE_TOKEN_URL: emu.tokenUrl,
      CRM_GMAIL_API_ROOT_URL: emu.url,
    },
    gmail: (d) => {
      const factory = createGmailFactory({ config: d.config, clock: d.clock, log: d.log, db: d.db, random: () => 0 });
      return (account) => {
        const c = factory(account);
        clients.push(c);
        return c;
      };
    },
  });
  app = createApp(deps);
});
afterEach(async () => {
  await deps.cleanup();
  await emu.close();
});

function deliver(subject: string): void {
  const raw = [
    'From: Ann Investor <ann@investor.example>',
    `To: ${OWNER}`,
    `Subject: ${subject}`,
    'Date: Thu, 15 Jan 2026 12:00:00 +0000',
    `Message-ID: <oauth-e2e-${++seq}@investor.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello.',
    '',
  ].join('\r\n');
  emu.control.deliver(raw, { to: [OWNER] });
}

async function request(pathAndQuery: string, headers: Record<string, string> = {}) {
  const res = await app.request(pathAndQuery, { headers });
  const text = await res.text();
  answers.push(JSON.stringify(Object.fromEntries(res.headers)) + text);
  return { res, text };
}

/** The admin asks for a link, the owner's browser goes through the emulator's consent page and comes back. */
async function consent(auth: Record<string, string>) {
  const start = await request(`/api/email/oauth/start?email=${encodeURIComponent(OWNER)}`, auth);
  expect(start.res.status).toBe(302);
  const page = await fetch(start.res.headers.get('location')!, { redirect: 'manual' });
  expect(page.status).toBe(302);
  const back = new URL(page.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
  return request(`${back.pathname}${back.search}`);
}

async function sync() {
  return drive(clock, invoke(deps, syncMailbox, { email: OWNER }), () => clients.some((c) => c.inFlight > 0));
}

const account = async () =>
  (await one<{ id: number; auth_method: string; state: string; history_id: string | null; last_error: string | null; refresh_token_enc: string | null }>(
    deps.db,
    'SELECT * FROM email_accounts WHERE email = ?',
    [OWNER],
  ))!;

const storedEmails = async () => (await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages'))!.n;

it('consent via the emulator enrols the mailbox, sync reads it, revocation → needs_consent, re-consent resumes from the stored historyId; the refresh token is never in clear', async () => {
  const admin = await userWithToken(deps, { role: 'admin', email: 'admin@fund.example' });
  deliver('first');

  const connected = await consent(admin.auth);
  expect(connected.res.status).toBe(200);
  expect(connected.text).toContain(`Gmail capture for ${OWNER} is connected; you can close this tab`);
  const enrolled = await account();
  expect(enrolled).toMatchObject({ auth_method: 'oauth', state: 'idle', last_error: null });
  const refreshToken = (await refreshTokenFor(deps.db, deps, enrolled.id))!;
  expect(refreshToken).toMatch(/^1\/\//);

  const first = await sync();
  expect(first).toMatchObject({ status: 'succeeded', kind: 'backfill' });
  expect(await storedEmails()).toBe(1);
  const historyId = (await account()).history_id;
  expect(historyId).toMatch(/^\d+$/);

  // The owner removes the app's access: Google answers invalid_grant from now on.
  expect(emu.control.revokeRefreshTokens({ email: OWNER })).toBe(1);
  deliver('second');
  const refused = await sync();
  expect(refused).toMatchObject({ status: 'failed' });
  const stopped = await account();
  expect(stopped.state).toBe('needs_consent');
  expect(stopped.last_error).toMatch(/invalid_grant/);
  expect(stopped.history_id).toBe(historyId);

  await clock.advance(3600_000);
  const again = await consent(admin.auth);
  expect(again.res.status).toBe(200);
  const restored = await account();
  expect(restored).toMatchObject({ id: enrolled.id, state: 'idle', last_error: null, history_id: historyId });
  const newToken = (await refreshTokenFor(deps.db, deps, enrolled.id))!;
  expect(newToken).not.toBe(refreshToken);

  const resumed = await sync();
  expect(resumed).toMatchObject({ status: 'succeeded', kind: 'incremental' });
  expect(await storedEmails()).toBe(2);
  expect(BigInt((await account()).history_id!)).toBeGreaterThan(BigInt(historyId!));

  const file = path.join(deps.dataDir, 'crm.db');
  const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
  const logs = deps.logs.text();
  for (const token of [refreshToken, newToken]) {
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(logs).not.toContain(token);
    for (const a of answers) expect(a).not.toContain(token);
  }
});

it('a consent for another mailbox at the emulator is refused and stores nothing', async () => {
  emu.control.createMailbox('someone@else.example');
  const admin = await userWithToken(deps, { role: 'admin' });
  emu.control.setNextConsent({ email: 'someone@else.example' });
  const r = await consent(admin.auth);
  expect(r.res.status).toBe(400);
  expect(r.text).toContain('someone@else.example, not partner@advisor.example');
  expect(await one(deps.db, 'SELECT * FROM email_accounts')).toBeUndefined();
});
