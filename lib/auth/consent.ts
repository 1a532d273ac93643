// Per-user OAuth mailboxes: the consent URL and its signed single-use state, the code
// exchange, the check that the mailbox granted is the one asked for, and the encrypted
// refresh token on the account row; refreshTokenFor and markNeedsConsent serve the sync engine.
// The account row itself is written through lib/capture/accounts.ts, its only writer.
import { createHash, randomBytes } from 'node:crypto';
import { gmail } from '@googleapis/gmail';
import type { OAuth2Client } from 'google-auth-library';
import type { Config } from '../core/config.js';
import { one, run, type Db } from '../db/client.js';
import type { Deps } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import { isoAt, nowIso } from '../core/time.js';
import { createOAuthClient, GMAIL_READONLY_SCOPE } from '../gmail/tokens.js';
import { normalizeAddress } from '../mail/address.js';
import { GmailStop } from '../gmail/types.js';
import { markNeedsConsentState, upsertOAuthAccount } from '../capture/accounts.js';
import { decryptSecret, encryptSecret, SecretDecryptError, signValue, verifySignature, withSecretKey } from './secrets.js';

const STATE_TTL_MS = 10 * 60_000;
/** Used or expired states are kept this long (for a clear "already used" answer), then dropped. */
const STATE_RETENTION_MS = 24 * 3600_000;

export { GMAIL_READONLY_SCOPE };

const OAUTH_VARS = ['CRM_GMAIL_OAUTH_CLIENT_ID', 'CRM_GMAIL_OAUTH_CLIENT_SECRET', 'CRM_GMAIL_OAUTH_REDIRECT_URL'] as const;

type OAuthClientConfig = NonNullable<Config['gmail']['oauth']>;

/** The OAuth client settings, or a CONFLICT naming what the operator must set. */
export function requireOAuthConfig(config: Config): OAuthClientConfig {
  if (!config.gmail.oauth) {
    throw new AppError(
      'CONFLICT',
      `the OAuth client is not configured: set ${OAUTH_VARS.join(', ')} (all three are required) and restart`,
    );
  }
  return config.gmail.oauth;
}

/**
 * The shared OAuth client (configured endpoints, gaxios' own retry off: an authorization code
 * is single-use, so a failed exchange is reported, never repeated).
 */
export function oauthClient(config: Config): OAuth2Client {
  requireOAuthConfig(config);
  return createOAuthClient(config);
}

// ---- state: signed, bound to user + address, expiring, recorded so it is accepted once ----

interface StatePayload {
  v: 1;
  n: string;
  u: number;
  e: string;
  x: number;
}

interface VerifiedState {
  nonce: string;
  userId: number;
  email: string;
  /** The consent was asked for by an admin (who may re-enrol an unenrolled mailbox by it). */
  byAdmin: boolean;
}

export async function issueState(deps: Deps, userId: number, email: string): Promise<{ state: string; expires_at: string }> {
  const now = deps.clock.now();
  const payload: StatePayload = { v: 1, n: randomBytes(16).toString('base64url'), u: userId, e: email, x: now + STATE_TTL_MS };
  await run(deps.db, 'DELETE FROM oauth_states WHERE expires_at < ?', [isoAt(now - STATE_RETENTION_MS)]);
  await run(deps.db, 'INSERT INTO oauth_states (nonce, user_id, email, expires_at) VALUES (?, ?, ?, ?)', [
    payload.n,
    userId,
    email,
    isoAt(payload.x),
  ]);
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return { state: `${body}.${signValue(deps.config, body)}`, expires_at: isoAt(payload.x) };
}

const refused = (message: string) => new AppError('VALIDATION', message, { field: 'state' });

/**
 * Check a state from the callback and spend it. Refuses, in this order: anything not signed
 * by this service's key (tampered or foreign), an expired one, one already used or never
 * recorded, and one whose user has since been removed, disabled or lost the right to ask.
 */
