// Enrol one mailbox for capture. Runs on POST /api/email/accounts/enroll (admin); running it twice
// is safe (the second call answers the existing account, created: false). The row is written
// through lib/capture/accounts.ts, the only writer of account state.
import { z } from 'zod';
import { recordAudit } from '../lib/audit/audit.js';
import { accountView, enrollAccount, type AccountRow } from '../lib/capture/accounts.js';
import { one } from '../lib/db/client.js';
import type { CallContext, Deps } from '../lib/core/deps.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';

const EnrollInput = z.object({
  email: z.string().trim().toLowerCase().email('must be an email address'),
  auth_method: z.enum(['dwd', 'oauth']).nullish(),
});

export function inWorkspace(deps: Deps, email: string): boolean {
  const domain = email.slice(email.lastIndexOf('@') + 1);
  return deps.config.gmail.workspaceDomains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

export async function enrollOne(deps: Deps, email: string, method: 'dwd' | 'oauth', ctx: CallContext = {}) {
  if (method === 'dwd' && !inWorkspace(deps, email)) {
    throw new AppError('VALIDATION', `${email} is not in the workspace domain (${deps.config.gmail.workspaceDomains.join(', ') || 'CRM_GMAIL_WORKSPACE_DOMAIN is unset'}); domain-wide delegation reaches only the firm's own mailboxes — use auth_method "oauth" for others`, { field: 'email' });
  }
  const now = nowIso(deps.clock);
  const existing = await one<AccountRow>(deps.db, 'SELECT * FROM email_accounts WHERE email = ?', [email]);
  if (existing && !existing.unenrolled_at) return { account: accountView(existing), created: false };
  // An oauth mailbox waits for its owner's consent before the first sync.
  const state = method === 'oauth' && !existing?.refresh_token_enc ? 'needs_consent' : 'idle';
  await enrollAccount(deps.db, email, method, state, now, existing?.id);
  const row = (await one<AccountRow>(deps.db, 'SELECT * FROM email_accounts WHERE email = ?', [email]))!;
  deps.log.info({ event: 'accounts.enrolled', account: email, auth_method: method }, 'mailbox enrolled');
  await recordAudit(deps.db, { at: now, actor: ctx.actor, action: 'account.enroll', target: `account:${row.id}`, detail: { email, auth_method: method, reenrolled: !!existing } });
  return { account: accountView(row), created: true };
}

export const enroll = defineFunction({
  name: 'enroll',
  input: EnrollInput,
  run: async (deps, input, ctx) => enrollOne(deps, input.email, input.auth_method ?? deps.config.gmail.authMethod, ctx),
});
