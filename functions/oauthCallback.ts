// Finish per-user OAuth consent: Google sends the owner's browser back with `code` and
// `state` (or `error`). Spends the signed state, exchanges the code, checks with getProfile
// that the mailbox granted is the one asked for, and stores the refresh token encrypted on
// the account row (enrolling it, or switching it to OAuth without losing its sync position).
// Runs on GET /api/email/oauth/callback, which needs no bearer token: the state proves who
// asked. Running it twice with the same state is refused the second time.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { AppError, gmailDisabled, toAppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { consumeState, exchangeCode, requireOAuthConfig, storeOAuthAccount } from '../lib/auth/consent.js';
import { sameMailbox } from '../lib/mail/address.js';
import { withSecretKey } from '../lib/auth/secrets.js';

const param = (max: number) => z.string().max(max, `must be at most ${max} characters`).optional();

const OauthCallbackInput = z.object({
  code: param(2048),
  state: param(2048),
  error: param(256),
});

interface OauthCallbackResult {
  email: string;
  account_id: number;
  auth_method: 'oauth';
  state: string;
}

export const oauthCallback = defineFunction({
  name: 'oauthCallback',
  input: OauthCallbackInput,
  run: async (deps, input): Promise<OauthCallbackResult> => {
    let email: string | undefined;
    let userId: number | undefined;
    try {
      if (!deps.config.gmail.enabled) {
        throw gmailDisabled('nothing was stored');
      }
      if (!input.state) throw new AppError('VALIDATION', 'the consent answer has no state; start again from the CRM', { field: 'state' });
      const state = input.state;
      const verified = await withSecretKey(() => consumeState(deps, state));
      email = verified.email;
      userId = verified.userId;
      if (input.error !== undefined) {
        const reason = /^[a-z_]{1,64}$/.test(input.error) ? input.error : 'an unrecognised error';
        throw new AppError(
          'VALIDATION',
          reason === 'access_denied'
            ? `access to ${email} was not granted, so nothing was stored; to connect it, ask for a new link and choose Allow`
            : `Google answered with ${reason} instead of a consent for ${email}; nothing was stored`,
          { field: 'error' },
        );
      }
      if (!input.code) throw new AppError('VALIDATION', 'the consent answer has no code; start again from the CRM', { field: 'code' });
      requireOAuthConfig(deps.config);
      const granted = await exchangeCode(deps.config, input.code);
      if (!sameMailbox(granted.emailAddress, email)) {
        throw new AppError(
          'VALIDATION',
          `the consent was given for ${granted.emailAddress.toLowerCase()}, not ${email}; its token was discarded and nothing was stored. Ask for a new link and sign in to Google as ${email}`,
        );
      }
      const account = await storeOAuthAccount(deps, email, granted.refreshToken, { byAdmin: verified.byAdmin });
      deps.log.info({ event: 'oauth.connected', email, account_id: account.id, user_id: userId }, 'mailbox connected by OAuth');
      if (account.reenrolled) {
        await recordAudit(deps.db, { at: new Date(deps.clock.now()).toISOString(), actor: { id: verified.userId, username: '' }, action: 'account.enroll', target: `account:${account.id}`, detail: { email, auth_method: 'oauth', by_consent: true } });
      }
      return { email, account_id: account.id, auth_method: 'oauth', state: account.state };
    } catch (err) {
      const e = toAppError(err);
      const detail = e.code === 'INTERNAL' && !(err instanceof AppError) ? String(err instanceof Error ? err.message : err) : e.message;
      deps.log.warn({ event: 'oauth.refused', email, user_id: userId, error_code: e.code, reason: detail }, 'OAuth consent refused');
      throw err;
    }
  },
});