export async function consumeState(deps: Deps, state: string): Promise<VerifiedState> {
  const [body, sig, ...rest] = state.split('.');
  if (!body || !sig || rest.length) throw refused('the consent link is malformed (state); start again from the CRM');
  if (!verifySignature(deps.config, body, sig)) {
    throw refused('the consent link was not issued by this service or was altered (state signature does not match); start again from the CRM');
  }
  let p: StatePayload;
  try {
    p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StatePayload;
  } catch {
    throw refused('the consent link is malformed (state); start again from the CRM');
  }
  if (p.v !== 1 || typeof p.n !== 'string' || typeof p.u !== 'number' || typeof p.e !== 'string' || typeof p.x !== 'number') {
    throw refused('the consent link is malformed (state); start again from the CRM');
  }
  const now = deps.clock.now();
  if (now >= p.x) throw refused('the consent link expired (links are valid for 10 minutes); ask for a new one');
  const spent = await run(
    deps.db,
    'UPDATE oauth_states SET used_at = ? WHERE nonce = ? AND user_id = ? AND email = ? AND used_at IS NULL',
    [isoAt(now), p.n, p.u, p.e],
  );
  if (spent.rowsAffected !== 1) {
    const known = await one(deps.db, 'SELECT used_at FROM oauth_states WHERE nonce = ?', [p.n]);
    throw refused(known ? 'the consent link was already used; ask for a new one' : 'the consent link is not known to this service; ask for a new one');
  }
  const user = await one<{ role: string; email: string | null; disabled: number }>(
    deps.db,
    'SELECT role, email, disabled FROM users WHERE id = ?',
    [p.u],
  );
  if (!user || user.disabled) throw refused('the team member who asked for this consent no longer exists or is disabled');
  if (user.role !== 'admin' && normalizeAddress(user.email) !== normalizeAddress(p.e)) {
    throw new AppError('FORBIDDEN', `the team member who asked for this consent may no longer connect ${p.e}`);
  }
  return { nonce: p.n, userId: p.u, email: p.e, byAdmin: user.role === 'admin' };
}

export function consentUrl(config: Config, email: string, state: string): string {
  return oauthClient(config).generateAuthUrl({
    access_type: 'offline',
    prompt: 'consent',
    scope: GMAIL_READONLY_SCOPE,
    login_hint: email,
    state,
  });
}

// ---- the code exchange and the mailbox check ----

interface GrantedMailbox {
  emailAddress: string;
  refreshToken: string;
}

/** What Google's token endpoint said, as its OAuth error code (never the request, which holds the code). */
function oauthErrorCode(err: unknown): { status?: number; code?: string } {
  const e = err as { response?: { status?: number; data?: unknown } };
  const data = e.response?.data as { error?: unknown } | undefined;
  const code = typeof data?.error === 'string' && /^[a-z_]{1,64}$/.test(data.error) ? data.error : undefined;
  return { status: e.response?.status, code };
}

/**
 * Exchange the code, then ask Gmail whose mailbox the grant opens. The tokens live only in
 * this call: nothing is stored here, so a refusal leaves nothing behind.
 */
export async function exchangeCode(config: Config, code: string): Promise<GrantedMailbox> {
  const client = oauthClient(config);
  let tokens;
  try {
    tokens = (await client.getToken(code)).tokens;
  } catch (err) {
    const { status, code: oauthCode } = oauthErrorCode(err);
    if (oauthCode === 'invalid_grant') {
      throw new AppError('VALIDATION', 'Google refused the authorization code (already used or expired); start again from the CRM', { field: 'code' });
    }
    const what = [status ? `HTTP ${status}` : 'no answer', oauthCode].filter(Boolean).join(', ');
    // No `cause`: the gaxios error carries the request body, which holds the code and client secret.
    throw new AppError('UPSTREAM', `the token endpoint (CRM_GOOGLE_TOKEN_URL) did not exchange the code (${what})`);
  }
  if (typeof tokens.scope === 'string' && !tokens.scope.split(/\s+/).includes(GMAIL_READONLY_SCOPE)) {
    throw new AppError(
      'VALIDATION',
      'the consent did not include read access to Gmail (the box "View your email messages and settings" was left unticked); start again and allow it',
    );
  }
  if (!tokens.refresh_token) {
    throw new AppError(
      'VALIDATION',
      'Google issued no refresh token because this app already had access to the mailbox; remove the app\'s access at https://myaccount.google.com/permissions and start again',
    );
  }
  if (!tokens.access_token) throw new AppError('UPSTREAM', 'the token endpoint answered without an access token');
  client.setCredentials({ access_token: tokens.access_token, expiry_date: tokens.expiry_date ?? null });
  const api = gmail({ version: 'v1', auth: client, rootUrl: config.gmail.apiRootUrl, retry: false });
  let emailAddress: string | null | undefined;
  try {
    emailAddress = (await api.users.getProfile({ userId: 'me' })).data.emailAddress;
  } catch (err) {
    const status = (err as { response?: { status?: number } }).response?.status;
    throw new AppError('UPSTREAM', `Gmail did not answer users.getProfile for the new grant (${status ? `HTTP ${status}` : 'no answer'})`);
  }
  if (!emailAddress) throw new AppError('UPSTREAM', 'Gmail answered users.getProfile without an email address');
  return { emailAddress, refreshToken: tokens.refresh_token };
}

