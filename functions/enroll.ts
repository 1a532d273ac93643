// Enrol one mailbox for capture. Runs on POST /api/email/accounts/enroll (admin); running it twice
// is safe (the second call answers the existing account, created: false).
import { z } from 'zod';
import { accountView, type AccountRow } from '../lib/capture/accounts.js';
import { one, run } from '../lib/db/client.js';
import type { Deps } from '../lib/core/deps.js';
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

export async function enrollOne(deps: Deps, email: string, method: 'dwd' | 'oauth') {
  if (method === 'dwd' && !inWorkspace(deps, email)) {
    throw new AppError('VALIDATION', `${email} is not in the workspace domain (${deps.config.gmail.workspaceDomains.join(', ') || 'CRM_GMAIL_WORKSPACE_DOMAIN is unset'}); domain-wide delegation reaches only the firm's own mailboxes — use auth_method "oauth" for others`, { field: 'email' });
  }
  const now = nowIso(deps.clock);
  const existing = await one<AccountRow>(deps.db, 'SELECT * FROM email_accounts WHERE email = ?', [email]);
  if (existing && !existing.unenrolled_at) return { account: accountView(existing), created: false };
  // An oauth mailbox waits for its owner's consent before the first sync.
  const state = method === 'oauth' && !existing?.refresh_token_enc ? 'needs_consent' : 'idle';
  if (existing) {
    await run(deps.db, 'UPDATE email_accounts SET unenrolled_at = NULL, sync_enabled = 1, auth_method = ?, state = ?, last_error = NULL, updated_at = ? WHERE id = ?', [method, state, now, existing.id]);
  } else {
    await run(deps.db, 'INSERT INTO email_accounts (email, auth_method, sync_enabled, state, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?)', [email, method, state, now, now]);
  }
  const row = (await one<AccountRow>(deps.db, 'SELECT * FROM email_accounts WHERE email = ?', [email]))!;
  deps.log.info({ event: 'accounts.enrolled', account: email, auth_method: method }, 'mailbox enrolled');
  return { account: accountView(row), created: true };
}

export const enroll = defineFunction({
  name: 'enroll',
  input: EnrollInput,
  run: async (deps, input) => enrollOne(deps, input.email, input.auth_method ?? deps.config.gmail.authMethod),
});
