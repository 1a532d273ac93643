// Begin per-user OAuth consent for one mailbox: answers the Google consent URL, carrying a
// signed single-use state bound to the requesting team member and the address, valid for
// 10 minutes. Runs on GET /api/email/oauth/start (an admin, or the member whose address it
// is). Safe to run twice: each run issues a fresh, independent link.
import { z } from 'zod';
import { one } from '../lib/db/client.js';
import { AppError, gmailDisabled, validation } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { consentUrl, issueState, requireOAuthConfig } from '../lib/auth/consent.js';
import { withSecretKey } from '../lib/auth/secrets.js';
import { normalizeAddress } from '../lib/mail/address.js';

const Email = z.string({ message: 'email is required' }).trim().toLowerCase().email('email must be an email address');

// The address is read inside run, not by the schema: with Gmail off every /api/email/ route
// answers 503, whatever the query holds, once the caller's role is settled.
const OauthStartInput = z.object({ email: z.unknown().optional() });

interface OauthStartResult {
  url: string;
  email: string;
  expires_at: string;
}

export const oauthStart = defineFunction({
  name: 'oauthStart',
  input: OauthStartInput,
  run: async (deps, input, ctx): Promise<OauthStartResult> => {
    const asked = Email.safeParse(input.email);
    const email = asked.success ? asked.data : null;
    let userId: number;
    if (ctx.actor) {
      const own = email !== null && normalizeAddress(ctx.actor.email) === normalizeAddress(email);
      // A member may ask for their own address only; a valid other address is refused before
      // the gate, and a missing or malformed one is refused below, after it.
      if (ctx.actor.role !== 'admin' && email !== null && !own) {
        throw new AppError('FORBIDDEN', 'a team member may start consent only for their own address; ask an admin for another mailbox');
      }
      userId = ctx.actor.id;
    } else {
      // The command line is trusted like an admin; the state still needs a person to bind to.
      const admin = await one<{ id: number }>(deps.db, "SELECT id FROM users WHERE role = 'admin' AND disabled = 0 ORDER BY id LIMIT 1");
      if (!admin) throw new AppError('CONFLICT', 'no enabled admin exists to bind the consent link to; create one first');
      userId = admin.id;
    }
    // After the permission check, so a member learns nothing about the integration from a 503.
    if (!deps.config.gmail.enabled) {
      throw gmailDisabled();
    }
    if (email === null) throw validation('email', asked.error?.issues[0]?.message ?? 'email is required');
    requireOAuthConfig(deps.config);
    const issued = await withSecretKey(() => issueState(deps, userId, email));
    const url = consentUrl(deps.config, email, issued.state);
    deps.log.info({ event: 'oauth.started', email, user_id: userId }, 'consent link issued');
    return { url, email, expires_at: issued.expires_at };
  },
});