// ---- the account row ----

/**
 * Enrol the mailbox as an OAuth account, or switch an existing row to OAuth with the new token
 * (a paused one stays paused). A mailbox an admin unenrolled stays unenrolled unless the
 * consent was asked for by an admin: unenrolling is the admin's decision, and its owner
 * clicking an old or new consent link must not undo it (FORBIDDEN, nothing stored). history_id and the
 * backfill checkpoint are left alone so a re-consent resumes where sync stopped; a run in
 * progress keeps its `syncing` state and settles it itself.
 */
export async function storeOAuthAccount(
  deps: Deps,
  email: string,
  refreshToken: string,
  opts: { byAdmin?: boolean } = {},
): Promise<{ id: number; state: string; reenrolled: boolean }> {
  const row = await upsertOAuthAccount(deps.db, email, sealToken(deps, refreshToken), nowIso(deps.clock), opts);
  if (!row) {
    throw new AppError('FORBIDDEN', `${email} was unenrolled by an admin; nothing was stored. Ask an admin to enrol it again`);
  }
  return row;
}

function sealToken(deps: Deps, token: string): string {
  return withSecretKey(() => encryptSecret(deps.config, token));
}

/**
 * Google refused the stored refresh token (invalid_grant: revoked, expired, password changed).
 * Only this mailbox stops; its sync position stays for when the owner consents again.
 */
export async function markNeedsConsent(db: Db, accountId: number, message: string, nowIso: string): Promise<void> {
  await markNeedsConsentState(db, accountId, message, nowIso);
}

/**
 * The decrypted refresh token of an OAuth account, or null when none is stored (the owner has
 * not consented yet). A token that no longer decrypts (CRM_SECRET_KEY changed, key file lost)
 * is as good as revoked: the mailbox needs consent again.
 */
export async function refreshTokenFor(db: Db, deps: Pick<Deps, 'config'>, accountId: number): Promise<string | null> {
  const row = await one<{ refresh_token_enc: string | null }>(db, 'SELECT refresh_token_enc FROM email_accounts WHERE id = ?', [accountId]);
  if (!row) throw new AppError('NOT_FOUND', `email account ${accountId} not found`);
  if (!row.refresh_token_enc) return null;
  const sealed = row.refresh_token_enc;
  try {
    return withSecretKey(() => decryptSecret(deps.config, sealed));
  } catch (err) {
    if (err instanceof SecretDecryptError) {
      throw new GmailStop(
        'needs_consent',
        'the stored refresh token cannot be decrypted with the current secret key (was CRM_SECRET_KEY or secrets/secret.key changed?); the mailbox owner must consent again',
        err,
      );
    }
    throw err;
  }
}

// ---- the page the mailbox owner sees after Google sends the browser back ----

const PAGE_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.3rem}.ok{color:#17632a}.no{color:#9b1c1c}';
const STYLE_HASH = createHash('sha256').update(PAGE_STYLE).digest('base64');

/** No scripts, no external resources, nothing but one hashed stylesheet. */
export const CONSENT_PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

export function consentPage(ok: boolean, heading: string, message: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(heading)}</title>`,
    `<style>${PAGE_STYLE}</style>`,
    '</head><body>',
    `<h1 class="${ok ? 'ok' : 'no'}">${escapeHtml(heading)}</h1>`,
    `<p>${escapeHtml(message)}</p>`,
    '</body></html>',
  ].join('\n');
}
